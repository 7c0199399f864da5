/** Small helpers for detectors that ask the dump (CaseFile.kernel): CPU contexts, citations, objects. */
import type { CaseFile, KernelObject } from '../model/casefile.ts';
import type { Finding } from '../model/finding.ts';
import type { Fact } from '../model/provenance.ts';
import { symbolText, type CpuContext, type KernelQueries, type SymbolRef } from '../model/queries.ts';
import type { RegisterSet } from '../model/trace.ts';
import { IDLE_FUNCTIONS, isParked, matchesAny } from './known/frames.ts';
import { pcHex } from '../model/trace.ts';

/** A fact read from the dump at `address`. */
export function dumpFact(q: KernelQueries, text: string, address?: bigint, what = 'memory'): Fact {
  return { text, from: { kind: 'dump', source: q.source, ...(address !== undefined ? { address } : {}), what } };
}

/** `CPU 1 (forge_ring/1:129)`. */
export function cpuLabel(x: CpuContext): string {
  return `CPU ${x.cpu}${x.task ? ` (${x.task.comm}:${x.task.pid})` : ''}`;
}

/** `native_queued_spin_lock_slowpath+0x30 [mod]` for the PC of a register set. */
export function pcText(r: RegisterSet): string {
  const s = r.pcSymbol;
  if (!s) return pcHex(r) ? `0x${pcHex(r)}` : '?';
  return `${s.function}${s.offset ? `+0x${s.offset.toString(16)}` : ''}${s.module ? ` [${s.module}]` : ''}`;
}

/** Where the CPU was working: false for a note taken on the panic path whose interrupted context could not be read. */
export function working(x: CpuContext): boolean {
  return !(x.panicPath && x.from === 'note');
}

/** Idle, or parked on purpose by panic/kexec (stop_this_cpu and friends): not stuck. */
export function isIdleContext(c: CaseFile, x: CpuContext): boolean {
  const fn = x.registers.pcSymbol?.function;
  if (x.registers.mode === 'user' || !fn) return false;
  const stack = c.cpus.find((s) => s.cpu === x.cpu)?.stack ?? [];
  // A halt inside a stop routine counts too: the PC is in native_halt, its caller parks the CPU.
  return matchesAny(fn, IDLE_FUNCTIONS) || isParked(fn, stack.map((f) => f.function));
}

/** What the register note says about where the CPU is, in words. */
export function contextText(x: CpuContext): string {
  if (x.registers.mode === 'user') return `${cpuLabel(x)} runs in user space`;
  const irq = x.registers.irqsEnabled === false ? 'IRQs off' : x.registers.irqsEnabled ? 'IRQs on' : 'IRQs unknown';
  const how = x.from === 'nmi-frame' ? ` (interrupted by the NMI; the note itself is at ${x.noteAt})` : x.from === 'irq-frame' ? ` (where the interrupt that panicked hit it; the note itself is at ${x.noteAt})` : x.panicPath ? ` (on the panic path; where it was working is below the panic frames)` : '';
  return `${cpuLabel(x)} at ${pcText(x.registers)}, ${irq}${how}`;
}

/** Hex without 0x, as the model keeps addresses. */
export function hexOf(a: bigint): string {
  return a.toString(16);
}

/** The symbol name an object is known by: `jiffies_seq`, `forge_ring0` (member offsets are kept apart). */
export function objectSymbol(s: SymbolRef | undefined): string | undefined {
  return s?.name;
}

/** A one-line description of a symbol and offset: `forge_ring0 [forge_wedge]`, `jiffies_seq+0x4`. */
export function describeSymbol(s: SymbolRef | undefined, addr: bigint): string {
  return s ? symbolText(s) : `0x${addr.toString(16)}`;
}

/** Statement for roots found in a dump: how it was taken, and that a hypervisor dump has no panic. */
export function dumpTakenStep(q: KernelQueries): string | undefined {
  if (q.dumpedBy === 'hypervisor') return 'The dump was taken by the hypervisor from the running guest: there is no panic in it; every CPU was captured where it was spinning.';
  if (q.dumpedBy === 'kdump') return 'The dump was written by kdump: CPUs other than the panicking one were stopped by the kdump NMI, and their notes hold the context the NMI interrupted.';
  return undefined;
}
