/**
 * One view per CPU, whichever source saw it: where it runs (function, registers, interrupts), its call chain, and
 * whether it is idle or parked. A dump's register notes and unwound stacks win over log backtraces (they are the
 * machine itself); a log's latest backtrace of a CPU (NMI backtrace, lockup report, RCU stall) stands in otherwise.
 * Detectors read these instead of asking the dump and the log each in their own way.
 */
import { PANIC_PATH } from '../sources/code/panic-path.ts';
import type { CaseFile } from '../model/casefile.ts';
import type { LogEvent } from '../model/event.ts';
import type { Fact } from '../model/provenance.ts';
import type { CpuContext } from '../model/queries.ts';
import type { Frame, RegisterSet } from '../model/trace.ts';
import { frameText } from '../model/trace.ts';
import { eventFact } from './context.ts';
import { IDLE_FUNCTIONS, IPI_WAIT_FUNCTIONS, isParked, matchesAny, NMI_MACHINERY_FUNCTIONS, OOPS_PATH_FUNCTIONS, OTHER_SPIN_FUNCTIONS, SPINLOCK_SLOWPATH_FUNCTIONS } from './known/frames.ts';
import { callChain, isIdle, kernelRegisters } from './stacks.ts';
import { pcHex } from '../model/trace.ts';

export interface CpuView {
  cpu: number;
  task?: { pid: number; comm: string };
  from: 'dump' | 'log';
  /** Registers of the context the CPU was working in (below kdump's NMI or panic frames). */
  regs?: RegisterSet;
  pc?: { function: string; offset?: number; module?: string };
  irqsEnabled?: boolean;
  mode?: 'kernel' | 'user';
  /** Idle, or parked on purpose by panic/kexec: not stuck. */
  idle: boolean;
  /** The dump's note of this CPU is on the panic path and what it was doing below could not be read. */
  unknownContext: boolean;
  /** In an interrupt (or softirq) taken in the idle loop: busy for a moment, not stuck there. */
  overIdle: boolean;
  /** Reliable frames of the working context, innermost first, NMI/kdump machinery removed. */
  frames: Frame[];
  /** Function names from the PC down (machinery removed). */
  chain: string[];
  /** Register sets along the stack, innermost first (for proving a lock argument from callee-saved registers). */
  regSets: RegisterSet[];
  /** The dump's register context, when the view comes from a dump. */
  ctx?: CpuContext;
  /** The latest log event that showed this CPU's stack, when there is one. */
  event?: LogEvent;
  /** Where this view was read: the dump's note, or the log event. */
  fact: Fact;
  /** The work item it runs (`Workqueue: <wq> <func>` of its report), when a kworker. */
  work?: { name: string; func: string };
}

/** The latest event per CPU that shows its stack (NMI backtraces, lockups, stalls). */
export function latestStackEvents(events: readonly LogEvent[]): Map<number, LogEvent> {
  const m = new Map<number, LogEvent>();
  for (const e of events) {
    if (e.cpu === undefined || e.kind === 'hung-task') continue;
    if (e.trace.length === 0 && e.registers.length === 0) continue;
    m.set(e.cpu, e);
  }
  return m;
}

function dumpView(c: CaseFile, x0: CpuContext, event: LogEvent | undefined): CpuView {
  const st = c.cpus.find((s) => s.cpu === x0.cpu);
  let x = x0;
  let frames: Frame[] = [];
  // The panicking CPU's note is on the panic path, often inside the interrupt that panicked (the watchdog's timer):
  // the context that interrupt hit is the exception frame below it, with its registers.
  if (x0.panicPath && x0.from === 'note' && st?.stack?.length && (st.stackFrom?.kind === 'dump' || st.stackFrom?.kind === 'text')) {
    const i = st.stack.findIndex((f) => f.exceptionRip && f.regs && f.regs.mode !== 'user' && !PANIC_PATH.test(f.function) && !matchesAny(f.function, NMI_MACHINERY_FUNCTIONS));
    if (i >= 0) {
      const f = st.stack[i];
      const r = f.regs!;
      x = { ...x0, registers: { ...r, pcSymbol: r.pcSymbol ?? { function: f.function, ...(f.offset !== undefined ? { offset: f.offset } : {}), ...(f.module ? { module: f.module } : {}) } }, from: 'irq-frame' };
      frames = st.stack.slice(i).filter((f) => f.reliable);
    }
  } else if (st?.stack?.length && (st.stackFrom?.kind === 'dump' || st.stackFrom?.kind === 'text')) {
    // A kdump NMI (or the panic path) sits on top of the interrupted context: start where the CPU really was.
    const at = st.stack.findIndex((f) => f.exceptionRip && f.function === x.registers.pcSymbol?.function);
    frames = (at > 0 ? st.stack.slice(at) : st.stack.filter((f) => f.stack !== 'nmi')).filter((f) => f.reliable);
  }
  const pc = x.registers.pcSymbol;
  const names: string[] = [];
  if (pc) names.push(pc.function);
  for (const f of frames) if (names[names.length - 1] !== f.function) names.push(f.function);
  const chain = names.filter((n) => !matchesAny(n, NMI_MACHINERY_FUNCTIONS));
  const unknownContext = !!x.panicPath && x.from === 'note';
  // A user-mode context interrupted by the panic: the CPU was running user code.
  const userBelow = x.from === 'irq-frame' && x.registers.mode === 'user';
  const fn = pc?.function;
  const idle = x.registers.mode !== 'user' && !!fn && (matchesAny(fn, IDLE_FUNCTIONS) || isParked(fn, (st?.stack ?? []).map((f) => f.function)));
  const regSets = [x.registers, ...frames.map((f) => f.regs).filter((r): r is RegisterSet => !!r)];
  const rip = x.from === 'vector-entry' ? undefined : pcHex(x.registers);
  return {
    cpu: x.cpu,
    ...(x.task ? { task: { pid: x.task.pid, comm: x.task.comm } } : {}),
    from: 'dump',
    regs: x.registers,
    ...(pc ? { pc: { function: pc.function, ...(pc.offset !== undefined ? { offset: pc.offset } : {}), ...(pc.module ? { module: pc.module } : {}) } } : {}),
    ...(x.registers.irqsEnabled !== undefined ? { irqsEnabled: x.registers.irqsEnabled } : {}),
    ...(x.registers.mode ? { mode: userBelow ? 'user' : x.registers.mode } : {}),
    idle,
    unknownContext,
    overIdle: overIdle(chain),
    frames,
    chain,
    regSets,
    ctx: x,
    ...(event ? { event } : {}),
    fact: {
      text: `CPU ${x.cpu}${x.task ? ` (${x.task.comm}:${x.task.pid})` : ''} at ${pc ? frameText(pc) : rip ? `0x${rip}` : '?'}${x.from === 'nmi-frame' ? ' (context below the kdump NMI)' : ''}`,
      from: { kind: 'dump', source: c.kernel?.source ?? '', ...(rip ? { address: BigInt(`0x${rip}`) } : {}), what: `CPU ${x.cpu} registers` },
    },
  };
}

function logView(e: LogEvent): CpuView {
  const regs = kernelRegisters(e)[0];
  const frames = e.trace.filter((f) => f.reliable && f.stack !== 'nmi' && !matchesAny(f.function, NMI_MACHINERY_FUNCTIONS));
  const chain = callChain(e);
  const pcSym = regs?.pcSymbol;
  const pc = pcSym ? { function: pcSym.function, ...(pcSym.offset !== undefined ? { offset: pcSym.offset } : {}), ...(pcSym.module ? { module: pcSym.module } : {}) } : chain[0] ? { function: chain[0] } : undefined;
  const user = e.registers.length > 0 && e.registers.every((r) => r.mode === 'user') && !frames.length;
  return {
    cpu: e.cpu!,
    ...(e.task ? { task: { pid: e.task.pid, comm: e.task.comm } } : {}),
    from: 'log',
    ...(regs ? { regs } : {}),
    ...(pc ? { pc } : {}),
    ...(regs?.irqsEnabled !== undefined ? { irqsEnabled: regs.irqsEnabled } : {}),
    ...(user ? { mode: 'user' as const } : regs ? { mode: 'kernel' as const } : chain.length ? { mode: 'kernel' as const } : {}),
    idle: isIdle(e),
    unknownContext: false,
    overIdle: overIdle(chain),
    frames,
    chain,
    regSets: kernelRegisters(e),
    ...(e.details.workqueue ? { work: e.details.workqueue } : {}),
    event: e,
    fact: eventFact(e, `${e.title}${chain.length ? `: ${chain.slice(0, 6).join(' <- ')}` : ''}`),
  };
}

/** One view per CPU: the dump's where there is one, else the latest log backtrace. Sorted by CPU. */
export function cpuViews(c: CaseFile): CpuView[] {
  const latest = latestStackEvents(c.events);
  const out = new Map<number, CpuView>();
  const contexts = c.kernel?.cpuContexts() ?? [];
  for (const x of contexts) {
    const e = latest.get(x.cpu);
    // A log backtrace stopped at the same PC describes the same spin (the CPU never moved since).
    const same = e && kernelRegisters(e)[0]?.pcSymbol?.function === x.registers.pcSymbol?.function ? e : undefined;
    out.set(x.cpu, dumpView(c, x, same));
  }
  for (const [cpu, e] of latest) if (!out.has(cpu)) out.set(cpu, logView(e));
  // An RCU stall's "Task dump for CPU n": the task CPU n runs, with its stack (no registers). Without an NMI backtrace
  // (arm64 6.1) the dump is the task's saved stack: one that starts in the context switch is where it last slept, not
  // where the CPU runs now, and says nothing of the loop.
  for (const e of c.events) {
    for (const t of e.details.tasks ?? []) {
      if (t.cpu === undefined || out.has(t.cpu) || !t.trace.length) continue;
      if (SWITCHED_OUT.test(t.trace.find((f) => f.reliable)?.function ?? '')) continue;
      out.set(t.cpu, logView({ ...e, cpu: t.cpu, task: { comm: t.comm, pid: t.pid }, registers: [], trace: t.trace, line: t.line, details: { ...e.details, ...(t.workqueue ? { workqueue: t.workqueue } : {}) } }));
    }
    // A task dump without a stack still says what the CPU runs.
    for (const t of e.details.tasks ?? []) {
      if (t.cpu === undefined || out.has(t.cpu)) continue;
      out.set(t.cpu, logView({ ...e, cpu: t.cpu, task: { comm: t.comm, pid: t.pid }, registers: [], trace: [], line: t.line, details: { ...e.details, ...(t.workqueue ? { workqueue: t.workqueue } : {}) } }));
    }
  }
  return [...out.values()].sort((a, b) => a.cpu - b.cpu);
}

/** The first frame of a task stack saved at its last context switch. */
const SWITCHED_OUT = /^(__switch_to|__switch_to_asm|__schedule|schedule|context_switch|cpu_switch_to)$/;

/** The call chain ends in the idle loop below an interrupt. */
function overIdle(chain: readonly string[]): boolean {
  return chain.slice(1).some((n) => /^(do_idle|cpu_startup_entry|default_idle_call|cpuidle_enter(_state)?|cpu_idle_poll|arch_cpu_idle)$/.test(n));
}

/** `CPU 1 (forge_ring/1:129)`. */
export function viewLabel(v: Pick<CpuView, 'cpu' | 'task'>): string {
  return `CPU ${v.cpu}${v.task ? ` (${v.task.comm}:${v.task.pid})` : ''}`;
}

/** `native_queued_spin_lock_slowpath+0x30 [mod]`. */
export function viewPc(v: CpuView): string {
  return v.pc ? frameText(v.pc) : '?';
}

/** Runs kernel code that could be doing something (not idle, not in user space, not unreadable). */
export function busyInKernel(v: CpuView): boolean {
  return !v.idle && !v.unknownContext && v.mode !== 'user' && !!v.pc;
}

/** The CPU waits for other CPUs to run a cross-call (IPI). */
export function waitsForIpi(v: CpuView): boolean {
  return v.chain.slice(0, 6).some((n) => matchesAny(n, IPI_WAIT_FUNCTIONS));
}

/** The CPU is in a spinlock slow path (its PC or the first frames). */
export function inSpinlockSlowpath(v: CpuView): boolean {
  return v.chain.slice(0, 3).some((n) => matchesAny(n, SPINLOCK_SLOWPATH_FUNCTIONS));
}

/** The CPU busy-waits in a known spin primitive other than a spinlock (seqcount read, optimistic spinning). */
export function inOtherSpin(v: CpuView): boolean {
  return v.chain.slice(0, 2).some((n) => matchesAny(n, OTHER_SPIN_FUNCTIONS));
}

/** The CPU is in the oops / die path. */
export function inOops(v: CpuView): boolean {
  return v.chain.some((n) => matchesAny(n, OOPS_PATH_FUNCTIONS) && n !== 'panic');
}
