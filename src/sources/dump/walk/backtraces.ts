/**
 * crash's `bt -a` and `foreach bt`: one backtrace per CPU (from its register note), one per task
 * (its CPU's when it is running there, else from its switch frame).
 */
import type { CpuNote } from '../format/types.ts';
import { DumpUnwinder } from '../arch/x86_64/backtrace.ts';
import type { Backtrace, Regs } from '../arch/x86_64/unwind.ts';
import { noteHasRegisters } from '../arch/x86_64/registers.ts';
import type { Arm64Unwinder } from '../arch/arm64/unwind.ts';
import { cpuInfo, type CpuInfo } from './cpus.ts';
import type { Scheduler, TaskInfo } from './sched.ts';
import type { Kernel } from '../kernel/value.ts';

export interface CpuBacktrace {
  cpu: number;
  info: CpuInfo;
  /** The CPU's current task. */
  task?: TaskInfo;
  /** The note's registers (x86_64 user_regs_struct names, lower case), when the dump has them. */
  registers?: Regs;
  noteSource?: string;
  trace: Backtrace;
}

export interface TaskBacktrace {
  task: TaskInfo;
  /** The CPU whose registers were used, for a task running on a CPU. */
  cpu?: number;
  trace: Backtrace;
}

/** Registers of a note with the names the unwinder uses (rip, rsp, rbp, cs, eflags, ...). */
export function noteRegs(n: CpuNote): Regs {
  const r: Regs = {};
  for (const [k, v] of Object.entries(n.registers)) r[k.toLowerCase()] = v;
  return r;
}

export class Backtracer {
  readonly unwinder: DumpUnwinder;
  private readonly byCpu = new Map<number, CpuBacktrace>();

  constructor(
    readonly kernel: Kernel,
    readonly sched: Scheduler,
    /** Online CPUs in order. */
    readonly cpus: number[],
    readonly notes: CpuNote[],
    /** Captured by the kernel's kdump path (notes are the panic context and NMI-interrupted contexts). */
    readonly kdump: boolean,
    /** arm64: frame-record unwinding, and where a task keeps its switched-out fp/pc (thread.cpu_context). */
    readonly arm64?: { unwinder: Arm64Unwinder; cpuContext: number },
  ) {
    this.unwinder = new DumpUnwinder(kernel, kernel.symbols);
  }

  /** The register note of a CPU: notes pair with online CPUs in order when the counts agree. */
  noteOf(cpu: number): CpuNote | undefined {
    const usable = this.notes;
    if (usable.length === this.cpus.length) {
      const i = this.cpus.indexOf(cpu);
      return i >= 0 ? usable[i] : undefined;
    }
    return usable.find((n) => n.cpu === cpu);
  }

  /** crash `bt -c N`. */
  cpu(cpu: number): CpuBacktrace {
    const hit = this.byCpu.get(cpu);
    if (hit) return hit;
    const info = cpuInfo(this.kernel, this.sched, cpu);
    const task = info.current !== undefined ? this.sched.task(info.current) : undefined;
    const note = this.noteOf(cpu);
    let trace: Backtrace;
    let registers: Regs | undefined;
    if (this.arm64) {
      const r = note?.arm64;
      if (r) trace = this.arm64.unwinder.fromRegisters(r);
      else if (task) trace = this.arm64Sleeping(task);
      else trace = { frames: [], end: { kind: 'error', detail: `CPU ${cpu}: no register note and no current task` }, start: 'none', notes: [] };
    } else if (note && noteHasRegisters(note)) {
      registers = noteRegs(note);
      trace = this.kdump ? this.unwinder.kdumpCpu(registers, cpu, task?.stack) : this.unwinder.fromRegisters(registers, cpu, task?.stack);
    } else if (task) {
      trace = this.unwinder.sleeping(task.threadSp, task.stack, cpu);
      trace.notes.push(`CPU ${cpu} has no register note: the trace starts from the task's last switch frame and may be stale`);
    } else {
      trace = { frames: [], end: { kind: 'error', detail: `CPU ${cpu}: no register note and no current task` }, start: 'none', notes: [] };
    }
    const r: CpuBacktrace = { cpu, info, task, registers, noteSource: note?.source, trace };
    this.byCpu.set(cpu, r);
    return r;
  }

  /** A switched-out arm64 task: thread.cpu_context holds x19-x28, fp, sp, pc. */
  private arm64Sleeping(t: TaskInfo): Backtrace {
    const a = this.arm64!;
    const at = t.address + BigInt(a.cpuContext);
    try {
      const fp = this.kernel.read(at + 10n * 8n, 8, "thread.cpu_context.fp").readBigUInt64LE(0);
      const pc = this.kernel.read(at + 12n * 8n, 8, "thread.cpu_context.pc").readBigUInt64LE(0);
      return a.unwinder.unwind(pc, fp, 'switch frame');
    } catch (e) {
      return { frames: [], end: { kind: 'error', detail: `thread.cpu_context of ${t.comm}:${t.pid} unreadable: ${(e as Error).message}` }, start: 'switch frame', notes: [] };
    }
  }

  /** crash `bt PID` for one task. */
  task(t: TaskInfo): TaskBacktrace {
    if (this.arm64) {
      if (this.cpus.includes(t.cpu)) {
        const c = this.cpu(t.cpu);
        if (c.task?.address === t.address && this.noteOf(t.cpu)?.arm64) return { task: t, cpu: t.cpu, trace: c.trace };
      }
      return { task: t, trace: this.arm64Sleeping(t) };
    }
    if (this.cpus.includes(t.cpu)) {
      const c = this.cpu(t.cpu);
      if (c.task?.address === t.address && c.registers) return { task: t, cpu: t.cpu, trace: c.trace };
    }
    return { task: t, trace: this.unwinder.sleeping(t.threadSp, t.stack, this.cpus.includes(t.cpu) ? t.cpu : undefined) };
  }
}
