/**
 * The kernel's compressed symbol table (kallsyms), decoded from the dump's own memory.
 *
 * Encoding facts (scripts/kallsyms.c, kernel/kallsyms.c):
 * - `kallsyms_names`: per symbol a length (one byte; since 6.1, when bit 7 is set, a second
 *   byte holds the high bits: len = (b0 & 0x7f) | (b1 << 7)) then `len` token indices.
 * - `kallsyms_token_index` (u16 x 256) points into `kallsyms_token_table` (NUL-terminated
 *   strings). The expansion's first character is the symbol type ('T', 't', 'D'...); since
 *   6.2 the type is never merged into a token with the name, which changes nothing for decoding.
 * - addresses: `kallsyms_addresses` (absolute, u64) or `kallsyms_offsets` (s32) with
 *   `kallsyms_relative_base`. With CONFIG_KALLSYMS_ABSOLUTE_PERCPU (x86_64 SMP before 6.15),
 *   non-negative offsets are absolute (per-CPU symbols) and negative ones are
 *   `relative_base - 1 - offset`; without it every offset is unsigned from the base.
 */

import { LITTLE_ENDIAN } from '../format/io.ts';

/** Reads kernel virtual memory; throws on unreadable memory. */
export type ReadFn = (vaddr: bigint, length: number) => Buffer;

export interface KallsymsLocation {
  names: bigint;
  numSyms: bigint;
  tokenTable: bigint;
  tokenIndex: bigint;
  offsets?: bigint;
  relativeBase?: bigint;
  addresses?: bigint;
}

export interface RawSymbol {
  name: string;
  type: string;
  address: bigint;
}

export class KallsymsError extends Error {
  constructor(
    message: string,
    readonly address?: bigint,
  ) {
    super(message);
    this.name = 'KallsymsError';
  }
}

/** Sequential reader over virtual memory, fetching `chunk` bytes at a time. */
class StreamReader {
  private buf: Buffer = Buffer.alloc(0);
  private bufStart: bigint;
  private pos = 0;
  constructor(
    private readonly read: ReadFn,
    start: bigint,
    private readonly chunk = 65536,
  ) {
    this.bufStart = start;
  }
  get address(): bigint {
    return this.bufStart + BigInt(this.pos);
  }
  private refill(): void {
    const at = this.address;
    // Read up to the next chunk boundary so reads stay page aligned after the first.
    const aligned = Number(BigInt(this.chunk) - (at % BigInt(this.chunk)));
    this.buf = this.read(at, aligned);
    this.bufStart = at;
    this.pos = 0;
  }
  byte(): number {
    if (this.pos >= this.buf.length) this.refill();
    return this.buf[this.pos++];
  }
}

const MAX_SYMS = 4_000_000;

/**
 * Symbols as parallel columns (kallsyms order): symbol i is named bytes[starts[i], ends[i]) (latin1), has type letter
 * types[i] and address addrs[i]. Decoding 150,000 symbols makes no object and no string per symbol.
 */
export interface SymbolColumns {
  addrs: BigUint64Array;
  bytes: Buffer;
  starts: Uint32Array;
  ends: Uint32Array;
  types: Uint8Array;
}


/** Decodes every symbol of the kallsyms tables at `loc`. */
export function decodeKallsyms(read: ReadFn, loc: KallsymsLocation): RawSymbol[] {
  const c = decodeKallsymsColumns(read, loc);
  return Array.from(c.addrs, (address, i) => ({ address, type: String.fromCharCode(c.types[i]), name: c.bytes.toString('latin1', c.starts[i], c.ends[i]) }));
}

/** Decodes every symbol of the kallsyms tables at `loc` into columns. */
export function decodeKallsymsColumns(read: ReadFn, loc: KallsymsLocation): SymbolColumns {
  const num = read(loc.numSyms, 4).readUInt32LE(0);
  if (num === 0 || num > MAX_SYMS) throw new KallsymsError(`kallsyms_num_syms is ${num}, not a plausible symbol count`, loc.numSyms);

  const tokIdx = read(loc.tokenIndex, 512);
  const tokOffsets: number[] = [];
  let maxOff = 0;
  for (let i = 0; i < 256; i++) {
    const o = tokIdx.readUInt16LE(i * 2);
    tokOffsets.push(o);
    if (o > maxOff) maxOff = o;
  }
  // The last token is at most a few dozen bytes long.
  const tokTable = read(loc.tokenTable, maxOff + 256);
  const tokStart = new Int32Array(256);
  const tokEnd = new Int32Array(256);
  let maxTok = 1;
  tokOffsets.forEach((o, i) => {
    let e = o;
    while (e < tokTable.length && tokTable[e] !== 0) e++;
    if (e >= tokTable.length) throw new KallsymsError(`kallsyms token ${i} is not terminated`, loc.tokenTable + BigInt(o));
    tokStart[i] = o;
    tokEnd[i] = e;
    maxTok = Math.max(maxTok, e - o);
  });

  const addrs = readAddresses(read, loc, num);
  const starts = new Uint32Array(num);
  const ends = new Uint32Array(num);
  const types = new Uint8Array(num);
  let bytes = Buffer.allocUnsafe(Math.max(4096, num * 24));
  let n = 0;
  const r = new StreamReader(read, loc.names);
  for (let i = 0; i < num; i++) {
    let len = r.byte();
    if (len & 0x80) len = (len & 0x7f) | (r.byte() << 7);
    if (len === 0) throw new KallsymsError(`kallsyms name ${i} has length 0`, r.address);
    const start = n;
    if (n + len * maxTok > bytes.length) {
      const bigger = Buffer.allocUnsafe(Math.ceil(bytes.length * 1.5) + len * maxTok);
      bytes.copy(bigger, 0, 0, n);
      bytes = bigger;
    }
    for (let j = 0; j < len; j++) {
      const t = r.byte();
      for (let k = tokStart[t], e = tokEnd[t]; k < e; k++) bytes[n++] = tokTable[k];
    }
    if (n - start < 2) throw new KallsymsError(`kallsyms name ${i} decodes to '${bytes.toString('latin1', start, n)}'`, r.address);
    // The expansion's first character is the type letter; the name follows it.
    types[i] = bytes[start];
    starts[i] = start + 1;
    ends[i] = n;
  }
  // An exact-size copy: the growing buffer (up to twice the names' size) is let go.
  return { addrs, bytes: Buffer.from(bytes.subarray(0, n)), starts, ends, types };
}

/** Symbol addresses, computed on 32-bit halves (no BigInt per symbol). */
function readAddresses(read: ReadFn, loc: KallsymsLocation, num: number): BigUint64Array {
  const out = new BigUint64Array(num);
  if (loc.offsets !== undefined && loc.relativeBase !== undefined) {
    const baseBuf = read(loc.relativeBase, 8);
    const base = baseBuf.readBigUInt64LE(0);
    const raw = read(loc.offsets, num * 4);
    let negatives = 0;
    for (let i = 0; i < num; i++) if (raw.readInt32LE(i * 4) < 0) negatives++;
    // Absolute-percpu encoding shows up as negative offsets for every kernel-image symbol.
    const absolutePercpu = negatives > 0;
    if (!LITTLE_ENDIAN) {
      for (let i = 0; i < num; i++) {
        const v = raw.readInt32LE(i * 4);
        if (!absolutePercpu) out[i] = base + BigInt(v >>> 0);
        else if (v >= 0) out[i] = BigInt(v);
        else out[i] = BigInt.asUintN(64, base - 1n - BigInt(v));
      }
      return out;
    }
    const halves = new Uint32Array(out.buffer);
    const baseLo = baseBuf.readUInt32LE(0);
    const baseHi = baseBuf.readUInt32LE(4);
    for (let i = 0; i < num; i++) {
      const v = raw.readInt32LE(i * 4);
      if (absolutePercpu && v >= 0) {
        halves[2 * i] = v;
        continue;
      }
      // base + u, where u = v (unsigned) or, for absolute-percpu negatives, -1 - v.
      const u = absolutePercpu ? ~v >>> 0 : v >>> 0;
      const lo = baseLo + u;
      halves[2 * i] = lo >>> 0;
      halves[2 * i + 1] = (baseHi + (lo > 0xffffffff ? 1 : 0)) >>> 0;
    }
    return out;
  }
  if (loc.addresses !== undefined) {
    const raw = read(loc.addresses, num * 8);
    if (LITTLE_ENDIAN && raw.byteOffset % 8 === 0) out.set(new BigUint64Array(raw.buffer, raw.byteOffset, num));
    else for (let i = 0; i < num; i++) out[i] = raw.readBigUInt64LE(i * 8);
    return out;
  }
  throw new KallsymsError('neither kallsyms_offsets+kallsyms_relative_base nor kallsyms_addresses is known');
}
