/**
 * The kernel's own spinlock debugging (CONFIG_DEBUG_SPINLOCK) names the lock and its owner: "BUG: spinlock recursion
 * on CPU#7" means the CPU asks for a lock it already holds (`.owner_cpu` is itself) — a self-deadlock, caught; "spinlock
 * lockup suspected" names the CPU that holds it. Both become edges of the wait-for graph (CPU -> lock -> owner), so
 * the graph sees the cycle or the chain; the culprit is the code that asked for the lock again.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { frameText } from '../model/trace.ts';
import { cpuNode, eventFact, eventNode, finding, lineFact, type DetectorContext } from './context.ts';
import { matchesAny, SPINLOCK_SLOWPATH_FUNCTIONS } from './known/frames.ts';

/** Frames of the debugging and locking machinery above the code that asked for the lock. */
const MACHINERY = /^(dump_stack\w*|show_stack|spin_dump|spin_bug|__spin_lock_debug|do_raw_spin_lock\w*|do_raw_(read|write)_lock\w*|_raw_(spin|read|write)_lock\w*|__raw_(spin|read|write)_lock\w*|_spin_lock\w*|lock_sock_nested|lock_sock|rt_spin_lock|queued_\w+_slowpath|dump_backtrace|arch_stack_walk|print_stack_trace)$/;

export function spinlockDebugDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  for (const e of ctx.c.events) {
    const d = e.details.spinlockDebug;
    if (!d || e.cpu === undefined) continue;
    const recursion = /recursion/.test(d.what) && !/cpu recursion/.test(d.what);
    const lockup = /lockup/.test(d.what);
    if (!recursion && !lockup) continue;
    const cpu = e.cpu;
    const owner = d.ownerCpu;
    const self = recursion || owner === cpu;
    const lockId = d.lock ? `lock:${d.lock}` : `lock:spin@cpu${cpu}`;
    const callers = culprits(e);
    const reentry = reentered(e);
    const where = callers.length ? `${callers.slice(0, 3).map((f) => frameText({ ...f, size: undefined })).join(' <- ')}${reentry ? `, ${reentry}` : ''}` : undefined;
    const label = `CPU ${cpu}${e.task ? ` (${e.task.comm}:${e.task.pid})` : ''}`;
    const lockName = d.lock ? `spinlock 0x${d.lock}` : 'a spinlock';
    const evidence = [eventFact(e, `${e.title}${where ? `: ${where}` : ''}`)];
    if (d.lock) evidence.push(lineFact(e, e.line + 1, `lock 0x${d.lock}, owner ${d.owner ? `${d.owner.comm}/${d.owner.pid}` : 'none'}, owner CPU ${owner ?? 'none'}`));
    const summary = self
      ? `${label} asks for ${lockName}${where ? ` in ${where}` : ''} while it already holds it (the kernel's spinlock debugging: owner CPU ${owner ?? cpu} is this CPU): a self-deadlock`
      : `${label} spins on ${lockName}${where ? ` in ${where}` : ''}, held by CPU ${owner ?? '?'}${d.owner ? ` (${d.owner.comm}:${d.owner.pid})` : ''}`;
    const f = finding(ctx, self ? 'spinlock-self-deadlock' : 'irqs-off-spin', 'root', summary, {
      confidence: self ? 0.9 : 0.8,
      subjects: [{ kind: 'cpu', cpu }, { kind: 'event', id: e.id }, { kind: 'object', id: lockId }],
      evidence,
      steps: [
        `"${e.title}": the kernel's spinlock debugging caught ${label} asking for ${lockName}.`,
        d.lock ? `The lock's debug fields name its owner: ${d.owner ? `${d.owner.comm}/${d.owner.pid}` : 'no task'} on CPU ${owner ?? 'none'}.` : 'The lock line was not in the log.',
        where ? `The code that asked for it: ${where}.` : 'The code that asked for it is not in the log.',
        self
          ? 'The CPU that holds the lock is the one asking for it again: a non-recursive spinlock taken twice on one CPU never becomes free. Look for the path that re-enters code taking this lock (a callback run with the lock held, softirq/IRQ processing on the same CPU).'
          : `CPU ${owner ?? '?'} holds it: what that CPU does decides the cause.`,
      ],
      confirm: [`crash> bt -c ${cpu}`, ...(owner !== undefined && owner !== cpu ? [`crash> bt -c ${owner}`] : []), ...(d.lock ? [`crash> struct raw_spinlock 0x${d.lock}`] : [])],
      extra: { cpu, ...(d.lock ? { lockAddress: d.lock } : {}), ...(owner !== undefined ? { ownerCpu: owner } : {}), ...(callers[0] ? { function: callers[0].function } : {}), what: d.what },
      nodes: self ? [cpuNode(cpu), lockId] : [cpuNode(cpu)],
    });
    ctx.node(lockId, 'lock', lockName, f.id);
    ctx.edge(cpuNode(cpu), lockId, 'spins-on', f.id, 'caught by spinlock debugging');
    if (owner !== undefined) ctx.edge(lockId, cpuNode(owner), 'held-by', f.id, '.owner_cpu');
    else if (self) ctx.edge(lockId, cpuNode(cpu), 'held-by', f.id, 'recursion');
    // The BUG report is about this CPU's deadlock.
    ctx.edge(eventNode(e.id), cpuNode(cpu), 'caused-by', f.id, 'the report of it');
    out.push(f);
  }
  return out;
}

/** The code that asked for the lock: reliable frames below the debugging and locking machinery. */
function culprits(e: LogEvent): Array<{ function: string; offset?: number; module?: string }> {
  return e.trace.filter((f) => f.reliable && !MACHINERY.test(f.function) && !matchesAny(f.function, SPINLOCK_SLOWPATH_FUNCTIONS));
}

/** Code that runs softirqs synchronously when it re-enables them: a lock held across it is taken again by the softirq. */
const BH_ENABLE = /^(__local_bh_enable_ip|local_bh_enable|_raw_spin_unlock_bh|__raw_spin_unlock_bh|spin_unlock_bh|_raw_read_unlock_bh|_raw_write_unlock_bh|rcu_read_unlock_bh|irq_exit|irq_exit_rcu|__irq_exit_rcu)$/;
const SOFTIRQ = /^(do_softirq|__do_softirq|handle_softirqs|do_softirq_own_stack|____do_softirq|call_on_irq_stack|invoke_softirq|run_ksoftirqd)$/;

/** `re-entered in softirq through __local_bh_enable_ip from fpsimd_save_and_flush_cpu_state`, when the trace shows it. */
function reentered(e: LogEvent): string | undefined {
  const fs = e.trace.filter((f) => f.reliable).map((f) => f.function);
  const s = fs.findIndex((n) => SOFTIRQ.test(n));
  if (s < 0) return undefined;
  let i = s;
  while (i < fs.length && SOFTIRQ.test(fs[i])) i++;
  if (i >= fs.length || !BH_ENABLE.test(fs[i])) return undefined;
  const from = fs[i + 1];
  return `re-entered in softirq through ${fs[i]}${from ? ` from ${from}` : ''} (softirqs run when it re-enables them, with the lock still held below)`;
}
