/** Pasted crash output -> CaseFile: the system, tasks, CPUs, their stacks and registers, and the memory queries. */
import { cpuOf, taskOf, type CaseFile, type TaskStateLetter } from '../../model/casefile.ts';
import type { Provenance } from '../../model/provenance.ts';
import { clockSeconds, type CrashText } from './crash.ts';
import { activeStacks, TextQueries } from './queries.ts';

/** crash's two-letter task states as the letters the model uses. */
const STATES: Record<string, TaskStateLetter> = { RU: 'R', IN: 'S', UN: 'D', ID: 'I', ZO: 'Z', ST: 'T', TR: 't', DE: 'X', PA: 'P', WA: 'W', WE: 'W', NE: '?', SW: '?' };

/** The kernel threads crash brackets in ps, by the facts it has: no user memory. */
function isKthread(vszKiB: number | undefined): boolean | undefined {
  return vszKiB === undefined ? undefined : vszKiB === 0;
}

/** Waits that sleep in TASK_UNINTERRUPTIBLE: down_write/down_read, mutex_lock, down(), I/O waits, wait_for_completion. */
const UNINTERRUPTIBLE = /^(rwsem_down_(read|write)_(slowpath|failed)|call_rwsem_down_(read|write)_failed|__mutex_lock(_slowpath)?(\.isra\.\d+|\.constprop\.\d+)?|mutex_lock|__down(_common)?|io_schedule(_timeout)?|wait_for_completion(_timeout)?|bit_wait_io|folio_wait_bit_common|wait_on_page_bit_common|percpu_down_write|percpu_rwsem_wait)$/;

export function addCrashText(c: CaseFile, t: CrashText): void {
  const at = (line: number): Provenance => ({ kind: 'text', source: t.source, line });
  const sys = c.system;
  const get = (k: string) => t.sys.get(k);
  const release = get('RELEASE');
  if (release) {
    sys.release ??= release.value;
    sys.facts.push({ text: `release ${release.value} (crash sys)`, from: at(release.line) });
  }
  const cpus = get('CPUS');
  if (cpus && /^\d+/.test(cpus.value)) sys.cpus = Math.max(sys.cpus ?? 0, parseInt(cpus.value, 10));
  const node = get('NODENAME');
  if (node) sys.hostname ??= node.value;
  const up = get('UPTIME');
  const uptime = up ? clockSeconds(up.value) : undefined;
  if (uptime !== undefined) sys.uptime = Math.max(sys.uptime ?? 0, uptime);
  const panic = get('PANIC');
  const panicText = panic?.value.replace(/^"(.*)"$/, '$1').trim();
  if (panicText) {
    sys.panic ??= panicText;
    sys.facts.push({ text: `panic: ${panicText} (crash sys)`, from: at(panic!.line) });
  }
  const machine = get('MACHINE');
  if (machine) sys.arch ??= /x86_64/.test(machine.value) ? 'x86_64' : /arm64|aarch64/.test(machine.value) ? 'arm64' : machine.value.split(/\s+/)[0];
  const date = get('DATE');
  if (date) sys.crashTime ??= date.value;

  for (const x of t.tasks.values()) {
    if (x.pid === 0) continue;
    const task = taskOf(c, x.pid, x.comm);
    if (x.state && STATES[x.state]) task.state = STATES[x.state];
    if (x.ppid !== undefined) task.ppid = x.ppid;
    if (x.cpu !== undefined) task.cpu = x.cpu;
    const k = isKthread(x.vszKiB);
    if (k !== undefined) task.kthread = k;
    task.facts.push({ text: `${x.comm}:${x.pid}${x.state ? ` in ${x.state}` : ''}${x.cpu !== undefined ? ` on CPU ${x.cpu}` : ''} (crash ps)`, from: at(x.line) });
  }
  for (const [pid, r] of t.lastRun) {
    if (pid === 0) continue;
    const task = c.tasks.find((x) => x.pid === pid);
    if (!task) continue;
    if (r.state === 'UN' || task.state === 'D') task.blockedSeconds = Math.max(task.blockedSeconds ?? 0, r.seconds);
    task.facts.push({ text: `${task.comm}:${pid} last ran ${r.seconds.toFixed(3)} s before the dump (crash ps -m)`, from: at(r.line) });
  }
  if (t.lastRunNs.size) {
    let newest = 0n;
    for (const r of t.lastRunNs.values()) if (r.ns > newest) newest = r.ns;
    for (const [pid, r] of t.lastRunNs) {
      const task = c.tasks.find((x) => x.pid === pid);
      if (!task || pid === 0) continue;
      const seconds = Number(newest - r.ns) / 1e9;
      if (task.state === 'D') task.blockedSeconds = Math.max(task.blockedSeconds ?? 0, seconds);
    }
  }
  for (const [pid, s] of t.startTimes) {
    const task = c.tasks.find((x) => x.pid === pid);
    if (task) task.startTime = s.seconds;
  }
  for (const s of t.stacks) {
    if (s.pid === 0) continue;
    const task = taskOf(c, s.pid, s.comm);
    // The fullest stack printed for a task wins (bt -a, foreach bt and bt -f may each show it).
    if (!task.stack || task.stack.length < s.frames.length) {
      task.stack = s.frames;
      task.stackFrom = at(s.line);
    }
  }
  // Tasks on a run queue (`runq`) are runnable.
  for (const [cpu, q] of t.runqueues) {
    for (const r of q) {
      if (r.pid === 0) continue;
      const task = taskOf(c, r.pid, r.comm);
      task.state ??= 'R';
      task.cpu ??= cpu;
    }
  }
  // A task whose state the text does not give but whose stack sleeps in an uninterruptible lock or wait is in D.
  for (const task of c.tasks) {
    if (task.state || !task.stack?.length || task.stackFrom?.kind !== 'text') continue;
    const names = task.stack.slice(0, 8).map((f) => f.function);
    if (!/^(context_switch|__schedule|schedule)$/.test(names[0] ?? '')) continue;
    const wait = names.find((n) => UNINTERRUPTIBLE.test(n));
    if (!wait) continue;
    task.state = 'D';
    task.facts.push({ text: `${task.comm}:${task.pid} is in D: its stack sleeps in ${wait}, an uninterruptible wait (state inferred from the stack)`, from: task.stackFrom });
  }
  for (const s of activeStacks(t)) {
    const cpu = cpuOf(c, s.cpu);
    cpu.task = { pid: s.pid, comm: s.comm };
    cpu.stack = s.frames;
    cpu.stackFrom = at(s.line);
    const regs = s.registers.find((r) => r.pcSymbol && r.mode !== 'user') ?? s.registers[0];
    if (regs) {
      cpu.registers = regs;
      if (regs.irqsEnabled !== undefined) cpu.irqsEnabled = regs.irqsEnabled;
      if (regs.mode) cpu.mode = regs.mode;
    }
    cpu.idle = s.pid === 0 && !s.frames.some((f) => f.exceptionRip && !/idle|halt|mwait|default_idle|cpuidle/.test(f.function)) ? true : cpu.idle;
    const contexts = new Set<'nmi' | 'irq' | 'softirq'>();
    for (const f of s.frames) if (f.stack === 'nmi' || f.stack === 'irq' || f.stack === 'softirq') contexts.add(f.stack);
    if (contexts.size) cpu.contexts = (['softirq', 'irq', 'nmi'] as const).filter((x) => contexts.has(x));
    cpu.facts.push({ text: `CPU ${s.cpu} runs ${s.comm}:${s.pid}${regs?.pcSymbol ? ` at ${regs.pcSymbol.function}${regs.pcSymbol.offset !== undefined ? `+${regs.pcSymbol.offset}` : ''}` : ''} (crash bt)`, from: at(s.line) });
  }
  sys.cpus = Math.max(sys.cpus ?? 0, c.cpus.length) || undefined;
  c.kernel ??= new TextQueries(t);
}
