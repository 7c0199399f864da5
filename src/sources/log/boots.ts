/**
 * One log, several boots: a console capture or a journal kept across reboots holds many incidents. Lines are split
 * by boot — a `Linux version` banner, a journal `-- Boot <id> --` marker — and each boot gets its own LogMachine, so
 * reports, system facts and verdicts of different boots never mix.
 *
 * A kdump capture kernel booting after a crash (`elfcorehdr=` on its command line) is not a new incident: its lines
 * stay with the boot that crashed (the machine notes it). Lines before the first banner that are the same boot's
 * early output (timestamps not past the banner's) stay with it too.
 *
 * Each boot also keeps a fingerprint — its timestamped lines at the start and the end — so that two pieces of
 * evidence (a console log and a vmcore's own log) can be told to be of the same boot or not (`comparePrints`).
 */
import { LogMachine } from './machine.ts';
import { parsePrefix } from './prefix.ts';

export interface BootInfo {
  /** 1-based position among the boots of the log. */
  index: number;
  firstLine: number;
  lastLine: number;
  /** Kernel release of the boot's `Linux version` banner. */
  release?: string;
  /** The systemd boot id of the journal's `-- Boot <id> --` marker. */
  bootId?: string;
  /** Wall-clock time of the banner line, as the log prints it (dmesg -T, journal, syslog); absent for printk timestamps. */
  bootTime?: string;
  /**
   * What starts the boot: its banner, a journal marker, the printk clock starting again (lines of the boot's first
   * instant before its banner, or a boot whose banner is not in the log), or the start of the log (a log that begins
   * mid-boot).
   */
  start: 'banner' | 'journal' | 'timestamps' | 'log-start';
  /** Line of the banner of a kdump capture kernel that booted after this one crashed (its lines are part of this boot). */
  captureKernelLine?: number;
}

/** Timestamped lines of one boot (`ts|text`) and the time ranges they cover completely. */
export interface BootPrint {
  keys: Set<string>;
  ranges: Array<[number, number]>;
}

/** Lines kept for the fingerprint, at each end of a boot. */
const PRINT_LINES = 200;
/** How far past a new banner to look for its command line (a capture kernel says `elfcorehdr=` there). */
const LOOKAHEAD_LINES = 2000;

const RE_BANNER = /^Linux version (\S+) /;
const RE_JOURNAL_BOOT = /^-- (?:Boot ([0-9a-f]{32}) --|Reboot --)/;
const RE_CMDLINE = /^(?:Kernel )?[Cc]ommand line: /;
/** Whole seconds of a printk timestamp at the start of a line. */
const RE_TS_SECONDS = /^(?:<\d>)?\[\s*(\d+)\.\d+\]/;
/**
 * The printk clock back under one second after this many seconds is a new boot. Not any step back: lines printed
 * from NMI context carry the time they were recorded, tens of seconds before the lines around them.
 */
const CLOCK_RESTART = 5;
/** A line a kernel printed: a printk timestamp, dmesg -T's clock, or a syslog/journal `kernel:` tag. */
/** A kernel line behind mail quotes or console noise: the prefix parser finds its timestamp or `kernel:` tag. */
function isPrefixedKernelLine(raw: string): boolean {
  const c = raw.charCodeAt(0);
  if (c !== 0x3e /* > */ && c !== 0x7c /* | */ && c !== 0x20 && c !== 0x09 && c !== 0x6b /* k */ && !/\S\s*\[\s*\d+\.\d{6}\] /.test(raw)) return false;
  const p = parsePrefix(raw);
  return p.kernel && (p.ts !== undefined || p.wallclock !== undefined || p.format === 'syslog');
}

const RE_KERNEL_LINE = /^(?:<\d>)?\[\s*\d+\.\d+\]|^\[(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} |\skernel: /;

/** The substrings (for the fast scanner) of every line that can start a boot. */
export const BOOT_NEEDLES = ['Linux version ', '-- Boot ', '-- Reboot --', 'ommand line: '];

export interface FinishedBoot {
  info: BootInfo;
  machine: LogMachine;
  print?: BootPrint;
}

class Segment {
  readonly machine: LogMachine;
  readonly info: BootInfo;
  bannerSeen = false;
  lines = 0;
  kernelLines = 0;
  /** First timestamped lines: keys, and their time range. */
  private readonly firstKeys: string[] = [];
  private firstRange?: [number, number];
  /** The last lines (raw), a ring. */
  private readonly ring: string[] = [];
  private ringAt = 0;

  constructor(
    source: string,
    prefixed: boolean,
    info: BootInfo,
    private readonly prints: boolean,
  ) {
    this.machine = new LogMachine(source, prefixed);
    this.info = info;
  }

  feed(raw: string, lineNo: number, kernel: boolean): void {
    this.lines++;
    if (kernel) this.kernelLines++;
    this.info.lastLine = lineNo;
    this.machine.feed(raw, lineNo);
    if (!this.prints) return;
    if (this.firstKeys.length < PRINT_LINES) {
      const k = printKey(raw);
      if (k) {
        this.firstKeys.push(k.key);
        this.firstRange = this.firstRange ? [Math.min(this.firstRange[0], k.ts), Math.max(this.firstRange[1], k.ts)] : [k.ts, k.ts];
      }
    }
    if (this.ring.length < PRINT_LINES) this.ring.push(raw);
    else this.ring[this.ringAt] = raw;
    this.ringAt = (this.ringAt + 1) % PRINT_LINES;
  }

  print(): BootPrint | undefined {
    if (!this.prints) return undefined;
    const keys = new Set(this.firstKeys);
    const ranges: Array<[number, number]> = [];
    if (this.firstRange) ranges.push(this.firstRange);
    let range: [number, number] | undefined;
    for (const raw of this.ring) {
      const k = printKey(raw);
      if (!k) continue;
      keys.add(k.key);
      range = range ? [Math.min(range[0], k.ts), Math.max(range[1], k.ts)] : [k.ts, k.ts];
    }
    if (range) ranges.push(range);
    return { keys, ranges };
  }
}

/** `ts|text` of a line with a printk timestamp past the boot's first instant (lines at 0.000000 are alike in every boot). */
function printKey(raw: string): { key: string; ts: number } | undefined {
  const c = raw.charCodeAt(0);
  if (c !== 0x5b && c !== 0x3c && !raw.includes('kernel:')) return undefined;
  const p = parsePrefix(raw);
  if (p.ts === undefined || !p.kernel || p.ts <= 0) return undefined;
  const body = p.body.trim();
  if (!body) return undefined;
  return { key: `${p.ts.toFixed(6)}|${body}`, ts: p.ts };
}

/** Feeds lines, starting a new LogMachine at every new boot. */
export class BootSplitter {
  readonly finished: FinishedBoot[] = [];
  /** A kernel line (timestamp, `kernel:` tag) was seen anywhere in the log. */
  kernelLineSeen = false;
  private cur: Segment;
  /** Lines held after a banner until its command line says whether it is a capture kernel. */
  private pending?: { lines: Array<[string, number, boolean]>; line: number; bannerLine?: number; release?: string; bootTime?: string };

  /** `prints`: keep each boot's fingerprint (costs time; needed only to compare several pieces of evidence). */
  constructor(
    private readonly source: string,
    private readonly prefixed: boolean,
    private readonly prints = false,
  ) {
    this.cur = new Segment(source, prefixed, { index: 1, firstLine: 1, lastLine: 0, start: 'log-start' }, prints);
  }

  /** True while the next line must be fed (a report is open, or a new boot is being looked at). */
  busy(): boolean {
    return this.pending !== undefined || this.cur.machine.busy();
  }

  /** The last printk timestamp of the log (set by the fast scanner from the file's tail): the current boot's. */
  set lastTs(ts: number | undefined) {
    this.cur.machine.lastTs = ts;
  }

  feed(raw: string, lineNo: number): void {
    // Only whether a segment has any kernel line matters: stop testing once it has one.
    const kernel = this.cur.kernelLines === 0 || this.pending !== undefined ? RE_KERNEL_LINE.test(raw) || isPrefixedKernelLine(raw) : false;
    if (kernel) this.kernelLineSeen = true;
    let journal: RegExpExecArray | null = null;
    if (raw.charCodeAt(0) === 0x2d /* - */ && (journal = RE_JOURNAL_BOOT.exec(raw))) {
      if (this.pending) this.decide(false);
      if (this.hasContent()) this.startBoot(lineNo, 'journal');
      else this.cur.info.start = 'journal';
      if (journal[1]) this.cur.info.bootId = journal[1];
      this.cur.feed(raw, lineNo, false);
      return;
    }
    let banner: RegExpExecArray | null = null;
    let p: ReturnType<typeof parsePrefix> | undefined;
    if (raw.includes('Linux version ')) {
      p = parsePrefix(raw);
      banner = RE_BANNER.exec(p.body.trim());
    }
    if (banner && p) {
      const pend = this.pending;
      if (pend && pend.release === undefined) {
        // The banner of the boot whose first lines (clock restarted) are held.
        Object.assign(pend, { bannerLine: lineNo, release: banner[1], bootTime: p.wallclock });
        pend.lines.push([raw, lineNo, kernel]);
        return;
      }
      if (pend) this.decide(false);
      if (this.splitsAt(p.ts)) {
        this.pending = { lines: [[raw, lineNo, kernel]], line: lineNo, bannerLine: lineNo, release: banner[1], bootTime: p.wallclock };
        return;
      }
      this.markBanner(banner[1], p.wallclock);
      this.cur.feed(raw, lineNo, kernel);
      return;
    }
    if (this.pending) {
      this.pending.lines.push([raw, lineNo, kernel]);
      if (raw.includes('ommand line: ')) {
        const body = parsePrefix(raw).body.trim();
        if (RE_CMDLINE.test(body)) return this.decide(/\belfcorehdr=/.test(body));
      }
      if (lineNo - this.pending.line >= LOOKAHEAD_LINES) this.decide(false);
      return;
    }
    const c = raw.charCodeAt(0);
    if (c === 0x5b /* [ */ || c === 0x3c /* < */) {
      const last = this.cur.machine.lastTs;
      const m = last !== undefined && last >= CLOCK_RESTART ? RE_TS_SECONDS.exec(raw) : null;
      if (m && m[1] === '0' && this.hasContent()) {
        // The clock starts again: a new boot (or a capture kernel) whose banner may follow. Held until its command line.
        this.pending = { lines: [[raw, lineNo, kernel]], line: lineNo };
        return;
      }
    }
    this.cur.feed(raw, lineNo, kernel);
  }

  /** Ends the log of `lines` lines: every boot, in order (the last one runs to the end of the log). */
  finish(lines: number): FinishedBoot[] {
    if (this.pending) this.decide(false);
    this.cur.info.lastLine = Math.max(this.cur.info.lastLine, lines);
    this.finished.push({ info: this.cur.info, machine: this.cur.machine, print: this.cur.print() });
    return this.finished;
  }

  /** Does a banner (printed at `ts`) start a new boot, rather than continue the lines before it? */
  private splitsAt(ts: number | undefined): boolean {
    const s = this.cur;
    if (s.bannerSeen || s.machine.events.length > 0) return true;
    // Lines of an earlier boot (later timestamps) before this banner; not the same boot's first instant (`Booting Linux`).
    const last = s.machine.lastTs;
    return last !== undefined && ts !== undefined && last > ts + 1;
  }

  private hasContent(): boolean {
    const s = this.cur;
    return s.bannerSeen || s.kernelLines > 0 || s.machine.events.length > 0;
  }

  /** The held banner is a capture kernel (its lines join the boot that crashed) or a new boot. */
  private decide(capture: boolean): void {
    const p = this.pending!;
    this.pending = undefined;
    if (capture) {
      this.cur.info.captureKernelLine ??= p.bannerLine ?? p.line;
    } else {
      this.startBoot(p.line, p.bannerLine === p.line ? 'banner' : 'timestamps');
      if (p.release) this.markBanner(p.release, p.bootTime);
    }
    for (const [raw, no, kernel] of p.lines) this.cur.feed(raw, no, kernel);
  }

  private markBanner(release: string, bootTime: string | undefined): void {
    const s = this.cur;
    if (s.bannerSeen) return;
    s.bannerSeen = true;
    s.info.release ??= release;
    if (bootTime) s.info.bootTime ??= bootTime;
    if (s.info.start === 'log-start') s.info.start = 'banner';
  }

  private startBoot(line: number, start: BootInfo['start']): void {
    // A boot runs up to the next one (the fast scanner does not feed every line).
    this.cur.info.lastLine = line - 1;
    this.finished.push({ info: this.cur.info, machine: this.cur.machine, print: this.cur.print() });
    this.cur = new Segment(this.source, this.prefixed, { index: this.finished.length + 1, firstLine: line, lastLine: line - 1, start }, this.prints);
  }
}

/**
 * Whether two fingerprints are of the same boot: of the lines of one that fall in a time range the other covers
 * completely, how many the other has too. The same boot seen by two captures shares most of them (a console can
 * miss NMI-context lines); two boots share almost none (timestamps are microseconds).
 */
export function comparePrints(a: BootPrint, b: BootPrint): { verdict: 'same' | 'different' | 'unknown'; checked: number; shared: number } {
  const one = (x: BootPrint, y: BootPrint) => {
    let checked = 0;
    let shared = 0;
    for (const k of x.keys) {
      const ts = Number(k.slice(0, k.indexOf('|')));
      if (!y.ranges.some(([lo, hi]) => ts >= lo && ts <= hi)) continue;
      checked++;
      if (y.keys.has(k)) shared++;
    }
    return { checked, shared };
  };
  const ab = one(a, b);
  const ba = one(b, a);
  const best = ab.checked && ba.checked ? (ab.shared / ab.checked >= ba.shared / ba.checked ? ab : ba) : ab.checked ? ab : ba;
  if (best.checked < 10) return { verdict: 'unknown', ...best };
  const ratio = best.shared / best.checked;
  return { verdict: ratio >= 0.25 ? 'same' : ratio <= 0.03 ? 'different' : 'unknown', ...best };
}
