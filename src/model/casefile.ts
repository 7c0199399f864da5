/** The CaseFile: everything known about one incident, filled by every source, read by every detector. */
import type { LogEvent, TaskRef } from './event.ts';
import type { Fact, Provenance } from './provenance.ts';
import type { Frame, RegisterSet } from './trace.ts';

export type SourceKind = 'log' | 'dump' | 'live' | 'text';

export interface SourceInfo {
  kind: SourceKind;
  /** Path as given by the user (or `-` for stdin). */
  path: string;
  /** Detected format: `dmesg`, `dmesg -T`, `journalctl short-iso`, `serial console`, `vmcore-dmesg`, `kdump-compressed`, ... */
  format: string;
  /** What could not be used, and why (e.g. "vmcore not analysed: dump reading not available"). */
  notes: string[];
  /** true when the source was damaged or only partly read. */
  incomplete?: boolean;
  lines?: number;
}

export interface SystemInfo {
  release?: string;
  arch?: string;
  hardware?: string;
  taint?: string;
  cpus?: number;
  commandLine?: string;
  /** Seconds since boot of the last log line / the dump. */
  uptime?: number;
  hostname?: string;
  crashTime?: string;
  panic?: string;
  facts: Fact[];
}

export type TaskStateLetter = 'R' | 'S' | 'D' | 'T' | 't' | 'Z' | 'X' | 'I' | 'P' | 'W' | 'K' | '?';

export interface CpuState {
  cpu: number;
  task?: TaskRef;
  /** Registers of the innermost context, when known (dump notes, log register dumps). */
  registers?: RegisterSet;
  irqsEnabled?: boolean;
  mode?: 'kernel' | 'user';
  /** Contexts the CPU was in, innermost last. */
  contexts?: Array<'nmi' | 'irq' | 'softirq'>;
  idle?: boolean;
  stack?: Frame[];
  /** Where the stack came from. */
  stackFrom?: Provenance;
  /** Log events about this CPU (ids). */
  events: string[];
  facts: Fact[];
}

export interface TaskState {
  pid: number;
  tgid?: number;
  ppid?: number;
  comm: string;
  state?: TaskStateLetter;
  cpu?: number;
  kthread?: boolean;
  exiting?: boolean;
  /** Seconds the task has been blocked / not run, when known. */
  blockedSeconds?: number;
  /** Seconds since boot when the task started. */
  startTime?: number;
  stack?: Frame[];
  stackFrom?: Provenance;
  events: string[];
  facts: Fact[];
}

export type ObjectKind =
  | 'spinlock'
  | 'mutex'
  | 'rwsem'
  | 'semaphore'
  | 'seqcount'
  | 'csd'
  | 'waitqueue'
  | 'uffd-ctx'
  | 'inode'
  | 'other';

/** A kernel object worth naming (a lock, a seqcount, a wait queue...) with what was observed in it. */
export interface KernelObject {
  id: string;
  kind: ObjectKind;
  symbol?: string;
  /** Hex address without 0x. */
  address?: string;
  /** Observed values (sequence, owner, locked byte, pending count...). */
  observed: Record<string, string | number | boolean>;
  facts: Fact[];
}

export interface CaseFile {
  sources: SourceInfo[];
  system: SystemInfo;
  cpus: CpuState[];
  tasks: TaskState[];
  events: LogEvent[];
  objects: KernelObject[];
}

export function emptyCaseFile(): CaseFile {
  return { sources: [], system: { facts: [] }, cpus: [], tasks: [], events: [], objects: [] };
}

/** The CPU record for `cpu`, created on first use. */
export function cpuOf(c: CaseFile, cpu: number): CpuState {
  let s = c.cpus.find((x) => x.cpu === cpu);
  if (!s) {
    s = { cpu, events: [], facts: [] };
    c.cpus.push(s);
    c.cpus.sort((a, b) => a.cpu - b.cpu);
  }
  return s;
}

/** The task record for `pid`, created on first use. */
export function taskOf(c: CaseFile, pid: number, comm: string): TaskState {
  let t = c.tasks.find((x) => x.pid === pid);
  if (!t) {
    t = { pid, comm, events: [], facts: [] };
    c.tasks.push(t);
  }
  return t;
}

export function eventById(c: CaseFile, id: string): LogEvent | undefined {
  return c.events.find((e) => e.id === id);
}
