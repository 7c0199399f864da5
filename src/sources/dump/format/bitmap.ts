/** Page bitmaps of kdump-compressed dumps (bit n = page frame n, LSB first) with rank queries. */

const POP8 = new Uint8Array(256);
for (let i = 1; i < 256; i++) POP8[i] = (i & 1) + POP8[i >> 1];

/** Bits per rank block: the rank of a pfn is the prefix count of its block plus at most 63 bytes counted. */
const BLOCK_BYTES = 64;

export class PageBitmap {
  private prefix: Float64Array | undefined;

  /** `bits` may be shorter than the pfn range (a truncated bitmap): missing bits read as 0. */
  constructor(readonly bits: Buffer) {}

  /** Number of page frames the bitmap covers. */
  get length(): bigint {
    return BigInt(this.bits.length) * 8n;
  }

  has(pfn: bigint): boolean {
    if (pfn < 0n) return false;
    const byte = pfn >> 3n;
    if (byte >= BigInt(this.bits.length)) return false;
    return (this.bits[Number(byte)] & (1 << Number(pfn & 7n))) !== 0;
  }

  /** Number of set bits below `pfn`. */
  rank(pfn: bigint): number {
    const prefix = this.prefixCounts();
    const byte = Number(pfn >> 3n);
    if (byte >= this.bits.length) return prefix[prefix.length - 1];
    const block = Math.floor(byte / BLOCK_BYTES);
    let count = prefix[block];
    for (let i = block * BLOCK_BYTES; i < byte; i++) count += POP8[this.bits[i]];
    const partial = this.bits[byte] & ((1 << Number(pfn & 7n)) - 1);
    return count + POP8[partial];
  }

  /** Total set bits. */
  count(): number {
    const p = this.prefixCounts();
    return p[p.length - 1];
  }

  /** Calls `fn` for each run [start, end) of set bits. */
  *runs(): Generator<{ start: bigint; end: bigint }> {
    let start = -1;
    const n = this.bits.length;
    for (let i = 0; i < n; i++) {
      const b = this.bits[i];
      if (b === 0xff && start >= 0) continue;
      if (b === 0 && start < 0) continue;
      for (let k = 0; k < 8; k++) {
        const set = (b & (1 << k)) !== 0;
        const pfn = i * 8 + k;
        if (set && start < 0) start = pfn;
        else if (!set && start >= 0) {
          yield { start: BigInt(start), end: BigInt(pfn) };
          start = -1;
        }
      }
    }
    if (start >= 0) yield { start: BigInt(start), end: BigInt(n * 8) };
  }

  private prefixCounts(): Float64Array {
    if (this.prefix) return this.prefix;
    const blocks = Math.ceil(this.bits.length / BLOCK_BYTES);
    const prefix = new Float64Array(blocks + 1);
    let count = 0;
    for (let b = 0; b < blocks; b++) {
      prefix[b] = count;
      const end = Math.min(this.bits.length, (b + 1) * BLOCK_BYTES);
      for (let i = b * BLOCK_BYTES; i < end; i++) count += POP8[this.bits[i]];
    }
    prefix[blocks] = count;
    this.prefix = prefix;
    return prefix;
  }
}
