/**
 * Pasted crash output: each fixture's crash.*.txt (crash's own output on the fixture's vmcore) parsed by shape, checked
 * against the lines of the same files (rows, frames, instructions, values), and the AT&T instruction reader against
 * the dump's own decoder on the same code.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { instructionFromText } from '../../../src/sources/text/att.ts';
import { looksLikeCrashText, parseCrashText } from '../../../src/sources/text/crash.ts';
import { fixtureDirs } from '../../helpers.ts';

const dirs = fixtureDirs().filter((d) => existsSync(join(d, 'crash.ps.txt')) && existsSync(join(d, 'crash.bt-a.txt')));
const read = (d: string, f: string) => (existsSync(join(d, f)) ? readFileSync(join(d, f), 'utf8') : '');

describe('crash text: fixtures', { skip: dirs.length ? false : 'no fixtures (../shared/fixtures)' }, () => {
  for (const d of dirs) {
    const name = d.split('/').slice(-2).join('/');
    it(`${name}: ps rows, bt -a stacks and registers`, () => {
      const ps = read(d, 'crash.ps.txt');
      const t = parseCrashText(ps + '\n' + read(d, 'crash.bt-a.txt') + '\n' + read(d, 'crash.sys.txt'), 'x');
      const rows = ps.split('\n').filter((l) => /^[> ]\s*\d+\s+\d+\s+\d+\s+[0-9a-f]+\s+[A-Z?]{2}\s/.test(l));
      // Idle tasks are one per CPU; the others are one per pid.
      assert.equal(t.tasks.size, rows.length);
      const active = rows.filter((l) => l.startsWith('>')).length;
      assert.equal([...t.tasks.values()].filter((x) => x.active).length, active);
      const cpus = Number(/CPUS: (\d+)/.exec(read(d, 'crash.sys.txt'))?.[1]);
      const bta = read(d, 'crash.bt-a.txt');
      const headers = bta.split('\n').filter((l) => /^PID: /.test(l)).length;
      assert.equal(t.stacks.length, headers);
      assert.equal(new Set(t.stacks.map((s) => s.cpu)).size, cpus, 'one bt -a block per CPU');
      const frames = bta.split('\n').filter((l) => /^\s*#\d+ \[/.test(l)).length;
      const exceptions = bta.split('\n').filter((l) => /\[exception RIP: /.test(l)).length;
      assert.equal(t.stacks.reduce((n, s) => n + s.frames.length, 0), frames + exceptions);
      // Every exception RIP frame carries the registers printed under it, RIP included.
      for (const s of t.stacks) for (const f of s.frames.filter((x) => x.exceptionRip)) assert.ok(f.regs?.values.rip, `${s.comm}: ${f.function} has its RIP`);
      assert.equal(t.sys.get('RELEASE')?.value, /RELEASE: (\S+)/.exec(read(d, 'crash.sys.txt'))?.[1]);
      assert.ok(looksLikeCrashText(bta));
    });
    for (const f of ['crash.dis-tick_nohz_next_event.txt', 'crash.dis-native_queued_spin_lock_slowpath.txt']) {
      if (!existsSync(join(d, f))) continue;
      it(`${name}: ${f} instructions`, () => {
        const text = read(d, f);
        const t = parseCrashText(text, f);
        const lines = text.split('\n').filter((l) => /^0x[0-9a-f]+ </.test(l));
        assert.equal(t.code.size, lines.length);
        assert.equal(t.rest.filter((r) => r.text.trim()).length, 0, 'source-line annotations are part of dis');
        const fn = /<([^>+]+)>:/.exec(lines[0])![1];
        assert.equal(t.symbols.get(fn), BigInt(/^(0x[0-9a-f]+)/.exec(lines[0])![1]));
      });
    }
    if (existsSync(join(d, 'crash.p-jiffies_seq.txt'))) {
      it(`${name}: printed values`, () => {
        const text = read(d, 'crash.p-jiffies_seq.txt');
        const t = parseCrashText(text, 'p');
        const seq = t.values.find((v) => v.name === 'jiffies_seq');
        assert.equal(seq?.leaves.find((l) => l.path === 'seqcount.sequence')?.value, /sequence = (\d+)/.exec(text)![1]);
        assert.equal(t.values.find((v) => v.name === 'jiffies')?.leaves[0].value, /^jiffies = \$\d+ = (\d+)/m.exec(text)![1]);
      });
    }
    if (existsSync(join(d, 'crash.uffd-ctx.txt'))) {
      it(`${name}: struct with -o member addresses, waitq, files`, () => {
        const text = read(d, 'crash.uffd-ctx.txt') + '\n' + read(d, 'crash.waitq-uffd.txt') + '\n' + read(d, 'crash.files-vmm.txt');
        const t = parseCrashText(text, 'uffd');
        const listing = t.values.find((v) => v.type === 'struct userfaultfd_ctx' && v.members.size);
        const first = /\[([0-9a-f]+)\] wait_queue_head_t fault_pending_wqh;/.exec(text)![1];
        assert.equal(listing?.members.get('fault_pending_wqh'), BigInt('0x' + first));
        const printed = t.values.find((v) => v.type === 'struct userfaultfd_ctx' && v.leaves.length);
        assert.equal(printed?.leaves.find((l) => l.path === 'released')?.value, /released = (\w+)/.exec(text)![1]);
        const pending = t.waitqs.find((w) => w.address === BigInt('0x' + first));
        const listed = /== waitq fault_pending_wqh[^\n]*\n((?:PID:[^\n]*\n)+)/.exec(text)![1].trim().split('\n').length;
        assert.equal(pending?.tasks.length, listed);
        assert.ok(t.files[0].fds.some((f) => /userfaultfd/.test(f.path)));
      });
    }
  }
});

describe('crash text: shapes', () => {
  it('prompts, mail quoting and indentation', () => {
    const text = [
      '> crash> bt -a',
      '> PID: 0        TASK: ffffffff8221aa40  CPU: 0    COMMAND: "swapper/0"',
      '>     [exception RIP: spin_here+21]',
      '>     RIP: ffffffff81168545  RSP: ffffffff82203e60  RFLAGS: 00000002',
      '>     RAX: 0000000000000825  RBX: 00000001c40aa800  RCX: 0000000000000000',
      '>     CS: 0010  SS: 0018',
      '>  #0 [ffffffff82203e80] caller_fn at ffffffff81169674',
      '> crash> ps',
      '>    PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM',
      '> >     0       0   0  ffffffff8221aa40  RU   0.0        0        0  [swapper/0]',
      '>       1       0   0  ffff88800120a100  IN   0.7     2260     1792  init',
    ].join('\n');
    const t = parseCrashText(text, 'mail');
    assert.equal(t.commands.map((c) => c.command).join(','), 'bt -a,ps');
    assert.equal(t.stacks.length, 1);
    assert.equal(t.stacks[0].command, 'bt -a');
    assert.equal(t.stacks[0].frames[0].function, 'spin_here');
    assert.equal(t.stacks[0].frames[0].regs?.irqsEnabled, false);
    assert.equal(t.symbols.get('spin_here'), 0xffffffff81168545n - 21n);
    assert.equal(t.tasks.get(1)?.state, 'IN');
    assert.equal(t.rest.filter((r) => r.text.trim()).length, 0);
  });

  it('AT&T text gives what the loop finder needs', () => {
    const load = instructionFromText(0xffffffffb1168545n, 'mov    0x189f4b5(%rip),%eax        # 0xffffffffb2a07a00 <jiffies_seq>', 0xffffffffb116854bn);
    assert.equal(load.mnemonic, 'mov');
    assert.equal(load.length, 6);
    assert.equal(load.memory?.ripRelative, 0xffffffffb2a07a00n);
    assert.equal(load.memory?.size, 4);
    assert.equal(load.writes, 'rax');
    // Without the comment, the RIP-relative address is the next instruction's plus the displacement.
    assert.equal(instructionFromText(0xffffffffb1168545n, 'mov    0x189f4b5(%rip),%eax', 0xffffffffb116854bn).memory?.ripRelative, 0xffffffffb116854bn + 0x189f4b5n);
    const branch = instructionFromText(0xffffffffb116854dn, 'jne    0xffffffffb1168543 <tick_nohz_next_event+19>');
    assert.equal(branch.flow, 'conditional-branch');
    assert.equal(branch.target, 0xffffffffb1168543n);
    const test = instructionFromText(1n, 'test   $0x1,%al');
    assert.equal(test.writes, undefined);
    const lock = instructionFromText(1n, 'lock cmpxchg %edx,(%rdi)');
    assert.equal(lock.mnemonic, 'cmpxchg');
    assert.equal(lock.memory?.base, 'rdi');
    assert.equal(instructionFromText(1n, 'call   *%rax').flow, 'indirect-call');
    assert.equal(instructionFromText(1n, 'ret').flow, 'return');
    assert.equal(instructionFromText(1n, 'mov    %gs:0x7e9d1c8c(%rip),%eax').memory?.segment, 'gs');
  });

  it('drgn stack traces, help -r, kmem -i, runq and mod are read, not left over', () => {
    const text = [
      '>>> prog.stack_trace(161)',
      '#0  context_switch (./kernel/sched/core.c:5238:2)',
      '#1  __schedule (./kernel/sched/core.c:6552:8)',
      '#2  rwsem_down_write_slowpath (./kernel/locking/rwsem.c:1178:4)',
      'crash> help -r',
      'CPU 0:',
      '    X0: 0000000000161bd4   X1: ffff00000fede618   X2: ffff3a5537cca000',
      '   X29: ffffc5aad86b3d50',
      '    LR: d2e9c5aad76da284   SP: ffffc5aad86b3d50   PC: ffffc5aad76da26c',
      'crash> kmem -i',
      '                 PAGES        TOTAL      PERCENTAGE',
      '    TOTAL MEM    75449     294.7 MB         ----',
      '         FREE    62678     244.8 MB   83% of TOTAL MEM',
      'crash> runq',
      'CPU 0 RUNQUEUE: ffff88800fc2c540',
      '  CURRENT: PID: 124    TASK: ffff888003a8a100  COMMAND: "crunch/0"',
      '  CFS RB_ROOT: ffff88800fc2c5f0',
      '     [120] PID: 130    TASK: ffff888003a8c200  COMMAND: "mapper"',
      'crash> mod',
      '     MODULE       NAME                         BASE          SIZE  OBJECT FILE',
      'ffffc5aa65bbf300  qemu_fw_cfg            ffffc5aa65bbb000   24576  (not loaded)  [CONFIG_KALLSYMS]',
    ].join('\n');
    const t = parseCrashText(text, 'mixed');
    assert.deepEqual(t.stacks[0].frames.map((f) => f.function), ['context_switch', '__schedule', 'rwsem_down_write_slowpath']);
    assert.equal(t.stacks[0].pid, 161);
    assert.equal(t.cpuRegisters.get(0)?.values.pc, 'ffffc5aad76da26c');
    assert.equal(t.memory.get('TOTAL MEM')?.pages, 75449);
    assert.deepEqual(t.runqueues.get(0)?.map((x) => x.pid), [124, 130]);
    assert.equal(t.modules[0].name, 'qemu_fw_cfg');
    assert.equal(t.rest.filter((r) => r.text.trim()).length, 0, t.rest.map((r) => r.text).join('|'));
    assert.ok(looksLikeCrashText(text));
  });
});
