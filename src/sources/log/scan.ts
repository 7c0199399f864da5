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
import { openLogSession, SAMPLE_BYTES, type ParsedLog } from './session.ts';

const SCAN_CHUNK = 8 * 1024 * 1024;

/**
 * What the scanner searches: short substrings (Buffer.indexOf is fastest for short needles with a rare first byte)
 * such that every line that can change the idle machine's state contains one — every header row that can start a
 * report, the system-fact lines, `Sending NMI`, the journal's boot markers (boots.ts). The `cut here` / `=====` preambles are not searched: the line before
 * every hit is fed first. Checked against the header samples by a test.
 */
export const SCAN_NEEDLES = ['BUG', 'MI', 'INFO', 'LOCKUP', 'WARN', 'UBSAN', 'Kernel', '[#', 'CSD', 'Show', 'Hardw', 'Machin', 'Uncorr', 'Out of', '!', 'Linux', 'Comman', 'CPUs', 'Unable', 'failur', 'oom-k', '-- Boot ', '-- Reboot', 'I/O', 'nvme', 'EXT4-fs', 'XFS (', 'BTRFS', 'JBD2', 'Aborting jo', 'timing out', 'FAILED Res', 'Emask', 'Disk fail', 'SCSI hang', 'bcache: ', 'reset req', 'Assertion failed', 'not respond', 'bad gso', 'Call Trace', 'Call trace', 'RIP: ', 'pc : ', 'NIP: ', 'Comm: ', 'unreferenced obj', 'Unhandled fault'];

export function scanNeedles(): string[] {
  return [...SCAN_NEEDLES];
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
  const { fh, size, session: s } = await openLogSession(path, label);
  try {
    const m = s.boots;
    const stats: DecodeStats = { latin1Lines: 0, longLines: 0 };
    const needles = SCAN_NEEDLES.map((n) => Buffer.from(n, 'latin1'));

    let lineNo = 0; // lines completed before `cursor`
    // The partial line carried over a chunk boundary (at most MAX_LINE bytes kept) and whether it overflowed.
    let carry = Buffer.alloc(0);
    let carryOverflow = false;
    // The last complete line before the current position when it was not fed (fed first if the next line is a hit:
    // it may be the `cut here` / `=====` preamble of the report that starts there).
    let prev: { b: Buffer; no: number; overflow: boolean } | undefined;
    let fileOff = 0;
    // two buffers: the next chunk is read while this one is scanned
    const bufs = [Buffer.alloc(SCAN_CHUNK), Buffer.alloc(SCAN_CHUNK)];
    let which = 0;
    let next = fh.read(bufs[0], 0, SCAN_CHUNK, 0);

    const feedBytes = (b: Buffer, start: number, end: number, no: number, overflow: boolean) => {
      if (overflow || end - start > MAX_LINE) {
        stats.longLines++;
        stats.firstLongLine ??= no;
        end = Math.min(end, start + MAX_LINE);
      }
      m.feed(decodeLine(b, start, end, no, stats), no);
    };
    const feedPrev = (no: number) => {
      if (prev && prev.no === no - 1) feedBytes(prev.b, 0, prev.b.length, prev.no, prev.overflow);
      prev = undefined;
    };
    const sequential = (off: number) => off < SAMPLE_BYTES || m.busy();

    for (;;) {
      const { bytesRead: n } = await next;
      if (n === 0) break;
      const chunk = bufs[which].subarray(0, n);
      which ^= 1;
      next = fh.read(bufs[which], 0, SCAN_CHUNK, fileOff + n);
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
        if (sequential(fileOff) || hasNeedle(carry, needles)) {
          feedPrev(lineNo);
          feedBytes(carry, 0, carry.length, lineNo, carryOverflow);
        } else prev = { b: carry, no: lineNo, overflow: carryOverflow };
        carry = Buffer.alloc(0);
        carryOverflow = false;
        pos = nl + 1;
      }
      const lastNl = chunk.lastIndexOf(10);
      const whole = lastNl < pos ? pos : lastNl + 1; // bytes [pos, whole) are complete lines
      let cursor = pos;
      const hits: number[] = [];
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
      let lastFedEnd = -1; // end (exclusive, after LF) of the last line fed in this chunk
      while (cursor < whole) {
        let start: number;
        if (sequential(fileOff + cursor)) {
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
          if (start > cursor) {
            // skip to the line before the hit and feed it first (preamble)
            const prevStart = start - 1 === 0 ? 0 : chunk.lastIndexOf(10, start - 2) + 1;
            const from = Math.max(prevStart, cursor);
            lineNo += countLF(chunk, cursor, from);
            if (from === prevStart) {
              lineNo++;
              prev = undefined;
              feedBytes(chunk, prevStart, start - 1, lineNo, false);
            } else lineNo += countLF(chunk, from, start);
          } else if (cursor === pos) feedPrev(lineNo + 1);
        }
        const nl = chunk.indexOf(10, start);
        lineNo++;
        if (start === cursor && cursor === pos) feedPrev(lineNo);
        feedBytes(chunk, start, nl, lineNo, false);
        cursor = nl + 1;
        lastFedEnd = cursor;
      }
      prev = undefined;
      if (whole > pos && lastFedEnd !== whole) {
        // the chunk's last complete line was skipped: keep it as a possible preamble
        const ls = whole - 1 === 0 ? 0 : chunk.lastIndexOf(10, whole - 2) + 1;
        const from = Math.max(ls, pos);
        prev = { b: Buffer.from(chunk.subarray(from, Math.min(whole - 1, from + MAX_LINE))), no: lineNo, overflow: whole - 1 - from > MAX_LINE };
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
      if (sequential(fileOff) || hasNeedle(carry, needles)) {
        feedPrev(lineNo);
        feedBytes(carry, 0, carry.length, lineNo, carryOverflow);
      }
    }
    // uptime: the last printk timestamp of the file, from its tail
    const lastTs = await tailTimestamp(fh, size);
    if (lastTs !== undefined) m.lastTs = Number(lastTs);
    return s.result(lineNo, stats);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read: ${(e as Error).message}`, label);
  } finally {
    await fh.close();
  }
}

function hasNeedle(b: Buffer, needles: Buffer[]): boolean {
  return needles.some((nd) => b.indexOf(nd) >= 0);
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
