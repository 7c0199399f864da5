/** The CaseFile: everything known about one incident, filled by every source, read by every detector. */
import type { LogEvent, TaskRef } from './event.ts';
import type { Fact, Provenance } from './provenance.ts';
import type { KernelQueries } from './queries.ts';
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
  /** kernel.hung_task_timeout_secs, when the evidence states it (a dump's sysctl, a live host, the command line). */
  hungTaskTimeout?: number;
  /** Where a log shows a kdump capture kernel booting (`elfcorehdr=` on a later boot's command line): the first kernel went into kdump. */
  kdumpCaptureBoot?: { source: string; line: number };
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
  /** The CPU's preempt_count, decoded (dump): nesting of contexts, preemption depth, bottom halves disabled. */
  preempt?: { raw: number; depth: number; bhDisabled: boolean; contexts: Array<'nmi' | 'irq' | 'softirq'> };
  /** Interrupts taken by this CPU over a sampling window (live /proc/interrupts deltas; two dumps could fill it too). */
  interrupts?: InterruptActivity;
}

/** Interrupts one CPU took over a window. */
export interface InterruptActivity {
  seconds: number;
  total: number;
  /** The busiest sources, most first: `LOC` (Local timer interrupts), `29` (virtio0-input.0), ... */
  top: Array<{ irq: string; name: string; count: number }>;
  from?: Provenance;
}

/** Counters of one task over a sampling window. Deltas, not totals; every field optional (a source fills what it measured). */
export interface TaskActivity {
  /** Length of the window in seconds. */
  seconds: number;
  /** CPU time spent in user / kernel mode during the window, seconds. */
  userSeconds?: number;
  systemSeconds?: number;
  /** Page faults the kernel resolved through handle_mm_fault (`minflt`/`majflt`). */
  minorFaults?: number;
  majorFaults?: number;
  /** Every user page fault the kernel took, resolved or not (perf `page-faults`). */
  pageFaults?: number;
  /** Signals delivered to the task (perf `signal:signal_deliver`). */
  signalsDelivered?: number;
  voluntarySwitches?: number;
  involuntarySwitches?: number;
  /** perf `instructions` / `cycles` for the task; absent when the PMU cannot count them (IPC unknown). */
  instructions?: number;
  cycles?: number;
  /** State letter at each sample, in order. */
  states?: TaskStateLetter[];
  /**
   * How the task was in the kernel at each kernel-stack sample: the outermost frame
   * (`asm_exc_page_fault`, `entry_SYSCALL_64_after_hwframe`, `asm_sysvec_apic_timer_interrupt`);
   * `''` when the stack was empty. A running task shows where it was last preempted.
   */
  kernelEntries?: string[];
  /** What could not be measured for this task, and why (e.g. `IPC unknown: cycles not supported`). */
  notes?: string[];
  from?: Provenance;
}

/** One sample of where a thread runs in user space (perf with user registers, or a dump's pt_regs). */
export interface PcSample {
  /** The user-mode PC: where the thread runs, or where it entered the kernel. Hex without 0x. */
  pc: string;
  /** `main+0x7a` when the symbol is known. */
  pcSymbol?: string;
  /** User call chain, innermost first, as `symbol+0xoff (dso)` or hex. */
  userStack: string[];
  /** Kernel functions when the sample landed in the kernel, innermost first. */
  kernelStack?: string[];
}

/** The instruction at a user PC, read from the task's memory and decoded. */
export interface CodeAtPc {
  /** Hex without 0x. */
  address: string;
  /** Hex bytes of the instruction. */
  bytes: string;
  /** Disassembly, e.g. `jmp 0x55d0c0a0112d`. */
  text?: string;
  /** Control flow kind: `next`, `branch`, `conditional-branch`, `call`, `return`, `interrupt`, `exception`, ... */
  flow?: string;
  /** The target of a direct branch, hex. */
  target?: string;
  /** true when the instruction is a branch whose target is itself (`jmp .`). */
  branchesToItself?: boolean;
  /** A rep-prefixed string instruction: one PC can legitimately run for a long time. */
  repeats?: boolean;
  from?: Provenance;
}

/** Signal state of a task: hex masks as printed in /proc/PID/status. */
export interface SignalState {
  pending?: string;
  sharedPending?: string;
  blocked?: string;
  ignored?: string;
  caught?: string;
}

/** A task waiting on (or serving) a kernel object: a fault on a userfaultfd, a read/poll on it, a lock. */
export interface ObjectWait {
  /** KernelObject id. */
  object: string;
  /** `fault`: blocked until the object resolves its fault; `reader`: blocked reading/polling it (serving it). */
  as: 'fault' | 'reader' | 'lock' | 'other';
  /** How the link was established, when it is an inference (e.g. `the only uffd with pending faults`). */
  how?: string;
  from?: Provenance;
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
  /** Command line (NUL separators as spaces). */
  cmdline?: string;
  /** Kernel function the task sleeps in (`wchan`). */
  wchan?: string;
  signals?: SignalState;
  /** Counters over a sampling window. */
  activity?: TaskActivity;
  /** Where the task runs in user space, one entry a sample. */
  samples?: PcSample[];
  /** The instruction at the task's (dominant) user PC. */
  code?: CodeAtPc;
  /** Kernel objects this task waits on or serves. */
  waitsOn?: ObjectWait[];
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
  /** Processes holding a reference (for a uffd-ctx: processes with a descriptor of it open). */
  holders?: Array<{ pid: number; comm?: string; fd?: number; startTime?: number; from?: Provenance }>;
  /** Values of `observed` keys at each sample of a window, oldest first (e.g. `pending: [1, 1, 1]`). */
  series?: Record<string, number[]>;
}

/** One line of a CPU profile: a symbol's share of the samples, and its hottest call chain (callers, innermost first). */
export interface ProfileEntry {
  percent: number;
  symbol: string;
  dso?: string;
  kernel: boolean;
  comm?: string;
  callers: string[];
  /** Samples and event of the profile, when it says (`7K of event 'cpu-clock'`). */
  samples?: string;
  from: Provenance;
}

export interface CaseFile {
  sources: SourceInfo[];
  system: SystemInfo;
  cpus: CpuState[];
  tasks: TaskState[];
  events: LogEvent[];
  objects: KernelObject[];
  /** Where CPU time went, from a profile (pasted `perf report`): hottest first. */
  profile?: ProfileEntry[];
  /** Lazy questions to kernel memory (a vmcore), when a source can answer them; detectors ask, never read files. */
  kernel?: KernelQueries;
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
