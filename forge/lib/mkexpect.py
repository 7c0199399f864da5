#!/usr/bin/python3
"""mkexpect.py TEMPLATE.json FIXDIR KERNEL > expect.json

Fills the answer key of a forged dump from its crash oracle outputs. The template has the static
parts (scenario, mechanism, event, objects, functions, summary, notes) and, under root/victims,
`match`: a list of matchers {"comm": "x"} (exact task comm; every task with that comm) or
{"bt": "function"} (every task whose `foreach bt` stack contains the function). pids, comms and
cpus (the CPU crash shows for the task) are taken from crash.foreach-bt.txt / crash.ps.txt.
`"cpus": "tasks"` = the CPUs of the matched tasks; an explicit list is kept as is.
"""
import json, re, sys

tpl = json.load(open(sys.argv[1]))
fix = sys.argv[2]
kernel = sys.argv[3]

def blocks():
    txt = open(fix + '/crash.foreach-bt.txt', errors='replace').read()
    out = []
    for b in re.split(r'\n(?=PID: )', '\n' + txt):
        m = re.match(r'\s*PID: (\d+)\s+TASK: ([0-9a-f]+)\s+CPU: (\d+)\s+COMMAND: "(.*)"', b)
        if m:
            out.append({'pid': int(m.group(1)), 'task': m.group(2), 'cpu': int(m.group(3)), 'comm': m.group(4), 'text': b})
    return out

B = blocks()

def resolve(spec):
    tasks = []
    for m in spec.get('match', []):
        for b in B:
            if ('comm' in m and b['comm'] == m['comm']) or ('bt' in m and re.search(r'\b' + re.escape(m['bt']) + r'\b', b['text'])):
                if b['pid'] == 0 and 'swapper' in b['comm']:
                    continue
                if b not in tasks:
                    tasks.append(b)
    r = {k: v for k, v in spec.items() if k != 'match'}
    if spec.get('match'):
        r['pids'] = [t['pid'] for t in tasks]
        r['comms'] = [t['comm'] for t in tasks]
        r['tasks'] = ['0x' + t['task'] for t in tasks]
        if r.get('cpus') == 'tasks':
            r['cpus'] = sorted({t['cpu'] for t in tasks})
    return r

out = {'scenario': tpl['scenario'], 'kernel': kernel, 'mechanism': tpl['mechanism']}
if 'event' in tpl:
    out['event'] = tpl['event']
out['root'] = resolve(tpl['root'])
if 'victims' in tpl:
    out['victims'] = resolve(tpl['victims'])
for k in ('summary', 'notes'):
    if k in tpl:
        out[k] = tpl[k]
# addresses of the named objects as crash resolved them (crash.objects.txt from oracle.d/_coroner.sh)
try:
    addrs = {}
    for line in open(fix + '/crash.objects.txt', errors='replace'):
        m = re.match(r'^([0-9a-f]{16}) \(\w\) (\w+)', line.strip())
        if m:
            addrs[m.group(2)] = '0x' + m.group(1)
    if addrs:
        out['object_addrs'] = {o: addrs[o] for o in tpl['root'].get('objects', []) if o in addrs}
except FileNotFoundError:
    pass
# how the dump was made
import os
cmd = ''
try:
    cmd = open(fix + '/qemu-kernel-cmdline.txt').read()
except FileNotFoundError:
    pass
if os.path.exists(fix + '/vmcore-dmesg.txt'):
    knobs = [w for w in cmd.split() if w.split('=')[0] in ('hung_task_panic', 'softlockup_panic', 'unknown_nmi_panic', 'panic_on_oops')]
    vf = 'vmcore.split-1 + vmcore.split-2 (makedumpfile --split: open both)' if os.path.exists(fix + '/vmcore.split-1') else 'vmcore'
    if os.path.exists(fix + '/vmcore') and open(fix + '/vmcore', 'rb').read(4) == b'\x7fELF':
        vf = 'vmcore (ELF, makedumpfile -E)'
    out['capture'] = {'kind': 'kdump', 'file': vf, 'panic_knobs': knobs,
                      'makedumpfile': open(fix + '/makedumpfile.version.txt').read().strip() if os.path.exists(fix + '/makedumpfile.version.txt') else ''}
else:
    out['capture'] = {'kind': 'qemu-dump-guest-memory', 'file': 'vmcore.kdump'}
print(json.dumps(out, indent=2))
