/**
 * makedumpfile's flattened format (makedumpfile -F, QEMU dump-guest-memory -z/-l/-s to a pipe): a 4 KiB
 * header starting "makedumpfile", then records {be64 offset, be64 size, data} that place data in the
 * (virtual) seekable file, ended by offset = size = -1. We index the records on open and serve reads
 * from them directly: the virtual file is never rebuilt. Later records win where records overlap;
 * holes read as zeros (as in the sparse file `makedumpfile -R` would write).
 */
import { FLATTENED_SIGNATURE } from './magic.ts';
import { InputError } from '../../../model/errors.ts';
import type { ByteSource } from './io.ts';

export { FLATTENED_SIGNATURE } from './magic.ts';
const HEADER_SIZE = 4096n;
const RECORD_HEADER = 16;

interface Extent {
  /** Offset in the virtual file. */
  start: bigint;
  end: bigint;
  /** Where the bytes of `start` are in the flattened file. */
  at: bigint;
}

export class FlattenedSource implements ByteSource {
  readonly path: string;
  readonly size: bigint;
  /** Damage found while indexing (truncated stream, missing end marker). */
  readonly problems: string[] = [];
  readonly recordCount: number;
  private readonly extents: Extent[];

  constructor(private readonly inner: ByteSource) {
    this.path = inner.path;
    const head = inner.readAt(0n, 32);
    if (head.toString('latin1', 0, FLATTENED_SIGNATURE.length) !== FLATTENED_SIGNATURE) {
      throw new InputError('not a makedumpfile flattened stream: expected "makedumpfile" signature', inner.path, 0);
    }
    if (head.length < 32) throw new InputError('flattened header truncated', inner.path, 0);
    const type = head.readBigInt64BE(16);
    const version = head.readBigInt64BE(24);
    if (type !== 1n) throw new InputError(`flattened header: type ${type}, expected 1`, inner.path, 16);
    if (version !== 1n) this.problems.push(`flattened header version ${version} (expected 1): reading anyway`);

    const records: Extent[] = [];
    let pos = HEADER_SIZE;
    let window: Buffer = Buffer.alloc(0);
    let windowAt = 0n;
    let ended = false;
    const WINDOW = 1 << 20;
    while (pos < inner.size) {
      if (pos < windowAt || pos + BigInt(RECORD_HEADER) > windowAt + BigInt(window.length)) {
        window = inner.readAt(pos, WINDOW);
        windowAt = pos;
      }
      const rel = Number(pos - windowAt);
      if (window.length - rel < RECORD_HEADER) {
        this.problems.push(`flattened stream truncated inside a record header at offset 0x${pos.toString(16)}`);
        break;
      }
      const offset = window.readBigInt64BE(rel);
      const size = window.readBigInt64BE(rel + 8);
      if (offset === -1n && size === -1n) {
        ended = true;
        break;
      }
      if (offset < 0n || size < 0n || size > 1n << 40n) {
        this.problems.push(`flattened record at offset 0x${pos.toString(16)} is damaged (offset ${offset}, size ${size}): stream cut there`);
        break;
      }
      const dataAt = pos + BigInt(RECORD_HEADER);
      let len = size;
      if (dataAt + size > inner.size) {
        len = inner.size - dataAt;
        this.problems.push(`flattened stream truncated: record at 0x${pos.toString(16)} has ${len} of ${size} bytes`);
      }
      if (len > 0n) records.push({ start: offset, end: offset + len, at: dataAt });
      pos = dataAt + size;
      if (len < size) break;
    }
    if (!ended && !this.problems.length) this.problems.push('flattened stream has no end marker (truncated?)');
    this.recordCount = records.length;
    this.extents = resolveOverlaps(records);
    this.size = this.extents.length ? this.extents[this.extents.length - 1].end : 0n;
  }

  readAt(offset: bigint, length: number): Buffer {
    if (offset < 0n || offset >= this.size || length <= 0) return Buffer.alloc(0);
    const n = Number(this.size - offset < BigInt(length) ? this.size - offset : BigInt(length));
    const out = Buffer.alloc(n);
    let i = this.find(offset);
    const end = offset + BigInt(n);
    for (; i < this.extents.length; i++) {
      const e = this.extents[i];
      if (e.start >= end) break;
      const from = e.start > offset ? e.start : offset;
      const to = e.end < end ? e.end : end;
      if (to <= from) continue;
      const part = this.inner.readAt(e.at + (from - e.start), Number(to - from));
      part.copy(out, Number(from - offset));
    }
    return out;
  }

  /** Index of the first extent that ends after `offset`. */
  private find(offset: bigint): number {
    let lo = 0;
    let hi = this.extents.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.extents[mid].end <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  close(): void {
    this.inner.close();
  }
}

/** Turns records in write order into sorted, disjoint extents where the later record wins (a sweep, O(n log n)). */
function resolveOverlaps(records: Extent[]): Extent[] {
  const sorted = records.map((r, seq) => ({ ...r, seq })).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.seq - b.seq));
  let overlapping = false;
  for (let i = 1; i < sorted.length && !overlapping; i++) if (sorted[i].start < sorted[i - 1].end) overlapping = true;
  if (!overlapping) return mergeAdjacent(sorted);
  const bounds = [...new Set(sorted.flatMap((r) => [r.start, r.end]))].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const heap = new MaxHeap<(typeof sorted)[number]>((a, b) => a.seq - b.seq);
  const out: Extent[] = [];
  let next = 0;
  for (let i = 0; i + 1 < bounds.length; i++) {
    const lo = bounds[i];
    const hi = bounds[i + 1];
    while (next < sorted.length && sorted[next].start <= lo) heap.push(sorted[next++]);
    while (heap.size && heap.peek()!.end <= lo) heap.pop();
    // Records that ended are dropped lazily: a covering record may still be under a dead top.
    const top = heap.peek();
    if (!top) continue;
    out.push({ start: lo, end: hi, at: top.at + (lo - top.start) });
  }
  return mergeAdjacent(out);
}

/** A binary max-heap. */
class MaxHeap<T> {
  private items: T[] = [];
  constructor(private readonly cmp: (a: T, b: T) => number) {}
  get size(): number {
    return this.items.length;
  }
  peek(): T | undefined {
    return this.items[0];
  }
  push(x: T): void {
    const a = this.items;
    a.push(x);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.cmp(a[i], a[p]) <= 0) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): T | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.cmp(a[l], a[m]) > 0) m = l;
        if (r < a.length && this.cmp(a[r], a[m]) > 0) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function mergeAdjacent(sorted: Extent[]): Extent[] {
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last && last.end === e.start && last.at + (last.end - last.start) === e.at) last.end = e.end;
    else out.push({ start: e.start, end: e.end, at: e.at });
  }
  return out;
}
