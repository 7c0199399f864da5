/** arm64 CPU notes -> the model's RegisterSet, and what a PC inside the exception vectors says about the CPU. */
import type { RegisterSet } from '../../../../model/trace.ts';

/** PSTATE.I: IRQs masked (DAIF bit 7). */
export const PSTATE_I = 1n << 7n;

/** Registers of an arm64 user_pt_regs (x0-x30, sp, pc, pstate): mode from PSTATE.M[3:2] (EL0 = user), IRQs from PSTATE.I. */
export function arm64RegisterSet(r: Record<string, bigint>): RegisterSet {
  const values: Record<string, string> = {};
  for (const [name, v] of Object.entries(r)) values[name] = BigInt.asUintN(64, v).toString(16);
  const pstate = r.pstate;
  return {
    arch: 'arm64',
    values,
    mode: pstate === undefined ? undefined : ((pstate >> 2n) & 3n) === 0n ? 'user' : 'kernel',
    irqsEnabled: pstate === undefined ? undefined : (pstate & PSTATE_I) === 0n,
  };
}

/** One entry of the exception vector table (VBAR_EL1 + 0x80 * n). */
export interface VectorEntry {
  /** Where the exception came from: EL1 on SP_EL0 (`EL1t`), EL1 on its own stack (`EL1h`), 64- or 32-bit EL0. */
  from: 'EL1t' | 'EL1h' | 'EL0 (64-bit)' | 'EL0 (32-bit)';
  kind: 'sync' | 'irq' | 'fiq' | 'serror';
  /** The entry's first instruction: the CPU took the exception and has done nothing yet. */
  atEntry: boolean;
}

/** The vector entry a PC at `offset` bytes into `vectors` is in. */
export function vectorEntry(offset: number): VectorEntry | undefined {
  if (offset < 0 || offset >= 0x800) return undefined;
  const n = offset >> 7;
  const from = (['EL1t', 'EL1h', 'EL0 (64-bit)', 'EL0 (32-bit)'] as const)[n >> 2];
  const kind = (['sync', 'irq', 'fiq', 'serror'] as const)[n & 3];
  return { from, kind, atEntry: (offset & 0x7f) === 0 };
}

/** A symbol as the register reader needs it. */
type Sym = { name: string; offset: number; size: number; module?: string };

/** What an arm64 CPU note says about where the CPU was working. */
export interface Arm64CpuRegisters {
  registers: RegisterSet;
  /**
   * The note stopped at the first instruction of an IRQ/FIQ vector (`vectors+0x280 (IRQ from EL1h)`): the interrupted
   * PC is only in ELR_EL1, which the note lacks. The registers then say the interrupted context's mode and that its
   * interrupts were enabled; in the kernel, `pcSymbol` is the function its LR is in.
   */
  vectorEntry?: string;
}

/** The registers of an arm64 CPU note, with the PC's symbol, read through a vector entry where the note stopped at one. */
export function arm64CpuRegisters(r: Record<string, bigint>, symbolAt: (addr: bigint) => Sym | undefined, stripPac: (addr: bigint) => bigint): Arm64CpuRegisters {
  const registers = arm64RegisterSet(r);
  const pc = r.pc;
  const s = registers.mode === 'kernel' && pc !== undefined ? symbolAt(pc) : undefined;
  if (s) registers.pcSymbol = { function: s.name, offset: s.offset, size: s.size, ...(s.module ? { module: s.module } : {}) };
  const entry = s?.name === 'vectors' ? vectorEntry(s.offset) : undefined;
  if (!entry || !entry.atEntry || (entry.kind !== 'irq' && entry.kind !== 'fiq')) return { registers };
  const vector = `vectors+0x${s!.offset.toString(16)} (${entry.kind.toUpperCase()} from ${entry.from})`;
  registers.irqsEnabled = true;
  if (entry.from.startsWith('EL0')) registers.mode = 'user';
  else {
    delete registers.pcSymbol;
    const lr = r.x30 !== undefined ? stripPac(r.x30) : undefined;
    // The return address is the instruction after the call: its function is the one the call was made from.
    const f = lr !== undefined ? symbolAt(lr - 4n) : undefined;
    if (f) registers.pcSymbol = { function: f.name, offset: f.offset + 4, size: f.size, ...(f.module ? { module: f.module } : {}) };
  }
  return { registers, vectorEntry: vector };
}
