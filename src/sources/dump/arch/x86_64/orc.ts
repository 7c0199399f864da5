/**
 * ORC unwind tables read from the kernel's own memory: vmlinux's `__start_orc_unwind_ip` (s32
 * offsets relative to each slot), `__start_orc_unwind` (6-byte entries) and the `orc_lookup`
 * block index (one u32 per 256 bytes of text from _stext to _etext); modules' tables from
 * `struct module`.arch (num_orcs, orc_unwind_ip, orc_unwind).
 *
 * Entry formats (arch/x86/include/asm/orc_types.h): s16 sp_offset, s16 bp_offset, then 16 bits
 * of flags, sp_reg:4 and bp_reg:4 first, then
 *   v1 (up to 6.2): type:2 (0 call, 1 regs, 2 iret regs), end:1
 *   v2 (6.3):       type:2, signal:1, end:1
 *   v3 (6.4+):      type:3 (0 undefined, 1 end of stack, 2 call, 3 regs, 4 partial regs), signal:1
 * The kernel's BTF describes `struct orc_entry`, which tells the format.
 */

export const ORC_REG_UNDEFINED = 0;
export const ORC_REG_PREV_SP = 1;
export const ORC_REG_DX = 2;
export const ORC_REG_DI = 3;
export const ORC_REG_BP = 4;
export const ORC_REG_SP = 5;
export const ORC_REG_R10 = 6;
export const ORC_REG_R13 = 7;
export const ORC_REG_BP_INDIRECT = 8;
export const ORC_REG_SP_INDIRECT = 9;

export type OrcFormat = 'v1' | 'v2' | 'v3';
export type OrcType = 'undefined' | 'end' | 'call' | 'regs' | 'regs-partial';

export interface OrcEntry {
  spOffset: number;
  bpOffset: number;
  spReg: number;
  bpReg: number;
  type: OrcType;
  /** The IP is exact (a signal/interrupt frame), not a return address. */
  signal: boolean;
}

export const ORC_ENTRY_SIZE = 6;
const LOOKUP_BLOCK_SIZE = 256n;

/** Decodes one 6-byte entry. */
export function decodeOrcEntry(b: Buffer, at: number, format: OrcFormat): OrcEntry {
  const spOffset = b.readInt16LE(at);
  const bpOffset = b.readInt16LE(at + 2);
  const bits = b.readUInt16LE(at + 4);
  const spReg = bits & 0xf;
  const bpReg = (bits >> 4) & 0xf;
  let type: OrcType;
  let signal: boolean;
  if (format === 'v3') {
    const t = (bits >> 8) & 7;
    type = (['undefined', 'end', 'call', 'regs', 'regs-partial'] as const)[t] ?? 'undefined';
    signal = ((bits >> 11) & 1) === 1;
  } else {
    const t = (bits >> 8) & 3;
    const end = format === 'v1' ? (bits >> 10) & 1 : (bits >> 11) & 1;
    signal = format === 'v2' ? ((bits >> 10) & 1) === 1 : false;
    if (spReg === ORC_REG_UNDEFINED) type = end ? 'end' : 'undefined';
    else type = t === 0 ? 'call' : t === 1 ? 'regs' : t === 2 ? 'regs-partial' : 'undefined';
  }
  if (type === 'regs' || type === 'regs-partial') signal = true;
  return { spOffset, bpOffset, spReg, bpReg, type, signal };
}

/** Encodes an entry (tests build synthetic tables with it). */
export function encodeOrcEntry(e: OrcEntry, format: OrcFormat): Buffer {
  const b = Buffer.alloc(ORC_ENTRY_SIZE);
  b.writeInt16LE(e.spOffset, 0);
  b.writeInt16LE(e.bpOffset, 2);
  let bits = (e.spReg & 0xf) | ((e.bpReg & 0xf) << 4);
  if (format === 'v3') {
    const t = ['undefined', 'end', 'call', 'regs', 'regs-partial'].indexOf(e.type);
    bits |= (t << 8) | ((e.signal ? 1 : 0) << 11);
  } else {
    const t = e.type === 'regs' ? 1 : e.type === 'regs-partial' ? 2 : 0;
    const end = e.type === 'end' ? 1 : 0;
    bits |= t << 8;
    if (format === 'v1') bits |= end << 10;
    else bits |= ((e.signal ? 1 : 0) << 10) | (end << 11);
  }
  b.writeUInt16LE(bits, 4);
  return b;
}

/** The entry the kernel uses for IP 0 (a call through a NULL pointer): return address at the stack top. */
export const NULL_ORC_ENTRY: OrcEntry = { spOffset: 8, bpOffset: 0, spReg: ORC_REG_SP, bpReg: ORC_REG_UNDEFINED, type: 'call', signal: false };
/** The frame-pointer guess for code without ORC data (BPF, missing module tables). */
export const FP_ORC_ENTRY: OrcEntry = { spOffset: 16, bpOffset: -16, spReg: ORC_REG_BP, bpReg: ORC_REG_PREV_SP, type: 'call', signal: false };

type Read = (addr: bigint, len: number) => Buffer;

/** One sorted ORC table: `count` s32 IP slots at `ipTable`, entries at `entries`. */
export class OrcTable {
  constructor(
    private readonly read: Read,
    readonly ipTable: bigint,
    readonly entries: bigint,
    readonly count: number,
    readonly format: OrcFormat,
    /** Optional block index (vmlinux): covers [start, stop) in 256-byte blocks. */
    private readonly lookup?: { table: bigint; blocks: number; start: bigint; stop: bigint },
  ) {}

  private ipAt(i: number): bigint {
    const slot = this.ipTable + BigInt(i * 4);
    return BigInt.asUintN(64, slot + BigInt(this.read(slot, 4).readInt32LE(0)));
  }

  /** The rightmost entry whose IP is <= ip, within [lo, hi). */
  private search(ip: bigint, lo: number, hi: number): number | undefined {
    let first = lo;
    let last = hi - 1;
    let found: number | undefined;
    // At most 64 rounds: a bounded loop even over a damaged table.
    for (let guard = 0; first <= last && guard < 64; guard++) {
      const mid = first + ((last - first) >> 1);
      if (this.ipAt(mid) <= ip) {
        found = mid;
        first = mid + 1;
      } else last = mid - 1;
    }
    return found;
  }

  /** Whether `ip` is inside the range this table's index covers (vmlinux text). */
  covers(ip: bigint): boolean {
    return !!this.lookup && ip >= this.lookup.start && ip < this.lookup.stop;
  }

  /** Entry for `ip`, or undefined when the table has none (throws memory errors). */
  find(ip: bigint): OrcEntry | undefined {
    let lo = 0;
    let hi = this.count;
    if (this.lookup && ip >= this.lookup.start && ip < this.lookup.stop) {
      const idx = Number((ip - this.lookup.start) / LOOKUP_BLOCK_SIZE);
      if (idx < this.lookup.blocks - 1) {
        const b = this.read(this.lookup.table + BigInt(idx * 4), 8);
        const start = b.readUInt32LE(0);
        const stop = b.readUInt32LE(4) + 1;
        if (start < this.count && stop <= this.count && start < stop) {
          lo = start;
          hi = stop;
        }
      }
    }
    const i = this.search(ip, lo, hi);
    if (i === undefined) return undefined;
    return decodeOrcEntry(this.read(this.entries + BigInt(i * ORC_ENTRY_SIZE), ORC_ENTRY_SIZE), 0, this.format);
  }
}

export interface OrcSymbols {
  address(name: string): bigint | undefined;
}

/** The vmlinux table from its symbols, or the reason there is none. */
export function vmlinuxOrc(read: Read, syms: OrcSymbols, format: OrcFormat): OrcTable | string {
  const ip = syms.address('__start_orc_unwind_ip');
  const ipEnd = syms.address('__stop_orc_unwind_ip');
  const orc = syms.address('__start_orc_unwind');
  const orcEnd = syms.address('__stop_orc_unwind');
  if (ip === undefined || ipEnd === undefined || orc === undefined) return 'the kernel has no ORC tables (__start_orc_unwind_ip missing: CONFIG_UNWINDER_ORC off?)';
  const count = Number((ipEnd - ip) / 4n);
  if (count <= 0 || count > 10_000_000) return `implausible ORC table size (${count} entries)`;
  if (orcEnd !== undefined && (orcEnd - orc) / BigInt(ORC_ENTRY_SIZE) !== BigInt(count)) return 'ORC ip and entry tables differ in length';
  const lookup = syms.address('orc_lookup');
  const lookupEnd = syms.address('orc_lookup_end');
  const stext = syms.address('_stext');
  const etext = syms.address('_etext');
  const idx =
    lookup !== undefined && lookupEnd !== undefined && stext !== undefined && etext !== undefined && lookupEnd > lookup
      ? { table: lookup, blocks: Number((lookupEnd - lookup) / 4n), start: stext, stop: etext }
      : undefined;
  return new OrcTable(read, ip, orc, count, format, idx);
}
