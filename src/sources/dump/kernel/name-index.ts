/**
 * A hash index from names to entry numbers where the names are byte slices of one buffer (kallsyms names as decoded,
 * a BTF string section): built without making a JavaScript string per entry, so indexing 150,000 symbols or
 * 100,000 BTF types costs a pass over their bytes and two typed arrays.
 */

/** FNV-1a over bytes [start, end). */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ bytes[i], 0x01000193);
  return h >>> 0;
}

export class ByteNameIndex {
  private readonly heads: Int32Array;
  private readonly next: Int32Array;
  private readonly mask: number;

  /** Entry i is named bytes[starts[i], ends[i]); an empty name is not indexed. */
  constructor(
    private readonly bytes: Uint8Array,
    private readonly starts: Uint32Array,
    private readonly ends: Uint32Array,
  ) {
    const n = starts.length;
    let size = 16;
    while (size < n * 2) size *= 2;
    this.mask = size - 1;
    this.heads = new Int32Array(size).fill(-1);
    this.next = new Int32Array(n).fill(-1);
    // Inserted from the last entry so that every chain lists its entries in ascending order.
    for (let i = n - 1; i >= 0; i--) {
      const s = starts[i];
      const e = ends[i];
      if (e <= s) continue;
      const h = hashBytes(bytes, s, e) & this.mask;
      this.next[i] = this.heads[h];
      this.heads[h] = i;
    }
  }

  /** Every entry named `name`, ascending. */
  all(name: string): number[] {
    const out: number[] = [];
    const key = Buffer.from(name, 'latin1');
    const b = this.bytes;
    for (let i = this.heads[hashBytes(key, 0, key.length) & this.mask]; i >= 0; i = this.next[i]) {
      const s = this.starts[i];
      if (this.ends[i] - s !== key.length) continue;
      let k = 0;
      while (k < key.length && b[s + k] === key[k]) k++;
      if (k === key.length) out.push(i);
    }
    return out;
  }
}

/** The end of the NUL-terminated string at `start` (or `limit`). */
export function cStringEnd(bytes: Uint8Array, start: number, limit: number): number {
  let e = start;
  while (e < limit && bytes[e] !== 0) e++;
  return e;
}
