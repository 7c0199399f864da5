/**
 * A hand-made Report at any scale, for the HTML view: every CPU spinning in one seqcount loop with IRQs
 * off (with the disassembled loop in `extra`), and a hung-task cluster of `tasks` tasks waiting on a mutex.
 */
import type { Report } from '../../src/report/schema.ts';

type Frame = Report['cpus'][number]['stack'][number];

const f = (fn: string, stack: Frame['stack'] = 'task', reliable = true): Frame => ({ function: fn, offset: 0x2c, size: 0x120, reliable, stack });

export function sampleReport(opts: { cpus?: number; tasks?: number; logLines?: number } = {}): Report {
  const nCpu = opts.cpus ?? 64;
  const nTask = opts.tasks ?? 300;
  const src = 'vmcore-dmesg.txt';
  const cpus: Report['cpus'] = [];
  const events: Report['events'] = [];
  for (let c = 0; c < nCpu; c++) {
    const line = 100 + c * 12;
    events.push({
      id: `e${line}`,
      kind: 'nmi-backtrace',
      title: `NMI backtrace for cpu ${c}`,
      source: src,
      line,
      endLine: line + 10,
      timestamp: 812.5 + c / 1000,
      cpu: c,
      task: { comm: 'swapper/' + c, pid: 0 },
      culprit: { function: 'tick_nohz_next_event' },
      trace: [],
      registers: [],
      details: {},
    });
    cpus.push({
      cpu: c,
      task: c === 3 ? { comm: 'kworker/3:1', pid: 4242 } : { comm: `swapper/${c}`, pid: 0 },
      irqsEnabled: false,
      mode: 'kernel',
      idle: c !== 3,
      pc: 'tick_nohz_next_event+0x38',
      stack: [
        f('nmi_cpu_backtrace', 'nmi'),
        f('nmi_handle', 'nmi'),
        f('default_do_nmi', 'nmi'),
        f('tick_nohz_next_event', 'task'),
        f('tick_nohz_get_sleep_length', 'task'),
        f('menu_select', 'task'),
        f('? cpuidle_select', 'task', false),
        f('do_idle', 'task'),
        f('cpu_startup_entry', 'task'),
      ],
      events: [`e${line}`],
    });
  }
  const tasks: Report['tasks'] = [];
  for (let i = 0; i < nTask; i++) {
    tasks.push({
      pid: 1000 + i,
      tgid: 1000 + i,
      ppid: 1,
      comm: i % 3 ? `worker/${i}` : `<script>alert(${i})</script>`,
      state: 'D',
      cpu: i % nCpu,
      blockedSeconds: 120 + i,
      startTime: 5,
      stack: [f('__schedule'), f('schedule'), f('schedule_preempt_disabled'), f('__mutex_lock.constprop.0'), f('do_sys_open')],
      events: [],
    });
  }
  tasks.push({ pid: 4242, tgid: 4242, ppid: 2, comm: 'kworker/3:1', state: 'R', cpu: 3, blockedSeconds: null, startTime: 1, stack: [], events: [] });
  const loop = [
    'ffffffff8112a3f0: 8b 05 0a 7c 4e 01    mov    eax, dword ptr [rip + 0x14e7c0a]  # ffffffff82612000 <jiffies_seq>',
    'ffffffff8112a3f6: a8 01                test   al, 1',
    'ffffffff8112a3f8: 75 04                jne    ffffffff8112a3fe',
    'ffffffff8112a3fe: f3 90                pause',
    'ffffffff8112a400: eb ee                jmp    ffffffff8112a3f0',
  ];
  const cpuSubjects = cpus.map((c) => ({ kind: 'cpu', cpu: c.cpu }));
  const findings: Report['findings'] = [
    {
      id: 'seqcount-stuck-odd-1',
      kind: 'seqcount-stuck-odd',
      role: 'root',
      summary: `All ${nCpu} CPUs spin in read_seqbegin(&jiffies_seq) with IRQs off; its sequence 896100417 is odd and no CPU is a writer`,
      confidence: 0.9,
      subjects: [...cpuSubjects, { kind: 'object', id: 'seqcount:ffffffff82612000' }],
      evidence: [
        { text: 'NMI backtrace for cpu 0: tick_nohz_next_event', source: src, kind: 'log', line: 100, endLine: 110, cite: `${src}:100-110` },
        { text: 'jiffies_seq.seqcount.sequence = 896100417 (odd)', source: 'vmcore', kind: 'dump', address: 'ffffffff82612000', cite: 'vmcore @ffffffff82612000' },
        { text: 'https://example.invalid/should-be-text <img src=x>', source: src, kind: 'log', line: 101, cite: `${src}:101` },
      ],
      steps: [
        'Every CPU is in the same three-instruction loop (mov; test; jne -> pause; jmp): the inlined read_seqbegin retry loop.',
        'The loop polls jiffies_seq, whose sequence is odd: a writer is inside, or the word is corrupt.',
        'No CPU is in a write section, and the writer spinlock is unlocked.',
      ],
      confirm: ['crash> p jiffies_seq', 'crash> dis -l tick_nohz_next_event', "crash> bt -a | grep -c 'tick_nohz_next_event'"],
      causedBy: [],
      knownIssue: {
        id: 'skl-ht-erratum',
        title: 'Skylake/Kaby Lake hyper-threading erratum (short loops using AH/BH/CH/DH)',
        references: ['https://example.invalid/erratum-SKL150', 'Intel SKL150'],
        differences: ['the loop uses AL, not AH'],
      },
      extra: { loop, address: 'ffffffff82612000', symbol: 'jiffies_seq', value: 896100417, writers: 0, cpus: cpus.map((c) => c.cpu) },
    },
    {
      id: 'hung-task-cluster-1',
      kind: 'hung-task-cluster',
      role: 'symptom',
      summary: `${nTask} tasks blocked for more than 120 seconds in __mutex_lock (do_sys_open)`,
      confidence: 0.8,
      subjects: tasks.filter((t) => t.state === 'D').map((t) => ({ kind: 'task', pid: t.pid, comm: t.comm })),
      evidence: [{ text: 'INFO: task worker/1:1001 blocked for more than 120 seconds.', source: src, kind: 'log', line: 50, endLine: 60, cite: `${src}:50-60` }],
      steps: ['They sleep in D state in __mutex_lock: the owner does not release it because its CPU spins with IRQs off.'],
      confirm: ['crash> foreach UN bt'],
      causedBy: ['seqcount-stuck-odd-1'],
      knownIssue: null,
      extra: { waitSite: '__mutex_lock <- do_sys_open', count: nTask },
    },
  ];
  const nodes: Report['graph']['nodes'] = [];
  const edges: Report['graph']['edges'] = [];
  nodes.push({ id: 'seqcount:ffffffff82612000', kind: 'seqcount', label: 'jiffies_seq (odd)', findings: ['seqcount-stuck-odd-1'] });
  for (const c of cpus) {
    nodes.push({ id: `cpu:${c.cpu}`, kind: 'cpu', label: `CPU ${c.cpu}`, findings: ['seqcount-stuck-odd-1'] });
    edges.push({ from: `cpu:${c.cpu}`, to: 'seqcount:ffffffff82612000', kind: 'spins-on', finding: 'seqcount-stuck-odd-1' });
  }
  nodes.push({ id: 'lock:ffff888004a1b2c0', kind: 'lock', label: 'mutex ffff888004a1b2c0', findings: ['hung-task-cluster-1'] });
  for (const t of tasks.filter((x) => x.state === 'D')) {
    nodes.push({ id: `task:${t.pid}`, kind: 'task', label: `${t.comm}:${t.pid}`, findings: ['hung-task-cluster-1'] });
    edges.push({ from: `task:${t.pid}`, to: 'lock:ffff888004a1b2c0', kind: 'waits-for', finding: 'hung-task-cluster-1' });
  }
  nodes.push({ id: 'task:4242', kind: 'task', label: 'kworker/3:1:4242', findings: ['hung-task-cluster-1'] });
  edges.push({ from: 'lock:ffff888004a1b2c0', to: 'task:4242', kind: 'held-by', finding: 'hung-task-cluster-1', label: 'owner' });
  edges.push({ from: 'task:4242', to: 'cpu:3', kind: 'waits-for', finding: 'hung-task-cluster-1', label: 'runs on' });

  return {
    schemaVersion: 1,
    tool: { name: 'coroner', version: '0.1.0' },
    sources: [
      { kind: 'log', path: src, format: 'dmesg', lines: opts.logLines ?? 100 + nCpu * 12 + 20, notes: [], incomplete: false },
      { kind: 'dump', path: 'vmcore', format: 'kdump-compressed', lines: null, notes: ['page 0x1234000 excluded by makedumpfile -d 31'], incomplete: true },
    ],
    system: { release: '6.1.0-56-amd64', arch: 'x86_64', hardware: 'QEMU Standard PC', taint: 'O', cpus: nCpu, commandLine: 'console=ttyS0 crashkernel=160M', uptime: 830, panic: 'Kernel panic - not syncing: hard LOCKUP' },
    events,
    cpus,
    tasks,
    objects: [{ id: 'seqcount:ffffffff82612000', kind: 'seqcount', symbol: 'jiffies_seq', address: 'ffffffff82612000', observed: { sequence: 896100417 } }],
    findings,
    graph: { nodes, edges },
    verdict: {
      status: 'problem',
      summary: findings[0].summary,
      roots: ['seqcount-stuck-odd-1'],
      symptoms: ['hung-task-cluster-1'],
    },
    incomplete: true,
  };
}

/** Log lines matching sampleReport's line numbers (line n's text says which it is). */
export function sampleLog(report: Report): string[] {
  const n = report.sources[0].lines ?? 0;
  const out: string[] = [];
  for (let i = 1; i <= n; i++) {
    const ev = report.events.find((e) => e.line === i);
    out.push(ev ? `[  812.500000] ${ev.title}` : i === 101 ? '[  812.500100] see https://example.invalid/x <b>not bold</b>' : `[  ${(i / 10).toFixed(6)}] line ${i}`);
  }
  return out;
}
