/**
 * The fast path for huge logs: read big chunks, find trigger substrings with Buffer.indexOf (native), and decode and
 * feed only the lines that contain one — plus every following line while the machine says a report is open.
 *
 * Why the events are the same as parseLogFile's: while idle, the machine changes state only on a line holding one
 * of the trigger needles (every header row's needle, the preambles, the system-fact lines — checked by a test), and
 * once a report is open every line is fed in order until it closes, exactly as the full path does. Line numbers come
 * from counting LF bytes natively between fed lines. Differences: the non-UTF-8 note only counts decoded lines.
 */
import { InputError } from '../../model/errors.ts';
import { decodeLine, MAX_LINE, type DecodeStats } from './lines.ts';
import { parsePrefix } from './prefix.ts';
import { triggerNeedles } from './machine.ts';
import { checkBinary, detectFormat, openLog, SAMPLE_BYTES, Session, type ParsedLog } from './session.ts';

const SCAN_CHUNK = 8 * 1024 * 1024;

/** The needles to search: those not containing another needle (a line with `Sending NMI` also has `NMI `). */
export function scanNeedles(): string[] {
  const all = triggerNeedles();
  return all.filter((n) => !all.some((o) => o !== n && n.includes(o)));
}

/** Counts LF bytes in buf[from, to). */
function countLF(buf: Buffer, from: number, to: number): number {
  let c = 0;
  let p = buf.indexOf(10, from);
  while (p >= 0 && p < to) {
    c++;
    p = buf.indexOf(10, p + 1);
  }
  return c;
}

export async function scanLogFile(path: string, label: string = path): Promise<ParsedLog> {
  const { fh, size } = await openLog(path, label);
  try {
    const head = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(head, 0, SAMPLE_BYTES, 0);
    const h = head.subarray(0, bytesRead);
    checkBinary(h, label);
    const s = new Session(label, detectFormat(h, label));
    const m = s.machine;
    const stats: DecodeStats = { latin1Lines: 0, longLines: 0 };
    const needles = scanNeedles().map((n) => Buffer.from(n, 'latin1'));

    let lineNo = 0; // lines completed before `buf` position 0
    // The partial line carried over a chunk boundary (at most MAX_LINE bytes kept) and whether it overflowed.
    let carry = Buffer.alloc(0);
    let carryOverflow = false;
    let sequential = true; // feed every line: the first SAMPLE_BYTES, and while a report is open
    let fileOff = 0;
    const buf = Buffer.alloc(SCAN_CHUNK);
    let lastTsText: string | undefined;

    const feedBytes = (b: Buffer, start: number, end: number, no: number, overflow: boolean) => {
      if (overflow || end - start > MAX_LINE) {
        stats.longLines++;
        stats.firstLongLine ??= no;
        end = Math.min(end, start + MAX_LINE);
      }
      m.feed(decodeLine(b, start, end, no, stats), no);
    };

    for (;;) {
      const { bytesRead: n } = await fh.read(buf, 0, SCAN_CHUNK, fileOff);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      let pos = 0;
      // finish the carried line
      if (carry.length > 0 || carryOverflow) {
        const nl = chunk.indexOf(10);
        const end = nl < 0 ? n : nl;
        const room = MAX_LINE - carry.length;
        if (end > room) carryOverflow = true;
        carry = Buffer.concat([carry, chunk.subarray(0, Math.max(0, Math.min(room, end)))]);
        if (nl < 0) {
          fileOff += n;
          continue;
        }
        lineNo++;
        if (sequential || m.busy() || hasNeedle(carry, 0, carry.length, needles)) feedBytes(carry, 0, carry.length, lineNo, carryOverflow);
        carry = Buffer.alloc(0);
        carryOverflow = false;
        pos = nl + 1;
      }
      const lastNl = chunk.lastIndexOf(10);
      const whole = lastNl < pos ? pos : lastNl + 1; // bytes [pos, whole) are complete lines
      let cursor = pos; // lines before cursor are counted in lineNo
      if (sequential && fileOff + pos >= SAMPLE_BYTES && !m.busy()) sequential = false;
      if (!sequential && m.busy()) sequential = true;
      // hits, sorted
      let hits: number[] = [];
      if (whole > cursor) {
        for (const nd of needles) {
          let p = chunk.indexOf(nd, cursor);
          while (p >= 0 && p < whole) {
            hits.push(p);
            p = chunk.indexOf(nd, p + nd.length);
          }
        }
        hits.sort((a, b) => a - b);
      }
      let hi = 0;
      while (cursor < whole) {
        let start: number;
        if (sequential || m.busy()) {
          start = cursor;
        } else {
          while (hi < hits.length && hits[hi] < cursor) hi++;
          if (hi >= hits.length) {
            lineNo += countLF(chunk, cursor, whole);
            cursor = whole;
            break;
          }
          const hp = hits[hi];
          start = hp === 0 ? 0 : chunk.lastIndexOf(10, hp - 1) + 1;
          if (start < cursor) start = cursor;
          lineNo += countLF(chunk, cursor, start);
        }
        const nl = chunk.indexOf(10, start);
        lineNo++;
        feedBytes(chunk, start, nl, lineNo, false);
        cursor = nl + 1;
        if (sequential && fileOff + cursor >= SAMPLE_BYTES && !m.busy()) sequential = false;
      }
      // carry the partial last line
      if (whole < n) {
        const take = Math.min(MAX_LINE, n - whole);
        carry = Buffer.from(chunk.subarray(whole, whole + take));
        carryOverflow = n - whole > MAX_LINE;
      }
      fileOff += n;
    }
    if (carry.length > 0 || carryOverflow) {
      lineNo++;
      if (sequential || m.busy() || hasNeedle(carry, 0, carry.length, needles)) feedBytes(carry, 0, carry.length, lineNo, carryOverflow);
    }
    // uptime: the last printk timestamp of the file, from its tail
    lastTsText = await tailTimestamp(fh, size);
    if (lastTsText !== undefined) m.lastTs = Number(lastTsText);
    return s.result(lineNo, stats);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read: ${(e as Error).message}`, label);
  } finally {
    await fh.close();
  }
}

function hasNeedle(b: Buffer, start: number, end: number, needles: Buffer[]): boolean {
  for (const nd of needles) {
    const p = b.indexOf(nd, start);
    if (p >= 0 && p < end) return true;
  }
  return false;
}

async function tailTimestamp(fh: import('node:fs/promises').FileHandle, size: number): Promise<string | undefined> {
  const n = Math.min(size, SAMPLE_BYTES);
  const b = Buffer.alloc(n);
  await fh.read(b, 0, n, size - n);
  const stats: DecodeStats = { latin1Lines: 0, longLines: 0 };
  let pos = size > n ? b.indexOf(10) + 1 : 0;
  if (size > n && pos === 0) return undefined;
  let last: string | undefined;
  while (pos < n) {
    let nl = b.indexOf(10, pos);
    if (nl < 0) nl = n;
    const p = parsePrefix(decodeLine(b, pos, Math.min(nl, pos + MAX_LINE), 0, stats));
    if (p.ts !== undefined) last = String(p.ts);
    pos = nl + 1;
  }
  return last;
}
