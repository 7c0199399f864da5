/** Shared by every entry point: format detection, the binary check, opening files, building the result. */
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { InputError } from '../../model/errors.ts';
import type { LogEvent } from '../../model/event.ts';
import type { Fact } from '../../model/provenance.ts';
import { BootSplitter, type BootInfo, type BootPrint, type FinishedBoot } from './boots.ts';
import { binaryReason, decodeLine, LineSplitter, MAX_LINE, type DecodeStats } from './lines.ts';
import type { SystemSummary } from './machine.ts';
import { parsePrefix, type PrefixFormat } from './prefix.ts';

export interface ParsedLog {
  source: string;
  format: string;
  /** Lines of the log (of the whole file, also when `boots` splits it). */
  lines: number;
  events: LogEvent[];
  system: SystemSummary;
  notes: string[];
  incomplete?: boolean;
  /** A line a kernel printed (printk timestamp, dmesg -T clock, `kernel:` tag) was seen: see `notKernelLogReason`. */
  kernelLineSeen?: boolean;
  /** Which boot of the log the events, system facts and notes are of (lines, release, boot id). */
  boot?: BootInfo;
  /** Timestamped lines of that boot, to tell whether another piece of evidence is of the same boot. */
  print?: BootPrint;
  /**
   * A log holding several boots: each boot parsed on its own, in order. The fields above are then those of one of
   * them (the last boot with an event, else the last boot); callers choose the incident (see sources/incidents.ts).
   */
  boots?: ParsedLog[];
}

export interface ParseOptions {
  /** Keep each boot's fingerprint (`print`), to compare the log with other evidence. Off by default: it costs time. */
  prints?: boolean;
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

/** Drives the LogMachines of a log's boots over its lines and builds the result. */
export class Session {
  readonly boots: BootSplitter;
  readonly splitter: LineSplitter;

  constructor(
    readonly label: string,
    readonly format: string,
    opts: ParseOptions = {},
  ) {
    this.boots = new BootSplitter(label, format !== 'unknown', opts.prints);
    this.splitter = new LineSplitter({ line: (text, no) => this.boots.feed(text, no) });
  }

  result(lines: number, stats: DecodeStats, extraNotes: string[] = []): ParsedLog {
    const fileNotes = [...extraNotes];
    if (stats.latin1Lines) fileNotes.push(`non-UTF-8 bytes replaced: ${stats.latin1Lines} line(s) decoded as Latin-1, first at line ${stats.firstLatin1Line}`);
    if (stats.longLines) fileNotes.push(`line ${stats.firstLongLine}: ${stats.longLines} line(s) longer than ${MAX_LINE} bytes, cut`);
    const boots = this.boots.finish(lines).map((b) => this.bootResult(b));
    const kernelLineSeen = this.boots.kernelLineSeen;
    const pick = boots.length === 1 ? boots[0] : ([...boots].reverse().find((b) => b.events.length > 0) ?? boots[boots.length - 1]);
    const out: ParsedLog = { ...pick, lines, notes: [...fileNotes, ...pick.notes], kernelLineSeen };
    if (boots.length > 1) out.boots = boots;
    return out;
  }

  private bootResult(b: FinishedBoot): ParsedLog {
    const m = b.machine;
    const events = m.finish();
    const out: ParsedLog = {
      source: this.label,
      format: this.format,
      lines: b.info.lastLine >= b.info.firstLine ? b.info.lastLine - b.info.firstLine + 1 : 0,
      events,
      system: m.system,
      notes: [...m.notes],
      boot: b.info,
    };
    if (b.print) out.print = b.print;
    if (m.incomplete) out.incomplete = true;
    return out;
  }
}

/**
 * Why a parsed log is not a kernel log, or undefined when it is one: empty, or not one line a kernel printed (no
 * printk timestamp, no `kernel:` tag, no report, no `Linux version`) — /etc/passwd, a program's journal, random text.
 */
export function notKernelLogReason(log: ParsedLog): string | undefined {
  if (log.lines === 0) return 'empty: no kernel log line in it';
  if (hasKernelLines(log) || SYSTEM_LOG_FORMATS.has(log.format)) return undefined;
  return `not a kernel log: no kernel log line in ${log.lines} line(s) (expected printk timestamps like "[   12.345678]", a syslog or journal "kernel:" tag, or a kernel report)`;
}

/** Syslog and journal formats: a system log whose excerpt holds no kernel line is still a log (see `noKernelLinesNote`). */
const SYSTEM_LOG_FORMATS = new Set(['journalctl short', 'journalctl short-monotonic', 'journalctl short-iso', 'syslog']);

function hasKernelLines(log: ParsedLog): boolean {
  const any = (l: ParsedLog) => l.events.length > 0 || l.system.release !== undefined;
  return !!log.kernelLineSeen || any(log) || !!log.boots?.some(any);
}

/** A system log (syslog, journal) without one kernel line: nothing in it speaks of the kernel, so it is no clean bill of health. */
export function noKernelLinesNote(log: ParsedLog): string | undefined {
  if (hasKernelLines(log)) return undefined;
  return `no kernel line in ${log.lines} line(s) of this ${log.format} log (only other programs' lines): it tells nothing about the kernel`;
}

export function checkBinary(head: Uint8Array, label: string): void {
  const why = binaryReason(head);
  if (why) throw new InputError(`not a kernel log (${why})`, label);
}

/** Opens a log file for reading, or throws InputError saying why not. */
/** Opens a log file, checks its first bytes are text, and starts a session in the format they show. */
export async function openLogSession(path: string, label: string, opts: ParseOptions = {}) {
  const { fh, size } = await openLog(path, label);
  try {
    const head = Buffer.alloc(SAMPLE_BYTES);
    const { bytesRead } = await fh.read(head, 0, SAMPLE_BYTES, 0);
    const h = head.subarray(0, bytesRead);
    checkBinary(h, label);
    return { fh, size, session: new Session(label, detectFormat(h, label), opts) };
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

