/** Stack frames and register sets, shared by every source (log, dump, live). */

/** Which stack a frame was found on. `exception` = #PF/#GP/... handler stack; `entry` = syscall/entry trampoline stack. */
export type StackKind = 'task' | 'irq' | 'softirq' | 'nmi' | 'exception' | 'entry' | 'user' | 'unknown';

export interface Frame {
  function: string;
  /** Offset into the function in bytes, when known. */
  offset?: number;
  /** Function size in bytes, when known (from `+0x12/0x40` or symbols). */
  size?: number;
  /** Module name for module text (`[forge_wedge]`); undefined for core kernel. */
  module?: string;
  /** Absolute address as a hex string without 0x, when known. */
  address?: string;
  /** false for frames the unwinder marked `?` (found by scanning, not by unwinding). */
  reliable: boolean;
  stack: StackKind;
  /** Source line (1-based) in the log where this frame was printed. */
  line?: number;
  /** Set on the first frame after an exception/interrupt register dump: the RIP where that context was interrupted. */
  exceptionRip?: boolean;
  /** The saved registers of that context (dump: the pt_regs of an exception/interrupt frame, or the CPU's note). */
  regs?: RegisterSet;
  /** Stack address of the frame (dump: the slot holding its return address, or the saved RSP), hex without 0x. */
  sp?: string;
  /** Source position the report printed beside the frame (`net/ipv4/tcp.c:123`), symbolized reports only. */
  source?: string;
  /** An inlined function the symbolizer printed as a frame of its own (`[inline]`): no address or offset of its own. */
  inline?: boolean;
}

export type Arch = 'x86_64' | 'arm64' | 'x86' | 'ppc64' | 's390x' | 'arm' | 'riscv64' | 'parisc' | 'unknown';

export interface RegisterSet {
  arch: Arch;
  /** Register name (lower case: rip, rsp, eflags, rax, ... / pc, sp, pstate, x0 ...) -> value as hex string without 0x. */
  values: Record<string, string>;
  /** The PC as printed with its symbol, e.g. `native_queued_spin_lock_slowpath+0x30/0x2a0`. */
  pcSymbol?: { function: string; offset?: number; size?: number; module?: string };
  /** user or kernel mode, from CS (x86) or pstate/`pc :` form (arm64). */
  mode?: 'kernel' | 'user';
  /** Interrupts enabled (x86 EFLAGS.IF, arm64 PSTATE.I clear). undefined if unknown. */
  irqsEnabled?: boolean;
  /** Which stack the register dump describes (the context that was interrupted). */
  stack?: StackKind;
  /** Index in the trace before which this register set was printed (for nested contexts). */
  atFrame?: number;
  line?: number;
}

export interface CodeBytes {
  /** Hex bytes as printed. */
  bytes: string;
  /** Index of the byte marked `<..>` (the faulting/current instruction), or -1. */
  markIndex: number;
  /** true when the kernel said `Unable to access opcode bytes`. */
  unavailable?: boolean;
  line?: number;
}

/** `func+0x10/0x40 [mod]` formatted as the kernel prints it. */
export function frameText(f: Pick<Frame, 'function' | 'offset' | 'size' | 'module'>): string {
  let s = f.function;
  if (f.offset !== undefined) s += `+0x${f.offset.toString(16)}`;
  if (f.offset !== undefined && f.size !== undefined) s += `/0x${f.size.toString(16)}`;
  if (f.module) s += ` [${f.module}]`;
  return s;
}

/** The program counter of a register set as hex (`rip` on x86_64, `pc` on arm64), when it has one. */
export function pcHex(r: Pick<RegisterSet, 'values'> | undefined): string | undefined {
  return r?.values.rip ?? r?.values.pc;
}

/** The stack pointer of a register set as hex (`rsp` / `sp`). */
export function spHex(r: Pick<RegisterSet, 'values'> | undefined): string | undefined {
  return r?.values.rsp ?? r?.values.sp;
}
