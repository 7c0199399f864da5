/**
 * dmesg from the printk ring buffer, laid out by VMCOREINFO (no debuginfo needed).
 *
 * - 5.10+: the lockless ring (kernel/printk/printk_ringbuffer.h). `prb` points to a
 *   printk_ringbuffer: a descriptor ring (2^count_bits prb_desc + printk_info, ids
 *   tail_id..head_id; state in the top 2 bits of state_var) and a text data ring
 *   (2^size_bits bytes; a block is an unsigned long id followed by the text; a block that
 *   would wrap is stored at the ring start instead).
 * - before 5.10: one buffer `log_buf` of variable-length `struct printk_log` records from
 *   log_first_idx to log_next_idx; a record of len 0 means "continue at the buffer start".
 *
 * `formatLog` prints records exactly as crash's `log` command does.
 */
import type { Vmcoreinfo } from '../format/vmcoreinfo.ts';
import { isMemoryError } from '../kernel/errors.ts';

export type ReadFn = (vaddr: bigint, length: number) => Buffer;

export interface LogRecord {
  /** Sequence number (lockless ring only). */
  seq?: bigint;
  /** Timestamp in ns since boot (local_clock). */
  tsNsec: bigint;
  /** Raw text bytes (may contain '\n' for multi-line records). */
  text: Buffer;
  /** Caller id: bit 31 set = CPU number, else task pid (CONFIG_PRINTK_CALLER / 5.10+). */
  callerId?: number;
  /** A record whose text block is data-less (lost or empty): crash prints an empty line. */
  dataless?: boolean;
  /** Part of the text could not be read. */
  damaged?: boolean;
}

export interface PrintkLog {
  kind: 'lockless' | 'variable-length';
  records: LogRecord[];
  /** What was skipped, truncated or unreadable. */
  notes: string[];
}

const PAGE = 4096;

/** Reads a region; where pages are unreadable, fills zeros and records their page indexes. */
function readRegion(read: ReadFn, addr: bigint, len: number): { buf: Buffer; bad: Set<number> } {
  try {
    return { buf: read(addr, len), bad: new Set() };
  } catch (e) {
    if (!isMemoryError(e)) throw e;
  }
  const buf = Buffer.alloc(len);
  const bad = new Set<number>();
  let off = 0;
  while (off < len) {
    const at = addr + BigInt(off);
    const n = Math.min(len - off, PAGE - Number(at % BigInt(PAGE)));
    try {
      read(at, n).copy(buf, off);
    } catch (e) {
      if (!isMemoryError(e)) throw e;
      for (let p = Math.floor(off / PAGE); p <= Math.floor((off + n - 1) / PAGE); p++) bad.add(p);
    }
    off += n;
  }
  return { buf, bad };
}

function rangeBad(bad: Set<number>, start: number, end: number): boolean {
  if (bad.size === 0) return false;
  for (let p = Math.floor(start / PAGE); p <= Math.floor(Math.max(start, end - 1) / PAGE); p++) if (bad.has(p)) return true;
  return false;
}

function need(map: Map<string, number>, key: string, what: string): number {
  const v = map.get(key);
  if (v === undefined) throw new Error(`VMCOREINFO lacks ${what}(${key})`);
  return v;
}

/** Which ring this dump has, from VMCOREINFO. */
export function printkKind(vi: Vmcoreinfo): PrintkLog['kind'] | undefined {
  if (vi.symbols.has('prb') && vi.offsets.has('printk_ringbuffer.desc_ring')) return 'lockless';
  if (vi.symbols.has('log_buf') && vi.sizes.has('printk_log')) return 'variable-length';
  if (vi.symbols.has('log_buf') && vi.sizes.has('log')) return 'variable-length';
  return undefined;
}

/** Reads the whole log. Throws only when the ring's own header is unreadable or VMCOREINFO lacks its layout. */
export function readPrintkLog(read: ReadFn, vi: Vmcoreinfo): PrintkLog {
  const kind = printkKind(vi);
  if (kind === 'lockless') return readLockless(read, vi);
  if (kind === 'variable-length') return readVariableLength(read, vi);
  throw new Error('VMCOREINFO describes neither the lockless printk ring (prb) nor log_buf');
}

const ID_MASK = (1n << 62n) - 1n;
const STATE_COMMITTED = 1n;
const STATE_FINALIZED = 2n;

function readLockless(read: ReadFn, vi: Vmcoreinfo): PrintkLog {
  const notes: string[] = [];
  const O = (k: string) => need(vi.offsets, k, 'OFFSET');
  const S = (k: string) => need(vi.sizes, k, 'SIZE');
  const counter = vi.offsets.get('atomic_long_t.counter') ?? 0;

  const prbPtr = vi.symbols.get('prb')!;
  const prb = read(prbPtr, 8).readBigUInt64LE(0);
  const hdr = read(prb, S('printk_ringbuffer'));
  const dr = O('printk_ringbuffer.desc_ring');
  const tr = O('printk_ringbuffer.text_data_ring');
  const countBits = hdr.readUInt32LE(dr + O('prb_desc_ring.count_bits'));
  const descsAddr = hdr.readBigUInt64LE(dr + O('prb_desc_ring.descs'));
  const infosAddr = hdr.readBigUInt64LE(dr + O('prb_desc_ring.infos'));
  const headId = hdr.readBigUInt64LE(dr + O('prb_desc_ring.head_id') + counter);
  const tailId = hdr.readBigUInt64LE(dr + O('prb_desc_ring.tail_id') + counter);
  const sizeBits = hdr.readUInt32LE(tr + O('prb_data_ring.size_bits'));
  const dataAddr = hdr.readBigUInt64LE(tr + O('prb_data_ring.data'));
  if (countBits > 24 || sizeBits > 32 || sizeBits < 4) {
    throw new Error(`printk ring header looks corrupted (count_bits ${countBits}, size_bits ${sizeBits})`);
  }
  const count = 1 << countBits;
  const dataSize = 2 ** sizeBits;

  const descSize = S('prb_desc');
  const infoSize = S('printk_info');
  const oState = O('prb_desc.state_var') + counter;
  const oLpos = O('prb_desc.text_blk_lpos');
  const oBegin = O('prb_data_blk_lpos.begin');
  const oNext = O('prb_data_blk_lpos.next');
  const oSeq = O('printk_info.seq');
  const oTs = O('printk_info.ts_nsec');
  const oLen = O('printk_info.text_len');
  const oCaller = vi.offsets.get('printk_info.caller_id');

  const descs = readRegion(read, descsAddr, count * descSize);
  const infos = readRegion(read, infosAddr, count * infoSize);
  const data = readRegion(read, dataAddr, dataSize);
  if (descs.bad.size) notes.push(`${descs.bad.size} page(s) of the printk descriptor ring are unreadable; their records are skipped`);
  if (infos.bad.size) notes.push(`${infos.bad.size} page(s) of the printk info ring are unreadable; their records are skipped`);
  if (data.bad.size) notes.push(`${data.bad.size} page(s) of the printk text ring are unreadable; affected records are marked`);

  const span = (headId - tailId) & ID_MASK;
  let last = headId;
  if (span >= BigInt(count)) {
    notes.push(`printk ring ids span ${span} records but the ring holds ${count}: tail_id/head_id look corrupted, reading the last ${count}`);
    last = headId;
  }
  const first = span >= BigInt(count) ? (headId - BigInt(count - 1)) & ID_MASK : tailId;

  const records: LogRecord[] = [];
  let skipped = 0;
  const total = Number(((last - first) & ID_MASK) + 1n);
  let id = first;
  for (let n = 0; n < total; n++, id = (id + 1n) & ID_MASK) {
    const slot = Number(id % BigInt(count));
    const d = slot * descSize;
    if (rangeBad(descs.bad, d, d + descSize)) {
      skipped++;
      continue;
    }
    const sv = descs.buf.readBigUInt64LE(d + oState);
    if ((sv & ID_MASK) !== id) continue;
    const state = (sv >> 62n) & 3n;
    if (state !== STATE_COMMITTED && state !== STATE_FINALIZED) continue;
    const inf = slot * infoSize;
    if (rangeBad(infos.bad, inf, inf + infoSize)) {
      skipped++;
      continue;
    }
    const seq = infos.buf.readBigUInt64LE(inf + oSeq);
    const tsNsec = infos.buf.readBigUInt64LE(inf + oTs);
    let textLen = infos.buf.readUInt16LE(inf + oLen);
    const callerId = oCaller !== undefined ? infos.buf.readUInt32LE(inf + oCaller) : undefined;
    let begin = Number(descs.buf.readBigUInt64LE(d + oLpos + oBegin) % BigInt(dataSize));
    const next = Number(descs.buf.readBigUInt64LE(d + oLpos + oNext) % BigInt(dataSize));
    if (begin === next) {
      records.push({ seq, tsNsec, text: Buffer.alloc(0), callerId, dataless: true });
      continue;
    }
    if (begin > next) begin = 0; // the block wrapped: its data sits at the ring start
    begin += 8; // skip the block's id
    if (next < begin) {
      records.push({ seq, tsNsec, text: Buffer.alloc(0), callerId, damaged: true });
      continue;
    }
    if (next - begin < textLen) textLen = next - begin;
    const damaged = rangeBad(data.bad, begin, begin + textLen);
    records.push({ seq, tsNsec, text: data.buf.subarray(begin, begin + textLen), callerId, ...(damaged ? { damaged } : {}) });
  }
  if (skipped) notes.push(`${skipped} printk record(s) skipped: their descriptors are unreadable`);
  return { kind: 'lockless', records, notes };
}

function readVariableLength(read: ReadFn, vi: Vmcoreinfo): PrintkLog {
  const notes: string[] = [];
  const struct = vi.sizes.has('printk_log') ? 'printk_log' : 'log';
  const hdrSize = need(vi.sizes, struct, 'SIZE');
  const oTs = need(vi.offsets, `${struct}.ts_nsec`, 'OFFSET');
  const oLen = need(vi.offsets, `${struct}.len`, 'OFFSET');
  const oTextLen = need(vi.offsets, `${struct}.text_len`, 'OFFSET');
  const sym = (n: string) => {
    const a = vi.symbols.get(n);
    if (a === undefined) throw new Error(`VMCOREINFO lacks SYMBOL(${n})`);
    return a;
  };
  const logBuf = read(sym('log_buf'), 8).readBigUInt64LE(0);
  const bufLen = read(sym('log_buf_len'), 4).readUInt32LE(0);
  const firstIdx = read(sym('log_first_idx'), 4).readUInt32LE(0);
  const nextIdx = read(sym('log_next_idx'), 4).readUInt32LE(0);
  if (bufLen === 0 || bufLen > 1 << 30) throw new Error(`log_buf_len ${bufLen} is not plausible`);
  const { buf, bad } = readRegion(read, logBuf, bufLen);
  if (bad.size) notes.push(`${bad.size} page(s) of log_buf are unreadable; the log stops at the first one`);

  const records: LogRecord[] = [];
  const seen = new Set<number>();
  let idx = firstIdx;
  let guard = 0;
  const maxRecords = Math.ceil(bufLen / hdrSize) + 1;
  while (idx !== nextIdx) {
    if (++guard > maxRecords || seen.has(idx)) {
      notes.push(`log_buf records loop at index ${idx}: stopped`);
      break;
    }
    seen.add(idx);
    if (idx + hdrSize > bufLen || rangeBad(bad, idx, idx + hdrSize)) {
      notes.push(`log_buf record at index ${idx} is unreadable or out of bounds: stopped`);
      break;
    }
    let at = idx;
    let len = buf.readUInt16LE(at + oLen);
    if (len === 0) {
      // End-of-buffer marker: the record is at the start of the buffer.
      at = 0;
      len = buf.readUInt16LE(oLen);
      if (len === 0) {
        notes.push('log_buf wraps to an empty record: stopped');
        break;
      }
    }
    const textLen = Math.min(buf.readUInt16LE(at + oTextLen), Math.max(0, bufLen - at - hdrSize));
    const tsNsec = buf.readBigUInt64LE(at + oTs);
    const damaged = rangeBad(bad, at + hdrSize, at + hdrSize + textLen);
    records.push({ tsNsec, text: buf.subarray(at + hdrSize, at + hdrSize + textLen), ...(damaged ? { damaged } : {}) });
    idx = at + len;
    if (idx >= bufLen) {
      if (firstIdx > nextIdx) idx = 0;
      else {
        notes.push(`log_buf record at index ${at} runs past the buffer end: stopped`);
        break;
      }
    }
  }
  return { kind: 'variable-length', records, notes };
}

/** `[    1.234567] ` as crash and the kernel print it. */
export function timestamp(tsNsec: bigint): string {
  const sec = tsNsec / 1_000_000_000n;
  const usec = (tsNsec % 1_000_000_000n) / 1000n;
  return `[${sec.toString().padStart(5, ' ')}.${usec.toString().padStart(6, '0')}] `;
}

/** isprint() || isspace() in the C locale. */
function keep(b: number): boolean {
  return (b >= 0x20 && b <= 0x7e) || (b >= 0x09 && b <= 0x0d);
}

/**
 * One record as crash's `log` prints it: timestamp, text with non-printable bytes as '.',
 * each embedded newline followed by indentation to the text column; data-less records
 * print as an empty line.
 */
export function formatRecord(r: LogRecord): string {
  if (r.dataless) return '';
  const ts = timestamp(r.tsNsec);
  const indent = ' '.repeat(ts.length);
  let s = ts;
  const t = r.text;
  let runStart = 0;
  for (let i = 0; i < t.length; i++) {
    const b = t[i];
    if (b === 0x0a) {
      s += t.toString('latin1', runStart, i) + '\n' + indent;
      runStart = i + 1;
    } else if (!keep(b)) {
      s += t.toString('latin1', runStart, i) + '.';
      runStart = i + 1;
    }
  }
  s += t.toString('latin1', runStart);
  return s;
}

/** The whole log as lines (multi-line records give several lines). */
export function formatLog(records: Iterable<LogRecord>): string[] {
  const out: string[] = [];
  for (const r of records) out.push(...formatRecord(r).split('\n'));
  return out;
}
