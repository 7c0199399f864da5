/** CPU notes -> the model's RegisterSet (x86_64). */
import type { RegisterSet } from '../../../../model/trace.ts';
import type { CpuNote } from '../../format/types.ts';

/** EFLAGS.IF: interrupts enabled. */
export const EFLAGS_IF = 1n << 9n;

/** Registers of a CPU note as the model has them: lower-case names, hex without 0x, mode from CS&3, IRQs from EFLAGS.IF. */
export function registerSetFromNote(note: CpuNote, opts: { withControl?: boolean } = {}): RegisterSet {
  const values: Record<string, string> = {};
  for (const [name, v] of Object.entries(note.registers)) values[name.toLowerCase()] = BigInt.asUintN(64, v).toString(16);
  if (opts.withControl !== false && note.control) {
    for (const name of ['cr0', 'cr2', 'cr3', 'cr4', 'kernel_gs_base']) {
      const v = note.control[name];
      if (v !== undefined && values[name] === undefined) values[name] = v.toString(16);
    }
  }
  const cs = note.registers.cs;
  const eflags = note.registers.eflags;
  return {
    arch: 'x86_64',
    values,
    mode: cs === undefined ? undefined : (cs & 3n) === 3n ? 'user' : 'kernel',
    irqsEnabled: eflags === undefined ? undefined : (eflags & EFLAGS_IF) !== 0n,
  };
}

/** Whether the note has any non-zero general register (kdump leaves empty crash notes for CPUs that were offline). */
export function noteHasRegisters(note: CpuNote): boolean {
  return Object.values(note.registers).some((v) => v !== 0n);
}
