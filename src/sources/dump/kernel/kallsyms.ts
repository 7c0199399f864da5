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

/** Decodes every symbol of the kallsyms tables at `loc`. */
export function decodeKallsyms(read: ReadFn, loc: KallsymsLocation): RawSymbol[] {
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
  const tokens: string[] = tokOffsets.map((o, i) => {
    let e = o;
    while (e < tokTable.length && tokTable[e] !== 0) e++;
    if (e >= tokTable.length) throw new KallsymsError(`kallsyms token ${i} is not terminated`, loc.tokenTable + BigInt(o));
    return tokTable.toString('latin1', o, e);
  });

  const addrs = readAddresses(read, loc, num);

  const out: RawSymbol[] = new Array(num);
  const r = new StreamReader(read, loc.names);
  for (let i = 0; i < num; i++) {
    let len = r.byte();
    if (len & 0x80) len = (len & 0x7f) | (r.byte() << 7);
    if (len === 0) throw new KallsymsError(`kallsyms name ${i} has length 0`, r.address);
    let s = '';
    for (let j = 0; j < len; j++) s += tokens[r.byte()];
    if (s.length < 2) throw new KallsymsError(`kallsyms name ${i} decodes to '${s}'`, r.address);
    out[i] = { type: s[0], name: s.slice(1), address: addrs[i] };
  }
  return out;
}

function readAddresses(read: ReadFn, loc: KallsymsLocation, num: number): bigint[] {
  const out: bigint[] = new Array(num);
  if (loc.offsets !== undefined && loc.relativeBase !== undefined) {
    const base = read(loc.relativeBase, 8).readBigUInt64LE(0);
    const raw = read(loc.offsets, num * 4);
    let negatives = 0;
    for (let i = 0; i < num; i++) if (raw.readInt32LE(i * 4) < 0) negatives++;
    // Absolute-percpu encoding shows up as negative offsets for every kernel-image symbol.
    const absolutePercpu = negatives > 0;
    for (let i = 0; i < num; i++) {
      const v = raw.readInt32LE(i * 4);
      if (!absolutePercpu) out[i] = base + BigInt(v >>> 0);
      else if (v >= 0) out[i] = BigInt(v);
      else out[i] = BigInt.asUintN(64, base - 1n - BigInt(v));
    }
    return out;
  }
  if (loc.addresses !== undefined) {
    const raw = read(loc.addresses, num * 8);
    for (let i = 0; i < num; i++) out[i] = raw.readBigUInt64LE(i * 8);
    return out;
  }
  throw new KallsymsError('neither kallsyms_offsets+kallsyms_relative_base nor kallsyms_addresses is known');
}
