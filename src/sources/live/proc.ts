/**
 * Parsers for the /proc files the live source reads. Pure: text in, values out; a malformed
 * file gives undefined (or skips the line), never an exception.
 */
import type { TaskStateLetter } from '../../model/casefile.ts';
import type { Frame } from '../../model/trace.ts';

/** Fields of /proc/PID/task/TID/stat that the live source uses. Times are in clock ticks. */
export interface ProcStat {
  pid: number;
  comm: string;
  state: TaskStateLetter;
  ppid: number;
  minflt: number;
  majflt: number;
  utime: number;
  stime: number;
  /** Clock ticks after boot. */
  starttime: number;
  /** CPU the task last ran on. */
  processor?: number;
}

const STATE_LETTERS = new Set(['R', 'S', 'D', 'T', 't', 'Z', 'X', 'I', 'P', 'W', 'K']);

/** `/proc/PID/stat`: comm is in parentheses and may itself contain spaces and parentheses. */
export function parseStat(text: string): ProcStat | undefined {
  const open = text.indexOf('(');
  const close = text.lastIndexOf(')');
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const comm = text.slice(open + 1, close);
  // Fields after comm, numbered from 3 (state) as in proc(5).
  const rest = text.slice(close + 2).trim().split(/\s+/);
  const field = (n: number): number => Number(rest[n - 3]);
  const state = rest[0];
  if (!Number.isInteger(pid) || !state || rest.length < 20) return undefined;
  const out: ProcStat = {
    pid,
    comm,
    state: (STATE_LETTERS.has(state) ? state : '?') as TaskStateLetter,
    ppid: field(4),
    minflt: field(10),
    majflt: field(12),
    utime: field(14),
    stime: field(15),
    starttime: field(22),
  };
  if (rest.length >= 37 && Number.isInteger(field(39))) out.processor = field(39);
  return out;
}

/** `/proc/PID/status` as key -> value (trimmed). */
export function parseStatus(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1).trim());
  }
  return m;
}

const STACK_LINE = /^\[<([0-9a-fA-F]+)>\]\s+([^\s+]+)(?:\+0x([0-9a-fA-F]+)(?:\/0x([0-9a-fA-F]+))?)?(?:\s+\[([^\]]+)\])?\s*$/;

/**
 * `/proc/PID/task/TID/stack`: one `[<addr>] func+0xoff/0xsize [module]` line a frame, innermost
 * first. Addresses print as 0 unless the reader may see kernel pointers; a zero address is dropped.
 */
export function parseKernelStack(text: string): Frame[] {
  const frames: Frame[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line) continue;
    const m = STACK_LINE.exec(line);
    if (!m) continue;
    const f: Frame = { function: m[2], reliable: true, stack: 'task' };
    if (m[3] !== undefined) f.offset = parseInt(m[3], 16);
    if (m[4] !== undefined) f.size = parseInt(m[4], 16);
    if (m[5]) f.module = m[5];
    if (!/^0+$/.test(m[1])) f.address = m[1].toLowerCase().replace(/^0+(?=.)/, '');
    frames.push(f);
  }
  return frames;
}

export interface FdInfo {
  pos?: number;
  /** Octal open flags as printed. */
  flags?: string;
  mntId?: number;
  ino?: number;
  /** userfaultfd: faults queued and not read yet. */
  pending?: number;
  /** userfaultfd: faults queued or read but not resolved yet (pending included). */
  total?: number;
  /** userfaultfd: `API:` line. */
  api?: string;
  /** epoll: descriptors watched (`tfd:` lines). */
  epollTargets?: number[];
}

/** `/proc/PID/fdinfo/FD`. */
export function parseFdinfo(text: string): FdInfo {
  const out: FdInfo = {};
  for (const line of text.split('\n')) {
    const tfd = /^tfd:\s*(\d+)/.exec(line);
    if (tfd) {
      (out.epollTargets ??= []).push(Number(tfd[1]));
      continue;
    }
    const m = /^([A-Za-z_]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m;
    const num = Number(value.trim());
    switch (key) {
      case 'pos':
        out.pos = num;
        break;
      case 'flags':
        out.flags = value.trim();
        break;
      case 'mnt_id':
        out.mntId = num;
        break;
      case 'ino':
        out.ino = num;
        break;
      case 'pending':
        out.pending = num;
        break;
      case 'total':
        out.total = num;
        break;
      case 'API':
        out.api = value.trim();
        break;
    }
  }
  return out;
}

export interface InterruptRow {
  irq: string;
  /** Count per CPU column, in header order. */
  counts: number[];
  name: string;
}

export interface InterruptTable {
  /** CPU numbers of the columns (`CPU0 CPU1` -> [0, 1]; offline CPUs are missing). */
  cpus: number[];
  rows: InterruptRow[];
}

/** `/proc/interrupts`: a header of CPU columns, then `irq: counts... chip hwirq name` rows (ERR/MIS have one count). */
export function parseInterrupts(text: string): InterruptTable {
  const lines = text.split('\n');
  const cpus = (lines[0] ?? '')
    .trim()
    .split(/\s+/)
    .map((c) => /^CPU(\d+)$/.exec(c))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => Number(m[1]));
  const rows: InterruptRow[] = [];
  for (const line of lines.slice(1)) {
    const m = /^\s*([^:\s]+):(.*)$/.exec(line);
    if (!m) continue;
    const parts = m[2].trim().split(/\s+/);
    const counts: number[] = [];
    let i = 0;
    while (i < parts.length && i < cpus.length && /^\d+$/.test(parts[i])) counts.push(Number(parts[i++]));
    if (!counts.length) continue;
    rows.push({ irq: m[1], counts, name: parts.slice(i).join(' ') });
  }
  return { cpus, rows };
}

export interface PressureLine {
  avg10: number;
  avg60: number;
  avg300: number;
  /** Microseconds stalled since boot. */
  total: number;
}

/** `/proc/pressure/{cpu,io,memory}`: `some` and `full` lines. */
export function parsePressure(text: string): { some?: PressureLine; full?: PressureLine } {
  const out: { some?: PressureLine; full?: PressureLine } = {};
  for (const line of text.split('\n')) {
    const m = /^(some|full)\s+avg10=([\d.]+)\s+avg60=([\d.]+)\s+avg300=([\d.]+)\s+total=(\d+)/.exec(line.trim());
    if (m) out[m[1] as 'some' | 'full'] = { avg10: Number(m[2]), avg60: Number(m[3]), avg300: Number(m[4]), total: Number(m[5]) };
  }
  return out;
}

/** `/proc/uptime`: seconds since boot. */
export function parseUptime(text: string): number | undefined {
  const first = text.trim().split(/\s+/)[0];
  const v = Number(first);
  return first && Number.isFinite(v) ? v : undefined;
}

export type ProcSyscall =
  | { kind: 'running' }
  /** Blocked, but not in a system call (e.g. in a page fault). */
  | { kind: 'not-in-syscall'; sp: bigint; pc: bigint }
  | { kind: 'syscall'; nr: number; args: bigint[]; sp: bigint; pc: bigint };

/** `/proc/PID/task/TID/syscall`: `running`, `-1 sp pc`, or `nr a1..a6 sp pc` (hex with 0x). */
export function parseSyscall(text: string): ProcSyscall | undefined {
  const t = text.trim();
  if (t === 'running') return { kind: 'running' };
  const parts = t.split(/\s+/);
  const big = (s: string): bigint | undefined => {
    try {
      return BigInt(s);
    } catch {
      return undefined;
    }
  };
  if (parts.length === 3 && parts[0] === '-1') {
    const sp = big(parts[1]);
    const pc = big(parts[2]);
    return sp !== undefined && pc !== undefined ? { kind: 'not-in-syscall', sp, pc } : undefined;
  }
  if (parts.length === 9) {
    const nr = Number(parts[0]);
    const vals = parts.slice(1).map(big);
    if (!Number.isInteger(nr) || vals.some((v) => v === undefined)) return undefined;
    const v = vals as bigint[];
    return { kind: 'syscall', nr, args: v.slice(0, 6), sp: v[6], pc: v[7] };
  }
  return undefined;
}

/** `/proc/PID/task/TID/sched` (CONFIG_SCHED_DEBUG): `se.exec_start` in ms of the scheduler clock, `nr_switches`. */
export function parseSched(text: string): { execStartMs?: number; nrSwitches?: number } {
  const out: { execStartMs?: number; nrSwitches?: number } = {};
  for (const line of text.split('\n')) {
    const m = /^([\w.]+)\s*:\s*([-\d.]+)\s*$/.exec(line);
    if (!m) continue;
    if (m[1] === 'se.exec_start') out.execStartMs = Number(m[2]);
    if (m[1] === 'nr_switches') out.nrSwitches = Number(m[2]);
  }
  return out;
}

/**
 * One /dev/kmsg record (`prio,seq,usec,flags[,...];message` + ` KEY=value` continuation lines)
 * as the dmesg line `[   12.345678] message`. Escaped bytes (`\x0a`) stay as printed.
 */
export function kmsgRecordToLine(record: string): string | undefined {
  const first = record.split('\n')[0];
  const semi = first.indexOf(';');
  if (semi < 0) return undefined;
  const head = first.slice(0, semi).split(',');
  const usec = Number(head[2]);
  if (head.length < 3 || !Number.isFinite(usec)) return undefined;
  const secs = Math.floor(usec / 1e6);
  const frac = String(usec % 1e6).padStart(6, '0');
  return `[${String(secs).padStart(5, ' ')}.${frac}] ${first.slice(semi + 1)}`;
}

/** The command line from `/proc/PID/cmdline` (NUL-separated) as one string. */
export function parseCmdline(buf: Buffer | string): string {
  const s = typeof buf === 'string' ? buf : buf.toString('utf8');
  return s.replace(/\0+$/, '').split('\0').join(' ');
}

/** Signal numbers set in a /proc/PID/status mask (`SigCgt: 0000000000000400` -> [11]). */
export function signalsInMask(hex: string | undefined): number[] {
  if (!hex || !/^[0-9a-fA-F]+$/.test(hex)) return [];
  const v = BigInt(`0x${hex}`);
  const out: number[] = [];
  for (let i = 0; i < 64; i++) if ((v >> BigInt(i)) & 1n) out.push(i + 1);
  return out;
}

const SIGNAL_NAMES: Record<number, string> = {
  1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 4: 'SIGILL', 5: 'SIGTRAP', 6: 'SIGABRT', 7: 'SIGBUS', 8: 'SIGFPE',
  9: 'SIGKILL', 10: 'SIGUSR1', 11: 'SIGSEGV', 12: 'SIGUSR2', 13: 'SIGPIPE', 14: 'SIGALRM', 15: 'SIGTERM',
  16: 'SIGSTKFLT', 17: 'SIGCHLD', 18: 'SIGCONT', 19: 'SIGSTOP', 20: 'SIGTSTP', 21: 'SIGTTIN', 22: 'SIGTTOU',
  23: 'SIGURG', 24: 'SIGXCPU', 25: 'SIGXFSZ', 26: 'SIGVTALRM', 27: 'SIGPROF', 28: 'SIGWINCH', 29: 'SIGIO',
  30: 'SIGPWR', 31: 'SIGSYS',
};

export function signalName(n: number): string {
  return SIGNAL_NAMES[n] ?? `SIGRT${n - 32 >= 0 ? `+${n - 32}` : n}`;
}
