/**
 * What the detectors need to know of an architecture's calling convention and flags, so that one rule reads x86_64
 * and arm64 registers alike: the register a call's first argument is in, the callee-saved registers (which still hold
 * a caller's values down the stack), and how "interrupts disabled" is written.
 */
import type { RegisterSet } from './trace.ts';

export interface Abi {
  /** First argument register of a call (`rdi` / `x0`). */
  arg0: string;
  /** Registers a callee preserves: a value a caller put there survives into the frames below. */
  calleeSaved: ReadonlySet<string>;
  /** Registers a slow path keeps its lock argument in, first the argument register. */
  lockRegisters: readonly string[];
  /** The flag that says interrupts are disabled, as a kernel engineer writes it. */
  irqsOffFlag: string;
  /** The flags register's name in the register set. */
  flags: string;
}

const X86_64: Abi = {
  arg0: 'rdi',
  calleeSaved: new Set(['rbx', 'rbp', 'r12', 'r13', 'r14', 'r15']),
  lockRegisters: ['rdi', 'rbx'],
  irqsOffFlag: 'RFLAGS.IF clear',
  flags: 'eflags',
};

const ARM64: Abi = {
  arg0: 'x0',
  calleeSaved: new Set(['x19', 'x20', 'x21', 'x22', 'x23', 'x24', 'x25', 'x26', 'x27', 'x28']),
  lockRegisters: ['x0', 'x19'],
  irqsOffFlag: 'PSTATE.I set',
  flags: 'pstate',
};

/** The ABI of a register set (x86_64 when it does not say). */
export function abiOf(r: Pick<RegisterSet, 'arch'> | undefined): Abi {
  return r?.arch === 'arm64' ? ARM64 : X86_64;
}
