/**
 * A CPU that runs its own code for too long: a watchdog (soft or hard lockup, an RCU stall naming it) says it has not
 * scheduled, and where it runs is not a wait on anything (no spinlock slow path, no IPI wait, no seqcount read loop,
 * not idle, not the oops path). It is the end of every chain that reaches it: a hog or a livelock. The finding names
 * the function (the first frame that is not generic machinery), the loop when a dump or the Code: bytes show one, and
 * the CPU's interrupt and preemption state.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { frameText , pcHex } from '../model/trace.ts';
import { cpuNode, eventFact, finding, type DetectorContext } from './context.ts';
import { busyInKernel, inOops, inOtherSpin, inSpinlockSlowpath, viewLabel, viewPc, waitsForIpi, type CpuView } from './cpu-view.ts';
import { matchesAny, SLEEP_FUNCTIONS } from './known/frames.ts';
import { skipRowOf } from '../sources/log/skip.ts';

/** Frames that are machinery around the code that runs: interrupt entry, the watchdog, stack dumping. */
const GENERIC = /^(asm_|sysvec_|__sysvec_|irq_exit|__irq_exit|handle_softirqs|__do_softirq|do_softirq|run_ksoftirqd|smpboot_thread_fn|kthread$|ret_from_fork|entry_|do_syscall_64|__x64_sys_|x64_sys_call|el0_|el1_|el1h_|el0t_|invoke_syscall|gic_handle_irq|call_on_irq_stack|do_interrupt_handler|_raw_spin_unlock|__raw_spin_unlock|_raw_spin_lock|__cond_resched|cond_resched|preempt_schedule|rcu_|watchdog|lockup_detector|dump_stack|show_stack|__warn|report_bug)/;

/** Where a stuck CPU runs its own code: the innermost frame that is not machinery. */
export function runningFunction(v: CpuView): { function: string; module?: string; offset?: number } | undefined {
  const generic = (fn: string) => GENERIC.test(fn) || (!!skipRowOf(fn) && skipRowOf(fn)!.family !== 'idle');
  if (v.pc && !generic(v.pc.function)) return v.pc;
  const f = v.frames.find((x) => !generic(x.function) && !matchesAny(x.function, SLEEP_FUNCTIONS));
  return f ? { function: f.function, ...(f.module ? { module: f.module } : {}), ...(f.offset !== undefined ? { offset: f.offset } : {}) } : v.pc;
}

/** The watchdog reports that say this CPU has not let anything else run. */
function reportsOn(events: readonly LogEvent[], cpu: number): LogEvent[] {
  return events.filter(
    (e) =>
      ((e.kind === 'soft-lockup' || e.kind === 'hard-lockup') && e.cpu === cpu) ||
      (e.kind === 'rcu-stall' && ((e.details.stalledCpus ?? []).includes(cpu) || (e.details.selfDetected && e.cpu === cpu))) ||
      (e.kind === 'panic' && e.cpu === cpu && /LOCKUP|lockup/.test(e.details.panicReason ?? '')),
  );
}

export function cpuHogDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  for (const v of ctx.views.cpus) {
    if (!busyInKernel(v) || waitsForIpi(v) || inSpinlockSlowpath(v) || inOtherSpin(v) || inOops(v)) continue;
    const reports = reportsOn(ctx.c.events, v.cpu);
    if (!reports.length) continue;
    // A CPU whose stack is only the sleeping machinery is not running code of its own.
    if (v.chain.length && v.chain.slice(0, 2).every((n) => matchesAny(n, SLEEP_FUNCTIONS))) continue;
    const fn = runningFunction(v);
    if (!fn) continue;
    const st = ctx.c.cpus.find((x) => x.cpu === v.cpu);
    const loop = v.event?.details.codeLoop;
    // A loop its Code: bytes show polling a word belongs to the loop detectors (it waits on that word).
    if (loop?.testsBit0) continue;
    const secs = reports.map((e) => e.details.seconds).filter((s): s is number => s !== undefined);
    const irqsOff = v.irqsEnabled === false;
    const preempt = st?.preempt;
    const where = frameText({ ...fn, size: undefined });
    const callers = v.chain.filter((n) => n !== fn.function).slice(0, 4);
    const how = [irqsOff ? 'interrupts disabled' : '', preempt?.depth ? `preemption disabled (depth ${preempt.depth})` : '', preempt?.bhDisabled ? 'bottom halves disabled' : '', preempt?.contexts.length ? `in ${preempt.contexts.join(' < ')} context` : ''].filter(Boolean);
    const sameFn = reports.filter((e) => e.culprit?.function === fn.function || e.registers[0]?.pcSymbol?.function === fn.function).length;
    const confidence = v.from === 'dump' ? 0.8 : sameFn > 1 ? 0.7 : 0.65;
    const summary = `${viewLabel(v)} runs ${where}${callers.length ? ` (${callers.join(' <- ')})` : ''}${v.work && v.work.func !== fn.function ? `, in work ${v.work.func} (${v.work.name})` : ''}${how.length ? ` with ${how.join(', ')}` : ''} and does not let anything else run${secs.length ? ` (stuck ${Math.max(...secs)}s)` : ''}: a CPU hog or livelock`;
    const steps = [
      `${reports.map((e) => `"${e.title}"`).slice(0, 2).join(' and ')}: ${viewLabel(v)} has not scheduled (or taken a timer interrupt) for the watchdog's threshold.`,
      `It runs ${where} (PC ${viewPc(v)}${callers.length ? `, called from ${callers.join(' <- ')}` : ''}): not a spinlock slow path, not a wait for an IPI, not a sequence-count read loop, not idle.`,
      how.length ? `It runs with ${how.join(', ')}.` : 'Its preemption state is not in the evidence; a soft lockup means it did not reach a scheduling point.',
      loop ? `Its Code: bytes show a loop around the PC: ${loop.instructions.join('; ')}.` : 'Find the loop in this function and what was supposed to end it (a count that never reaches its limit, a list that loops back, a condition another CPU or a device should set).',
      'Every CPU or task that waits for this one (its IPI, its lock, the RCU grace period it holds up) is a symptom of it.',
    ];
    out.push(
      finding(ctx, 'cpu-hog', 'root', summary, {
        confidence,
        subjects: [{ kind: 'cpu', cpu: v.cpu }, ...(v.task ? [{ kind: 'task' as const, pid: v.task.pid, comm: v.task.comm }] : [])],
        evidence: [v.fact, ...reports.slice(0, 3).map((e) => eventFact(e))],
        steps,
        confirm: [`crash> bt -c ${v.cpu}`, `crash> dis -r ${pcHex(v.regs) ?? '<PC>'}   # the loop around the PC`, `crash> p -x __preempt_count:${v.cpu}`, 'crash> bt -a'],
        extra: { cpu: v.cpu, function: fn.function, ...(fn.module ? { module: fn.module } : {}), ...(secs.length ? { seconds: Math.max(...secs) } : {}), irqsOff, ...(preempt ? { preemptDepth: preempt.depth } : {}) },
        nodes: [cpuNode(v.cpu)],
      }),
    );
  }
  return out;
}
