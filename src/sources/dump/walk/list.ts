/** Kernel linked lists (struct list_head), walked with guards: a corrupted list ends with a note, never a hang. */
import { UnreadableMemoryError } from '../kernel/errors.ts';
import type { Kernel, Value } from '../kernel/value.ts';

export interface WalkNotes {
  notes: string[];
}

/** Default bound on list length; lists longer than this are reported as suspicious and cut. */
export const MAX_LIST = 1_000_000;

/**
 * Yields the addresses of the list_head nodes after `head` (not `head` itself), following `next`.
 * Stops, with a note, on a NULL/unreadable pointer, a node seen twice that is not the head, or `max` nodes.
 */
export function* listNodes(kernel: Kernel, head: bigint, out?: WalkNotes, max = MAX_LIST, what = 'list'): Generator<bigint> {
  const seen = new Set<bigint>();
  let node = head;
  for (let n = 0; ; n++) {
    let next: bigint;
    try {
      next = kernel.read(node, 8, `${what} node`).readBigUInt64LE(0);
    } catch (e) {
      if (e instanceof UnreadableMemoryError) {
        out?.notes.push(`${what}: stopped after ${n} entries: ${e.because}`);
        return;
      }
      throw e;
    }
    if (next === head) return;
    if (next === 0n) {
      out?.notes.push(`${what}: NULL next pointer after ${n} entries (list corrupted or being modified)`);
      return;
    }
    if (seen.has(next)) {
      out?.notes.push(`${what}: loops back to 0x${next.toString(16)} after ${n} entries without reaching the head`);
      return;
    }
    if (n >= max) {
      out?.notes.push(`${what}: more than ${max} entries, stopped`);
      return;
    }
    seen.add(next);
    yield next;
    node = next;
  }
}

/** list_for_each_entry: yields each `type` that embeds the list_head `member`. */
export function* listEntries(kernel: Kernel, head: Value | bigint, type: string, member: string, out?: WalkNotes, max = MAX_LIST): Generator<Value> {
  const headAddr = typeof head === 'bigint' ? head : head.address;
  const what = typeof head === 'bigint' ? `list at 0x${headAddr.toString(16)}` : head.path;
  for (const node of listNodes(kernel, headAddr, out, max, what)) yield kernel.containerOf(node, type, member);
}
