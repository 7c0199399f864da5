/** Shared by every entry point: format detection, the binary check, opening files, building the result. */
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError } from '../../model/errors.ts';
import type { LogEvent } from '../../model/event.ts';
import type { Fact } from '../../model/provenance.ts';
import { binaryReason, decodeLine, LineSplitter, MAX_LINE, type DecodeStats } from './lines.ts';
import { LogMachine, type SystemSummary } from './machine.ts';
import { parsePrefix, type PrefixFormat } from './prefix.ts';

export interface ParsedLog {
  source: string;
  format: string;
  lines: number;
  events: LogEvent[];
  system: SystemSummary;
  notes: string[];
  incomplete?: boolean;
}

/** How much of the start of a log decides its format. */
export const SAMPLE_BYTES = 64 * 1024;
export const CHUNK = 1024 * 1024;

/** The format of a log from its first bytes and its name. */
export function detectFormat(head: Uint8Array, label: string): string {
  const counts = new Map<PrefixFormat, number>();
  let bare = 0;
  let total = 0;
  let pos = 0;
  const stats: DecodeStats = { latin1Lines: 0, longLines: 0 };
  const n = Math.min(head.length, SAMPLE_BYTES);
  while (pos < n) {
    let nl = head.indexOf(0x0a, pos);
    if (nl < 0 || nl > n) nl = n;
    const text = decodeLine(head, pos, Math.min(nl, pos + MAX_LINE), 0, stats);
    pos = nl + 1;
    if (!text.trim()) continue;
    total++;
    const p = parsePrefix(text);
    if (p.format) counts.set(p.format, (counts.get(p.format) ?? 0) + 1);
    else bare++;
  }
  if (total === 0) return 'unknown';
  let best: PrefixFormat | undefined;
  let bestN = 0;
  for (const [f, c] of counts) {
    if (c > bestN) {
      best = f;
      bestN = c;
    }
  }
  if (!best || bestN < Math.max(1, total * 0.2)) return 'unknown';
  const name = basename(label).toLowerCase();
  if (best === 'dmesg') {
    if (name.includes('vmcore-dmesg')) return 'vmcore-dmesg';
    if (/console|serial|ttys|\.cap$/.test(name) || bare > total * 0.005) return 'serial console';
  }
  return best;
}

/** Drives a LogMachine over lines and builds the result. */
export class Session {
  readonly machine: LogMachine;
  readonly splitter: LineSplitter;

  constructor(
    readonly label: string,
    readonly format: string,
  ) {
    this.machine = new LogMachine(label, format !== 'unknown');
    this.splitter = new LineSplitter({ line: (text, no) => this.machine.feed(text, no) });
  }

  result(lines: number, stats: DecodeStats, extraNotes: string[] = []): ParsedLog {
    const m = this.machine;
    const events = m.finish();
    const notes = [...extraNotes];
    if (stats.latin1Lines) notes.push(`non-UTF-8 bytes replaced: ${stats.latin1Lines} line(s) decoded as Latin-1, first at line ${stats.firstLatin1Line}`);
    if (stats.longLines) notes.push(`line ${stats.firstLongLine}: ${stats.longLines} line(s) longer than ${MAX_LINE} bytes, cut`);
    notes.push(...m.notes);
    const out: ParsedLog = { source: this.label, format: this.format, lines, events, system: m.system, notes };
    if (m.incomplete) out.incomplete = true;
    return out;
  }
}

export function checkBinary(head: Uint8Array, label: string): void {
  const why = binaryReason(head);
  if (why) throw new InputError(`not a kernel log (${why})`, label);
}

/** Opens a log file for reading, or throws InputError saying why not. */
/** Opens a log file, checks its first bytes are text, and starts a session in the format they show. */
export async function openLogSession(path: string, label: string) {
  const { fh, size } = await openLog(path, label);
  try {
    const head = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(head, 0, SAMPLE_BYTES, 0);
    const h = head.subarray(0, bytesRead);
    checkBinary(h, label);
    return { fh, size, session: new Session(label, detectFormat(h, label)) };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export async function openLog(path: string, label: string) {
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}`, label);
  }
  if (st.isDirectory()) throw new InputError('is a directory, not a log file', label);
  try {
    return { fh: await open(path, 'r'), size: st.size };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'EACCES' ? 'permission denied' : `cannot read: ${(e as Error).message}`, label);
  }
}

