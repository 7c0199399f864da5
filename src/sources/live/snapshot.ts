/**
 * One look at the running host through /proc: processes, their threads, descriptors of interest.
 * Reads that fail (a task exits between two reads, a file root-only) give undefined, never throw.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Frame } from '../../model/trace.ts';
import {
  parseCmdline,
  parseFdinfo,
  parseKernelStack,
  parseSched,
  parseStat,
  parseStatus,
  parseSyscall,
  type FdInfo,
  type ProcStat,
  type ProcSyscall,
} from './proc.ts';

export function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Like readText, but says why it failed (`EACCES`, `ENOENT`, ...). */
export function readTextOr(path: string): { text?: string; error?: string } {
  try {
    return { text: readFileSync(path, 'utf8') };
  } catch (err) {
    return { error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

function numericEntries(dir: string): number[] {
  try {
    return readdirSync(dir)
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  } catch {
    return [];
  }
}

export function listPids(): number[] {
  return numericEntries('/proc');
}

export function listTids(pid: number): number[] {
  return numericEntries(`/proc/${pid}/task`);
}

export interface ThreadLook {
  tid: number;
  tgid: number;
  stat: ProcStat;
  /** Only read when asked for (D and running tasks, tasks in scope). */
  stack?: Frame[];
  stackError?: string;
}

export function taskDir(tgid: number, tid: number): string {
  return `/proc/${tgid}/task/${tid}`;
}

export function lookThread(tgid: number, tid: number): ThreadLook | undefined {
  const text = readText(`${taskDir(tgid, tid)}/stat`);
  const stat = text ? parseStat(text) : undefined;
  return stat ? { tid, tgid, stat } : undefined;
}

export function readStack(tgid: number, tid: number): { stack?: Frame[]; error?: string } {
  const r = readTextOr(`${taskDir(tgid, tid)}/stack`);
  return r.text !== undefined ? { stack: parseKernelStack(r.text) } : { error: r.error };
}

export interface ThreadDetails {
  status: Map<string, string>;
  wchan?: string;
  syscall?: ProcSyscall;
  sched: { execStartMs?: number; nrSwitches?: number };
}

export function threadDetails(tgid: number, tid: number): ThreadDetails | undefined {
  const dir = taskDir(tgid, tid);
  const status = readText(`${dir}/status`);
  if (status === undefined) return undefined;
  const wchan = readText(`${dir}/wchan`)?.trim();
  const sc = readText(`${dir}/syscall`);
  const sched = readText(`${dir}/sched`);
  return {
    status: parseStatus(status),
    wchan: wchan && wchan !== '0' ? wchan : undefined,
    syscall: sc ? parseSyscall(sc) : undefined,
    sched: sched ? parseSched(sched) : {},
  };
}

export function readCmdline(pid: number): string | undefined {
  try {
    return parseCmdline(readFileSync(`/proc/${pid}/cmdline`));
  } catch {
    return undefined;
  }
}

export interface FdLook {
  fd: number;
  target: string;
  info: FdInfo;
}

/** Descriptors of `pid` whose link target matches `want` (e.g. `anon_inode:[userfaultfd]`), with their fdinfo. */
export function lookFds(pid: number, want: (target: string) => boolean): { fds: FdLook[]; error?: string } {
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch (err) {
    return { fds: [], error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
  const fds: FdLook[] = [];
  for (const n of names) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${n}`);
    } catch {
      continue;
    }
    if (!want(target)) continue;
    const info = readText(`/proc/${pid}/fdinfo/${n}`);
    if (info === undefined) continue;
    fds.push({ fd: Number(n), target, info: parseFdinfo(info) });
  }
  return { fds };
}

/** Every descriptor target of `pid` by fd number (for matching a reader's fd to a uffd). */
export function fdTarget(pid: number, fd: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/fd/${fd}`);
  } catch {
    return undefined;
  }
}

export function fdInfo(pid: number, fd: number): FdInfo | undefined {
  const t = readText(`/proc/${pid}/fdinfo/${fd}`);
  return t === undefined ? undefined : parseFdinfo(t);
}

/** Number of VMAs of `pid` registered with a userfaultfd (smaps `VmFlags:` has um / uw / ui). */
export function uffdRegisteredVmas(pid: number): number | undefined {
  const t = readText(`/proc/${pid}/smaps`);
  if (t === undefined) return undefined;
  let n = 0;
  for (const line of t.split('\n')) {
    if (line.startsWith('VmFlags:') && /\s(um|uw|ui)(?=\s|$)/.test(line)) n++;
  }
  return n;
}
