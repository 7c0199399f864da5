/**
 * What every walker gets from the open dump: the typed kernel, and the few helpers that turn raw tasks and addresses
 * into the model's terms. Walkers are functions of this context (no state of their own), so the queries can cache
 * their answers and tests can run them on any dump.
 */
import type { SymbolRef, TaskRefAt } from '../../../model/queries.ts';
import type { Kernel } from '../kernel/value.ts';
import type { TaskInfo } from './sched.ts';
import type { StackWords } from './waits.ts';

export interface WalkContext {
  k: Kernel;
  ref(t: TaskInfo): TaskRefAt;
  symbolAt(addr: bigint): SymbolRef | undefined;
  addressOf(name: string): bigint | undefined;
  /** The words of a task's kernel stack, from its saved stack pointer to the top. */
  stackWords(t: TaskInfo): StackWords | undefined;
  /** The function names of a task's unwound kernel stack, innermost first. */
  framesOf(t: TaskInfo): string[];
}

/** Offset of a member path inside a type, as a bigint for address arithmetic. */
export function offsetOf(k: Kernel, type: string, path: string): bigint {
  return BigInt(k.type(type).offsetOf(path));
}

/** A 64-bit word of kernel memory. */
export function readU64(k: Kernel, a: bigint, what: string): bigint {
  return k.read(a, 8, what).readBigUInt64LE(0);
}

/** `{ unknown }` from a failed attempt. */
export function unknownOf(r: { ok: false; unknown: string }): { unknown: string } {
  return { unknown: r.unknown };
}
