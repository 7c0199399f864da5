/**
 * Line prefixes of every supported log format: what comes before the kernel's message text
 * (printk timestamp, caller id, wall clock, host, syslog tag). Formats are data: one row each.
 */

export interface Prefixed {
  /** The kernel message text, leading whitespace kept (frames are indented). */
  body: string;
  /** printk timestamp, seconds since boot. */
  ts?: number;
  /** Wall-clock text as printed (dmesg -T, journalctl, syslog, ISO). */
  wallclock?: string;
  /** printk caller id (`T123` task / `C1` CPU), when the kernel printed it. */
  caller?: string;
  host?: string;
  /** Which format row matched; undefined for a bare line. */
  format?: PrefixFormat;
  /** false for lines of a syslog/journal that come from another program than the kernel. */
  kernel: boolean;
  /** The line was quoted (mail `> `, ticket `| `): its prefix was removed. */
  quoted?: boolean;
}

export type PrefixFormat =
  | 'dmesg'
  | 'dmesg -T'
  | 'journalctl short'
  | 'journalctl short-monotonic'
  | 'journalctl short-iso'
  | 'syslog';

const MON = '(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)';
const DAY = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)';

/** `[  12.345678]` optionally followed by a caller id `[T123]` / `[  C1]`. */
const RE_DMESG = /^(?:<\d>)?\[\s*(\d+\.\d+)\](?:\[\s*([TC]\d+)\])?\s?/;
/** dmesg -T: `[Sat Nov 21 22:54:13 2026]`. */
const RE_DMESG_T = new RegExp(`^\\[(${DAY} ${MON} +\\d+ \\d\\d:\\d\\d:\\d\\d \\d{4})\\](?:\\[\\s*([TC]\\d+)\\])?\\s?`);
/** journalctl short / classic syslog: `Nov 21 22:54:13 host tag: `. */
const RE_SHORT = new RegExp(`^(${MON} +\\d+ \\d\\d:\\d\\d:\\d\\d) (\\S+) ([^:\\s]+?)(?:\\[\\d+\\])?: ?`);
/** journalctl short-monotonic: `[   12.345678] host kernel: `. */
const RE_MONO = /^\[\s*(\d+\.\d+)\] (\S+) ([^:\s]+?)(?:\[\d+\])?: ?/;
/** short-iso / rsyslog RFC3339: `2026-11-21T22:54:13+0000 host kernel: `. */
const RE_ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?) (\S+) ([^:\s]+?)(?:\[\d+\])?: ?/;

/** Mail quoting (`> `, `>> `, `> | `) and a bug tracker's `| ` before a pasted log line. */
const RE_QUOTE = /^(?:[ \t]{0,4}[>|](?=[ \t>|]|$)[ \t]?)+/;
/** A syslog line whose host field is missing: `May 25 05:27:59 kernel: `. */
const RE_SHORT_NOHOST = new RegExp(`^(${MON} +\\d+ \\d\\d:\\d\\d:\\d\\d) +(kernel): ?`);

/** Parses the prefix of one line. Cheap for the common case (first character decides). */
export function parsePrefix(line: string): Prefixed {
  const q = line.charCodeAt(0);
  // Quoted in a mail or a ticket: the quote marks come before everything else.
  if (q === 0x3e /* > */ || ((q === 0x7c /* | */ || q === 0x20) && RE_QUOTE.test(line))) {
    const m = RE_QUOTE.exec(line);
    if (m && m[0].length) {
      const p = parseLine(line.slice(m[0].length));
      return { ...p, quoted: true };
    }
  }
  return parseLine(line);
}

/** A printk timestamp glued behind console noise (a login prompt, a serial-console banner): `host login: [  562.3] BUG: ...`. */
const RE_GLUED = /\S\s*(\[\s*\d+\.\d{6}\] )/;

function parseLine(raw: string): Prefixed {
  // Some archives print a tab as the four characters `\x09`.
  const line = raw.includes('\\x09') ? raw.replace(/\\x09/g, '\t') : raw;
  const p = parsePlain(line);
  if (p.format !== undefined || line.length < 16) return p;
  const g = RE_GLUED.exec(line);
  if (g && g.index < 120) {
    const at = g.index + g[0].length - g[1].length;
    const q = parsePlain(line.slice(at));
    if (q.format === 'dmesg') return q;
  }
  return p;
}

/** A log indented by a mail or a document (tabs, spaces) before its printk timestamp. */
const RE_INDENTED_TS = /^[ \t]+(?=(?:<\d>)?\[\s*(?:\d+\.\d+)?\s*\])/;
/** A bare syslog tag with no date or host (`kernel: BUG: ...`), as people paste from journals. */
const RE_BARE_TAG = /^kernel: /;

function parsePlain(raw: string): Prefixed {
  const ind = RE_INDENTED_TS.exec(raw);
  const line = ind ? raw.slice(ind[0].length) : raw;
  if (RE_BARE_TAG.test(line)) return { ...tagged(line.slice(8), 'kernel', { format: 'syslog' }) };
  const c = line.charCodeAt(0);
  if (c === 0x5b /* [ */ || c === 0x3c /* < */) {
    // short-monotonic has a host and `kernel:` after the timestamp; plain dmesg does not.
    let m = RE_DMESG.exec(line);
    if (m) {
      const rest = line.slice(m[0].length);
      const mono = RE_MONO.exec(line);
      // `[ 12.3] host kernel: ...` or `[ 12.3] host prog[123]: ...`; not `[ 12.3] Command line: ...`
      if (mono && !m[2] && /^[\w.-]+$/.test(mono[2]) && isTag(mono[3]) && (mono[3] === 'kernel' || /^\S+ [^:\s]+\[\d+\]:/.test(rest))) {
        return tagged(line.slice(mono[0].length), mono[3], { ts: Number(mono[1]), host: mono[2], format: 'journalctl short-monotonic' });
      }
      return { body: rest, ts: Number(m[1]), caller: m[2], format: 'dmesg', kernel: true };
    }
    m = RE_DMESG_T.exec(line);
    if (m) return { body: line.slice(m[0].length), wallclock: m[1], caller: m[2], format: 'dmesg -T', kernel: true };
    // A timestamp blanked by whoever pasted the log: `[ ] Call Trace:`; a caller id without a timestamp: `[T58] BUG: ...`.
    m = /^\[\s*\]\s?/.exec(line);
    if (m) return { body: line.slice(m[0].length), format: 'dmesg', kernel: true };
    m = /^\[\s*([TC]\d+)\]\s?/.exec(line);
    if (m) return { body: line.slice(m[0].length), caller: m[1], format: 'dmesg', kernel: true };
    return { body: line, kernel: true };
  }
  if (c >= 0x41 && c <= 0x5a) {
    const n = RE_SHORT_NOHOST.exec(line);
    if (n) return tagged(line.slice(n[0].length), 'kernel', { wallclock: n[1], format: 'syslog' });
    const m = RE_SHORT.exec(line);
    if (m && isTag(m[3])) {
      return tagged(line.slice(m[0].length), m[3], { wallclock: m[1], host: m[2], format: 'journalctl short' });
    }
  } else if (c >= 0x30 && c <= 0x39) {
    const m = RE_ISO.exec(line);
    if (m && isTag(m[3])) {
      return tagged(line.slice(m[0].length), m[3], { wallclock: m[1], host: m[2], format: 'journalctl short-iso' });
    }
  }
  return { body: line, kernel: true };
}

function isTag(tag: string): boolean {
  return /^[\w.@/()-]+$/.test(tag);
}

/** A journal/syslog line: only `kernel:` lines are kernel messages; `kernel: [ 12.3] ` makes it syslog. */
function tagged(rest: string, tag: string, p: Omit<Prefixed, 'body' | 'kernel'>): Prefixed {
  if (tag !== 'kernel') return { ...p, body: rest, kernel: false };
  const m = RE_DMESG.exec(rest);
  if (m) {
    const format: PrefixFormat = p.format === 'journalctl short-monotonic' ? p.format : 'syslog';
    return { ...p, body: rest.slice(m[0].length), ts: Number(m[1]), caller: m[2], format, kernel: true };
  }
  return { ...p, body: rest, kernel: true };
}
