/** Kernel log events: one report block (lockup, oops, hung task, ...) parsed from the log. */
import type { CodeBytes, Frame, RegisterSet } from './trace.ts';

export const EVENT_KINDS = [
  'soft-lockup',
  'hard-lockup',
  'hung-task',
  'rcu-stall',
  'csd-lock',
  'null-deref',
  'paging-request',
  'gpf',
  'bug',
  'warning',
  'oops',
  'panic',
  'kasan',
  'kfence',
  'kmsan',
  'kcsan',
  'memory-leak',
  'ubsan',
  'lockdep',
  'nmi-backtrace',
  'sysrq-blocked',
  'sysrq-tasks',
  'mce',
  'oom',
  'unknown-nmi',
  'io-error',
  'fs-error',
  'workqueue-lockup',
] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface TaskRef {
  comm: string;
  pid: number;
}

/** What a hung-task report says the task is blocked on (the `is blocked on a mutex likely owned by task ...` hints). */
export interface BlockerHint {
  kind: 'mutex' | 'semaphore' | 'rwsem-reader' | 'rwsem-writer' | 'rwsem' | 'unknown';
  address?: string;
  owner?: TaskRef;
  line: number;
}

/** A tight loop found by disassembling an event's `Code:` bytes around the PC. */
export interface CodeLoopFact {
  /** The loop's instructions (AT&T), RIP-relative operands shown as `<global>(%rip)`. */
  instructions: string[];
  pause: boolean;
  /** The loop loads a global variable (RIP-relative) on every turn. */
  readsGlobal: boolean;
  /** The loop tests bit 0 of what it read: a sequence count's "writer inside" bit, or a lock bit. */
  testsBit0: boolean;
}

/** Kind-specific facts of an event. Every field is optional: a source fills what it saw. */
export interface EventDetails {
  /** soft-lockup: `stuck for Ns`; hung-task: `blocked for more than N seconds`. */
  seconds?: number;
  /** null-deref / paging-request: the faulting address (hex). */
  address?: string;
  /** #PF error-code text, e.g. `supervisor read access in kernel mode`. */
  accessText?: string;
  /** panic: the reason after `not syncing: `. */
  panicReason?: string;
  /** panic: classified reason (hung_task_panic, softlockup_panic, hardlockup, oops-in-interrupt, nmi, oom, ...). */
  panicCause?: string;
  /** rcu-stall: the CPUs named as stalling. */
  stalledCpus?: number[];
  /** rcu-stall: the CPU that detected the stall (`detected by N`). */
  detectedBy?: number;
  /** rcu-stall: flavour (rcu_preempt, rcu_sched, ...), self-detected vs by others, expedited, kthread starved. */
  rcuFlavor?: string;
  selfDetected?: boolean;
  expedited?: boolean;
  kthreadStarved?: boolean;
  /** rcu-stall: tasks named as blocking the grace period (`P1234`). */
  stalledTasks?: number[];
  /** csd-lock: CPU waiting, target CPU, function. */
  csdTargetCpu?: number;
  csdFunction?: string;
  csdWaitSeconds?: number;
  /** nmi-backtrace: the CPU that sent the NMI and the target list. */
  nmiFromCpu?: number;
  nmiTargets?: number[];
  /** nmi-backtrace: `NMI backtrace for cpu N skipped: idling at ...`. */
  idle?: boolean;
  /** hung-task: blocker hints. */
  blockers?: BlockerHint[];
  /** hung-task: the task state line (`task:foo state:D stack:0 pid:12 ppid:2 flags:0x...`). */
  taskState?: string;
  ppid?: number;
  /** bug/warning: source location `at fs/foo.c:123`. */
  location?: string;
  /** oops: the `Oops: 0000 [#1] SMP` text and its number. */
  oopsText?: string;
  oopsNumber?: number;
  /** oops/bug: the report ended with `---[ end trace ... ]---`. */
  endTrace?: boolean;
  /** in interrupt context when it happened (`<IRQ>` frames, `Fatal exception in interrupt`, ...). */
  inInterrupt?: boolean;
  /** kasan/kfence/ubsan: bug type (`use-after-free`, `slab-out-of-bounds`, `shift-out-of-bounds`, ...). */
  bugType?: string;
  /** The first line of the report that shows console output lost or run together (two lines glued, a cut trace header, a stray fragment). */
  garbledLine?: number;
  /** Bad page state: the stack that allocated the page, as page_owner recorded it (`page last allocated via ...`). */
  allocatedBy?: Frame[];
  /** kcsan: the two racing functions of the title (`data-race in a / b`). */
  racing?: string[];
  /** kasan: `Read` or `Write`, from `Read of size 8 at addr ...`. */
  access?: 'Read' | 'Write';
  /** `caller is F` (smp_processor_id in preemptible code), `last function: F` (workqueue leaked lock): the function named. */
  namedFunction?: string;
  /** lockdep: where each held lock was taken (`#0: ... at: F+0x1/0x2`), in print order. */
  lockSites?: string[];
  /** The report in the kernel-community convention: its type, title (`KASAN: use-after-free Read in F`), and whether it is corrupted. */
  report?: { type: string; title: string; corrupted?: string; /** the function the title names, when it is not the culprit (a stall's activity) */ guilty?: { function: string; module?: string } };
  /** lockdep: the report title (`possible circular locking dependency detected`, ...). */
  lockdepTitle?: string;
  /** Modules linked in. */
  modules?: string[];
  /** mce: bank/status text. */
  mceText?: string;
  /** unknown-nmi: reason code. */
  nmiReason?: string;
  /** The tight loop the PC is in, from the `Code:` bytes (x86_64). */
  codeLoop?: CodeLoopFact;
  /** Spinlock debugging (`BUG: spinlock recursion/lockup suspected/wrong owner/already unlocked on CPU#n`) and its ` lock:` line. */
  spinlockDebug?: { what: string; lock?: string; owner?: TaskRef; ownerCpu?: number };
  /** I/O errors and timeouts: the device named (`sda`, `nvme0n1`, `nvme0`, `0:0:0:0`), and how many such lines the event holds. */
  device?: string;
  /** Every device name as printed (`nvme0n1p56`, `dm-1-8`). */
  devices?: string[];
  count?: number;
  /** Filesystem errors: the filesystem type (`ext4`, `xfs`, `btrfs`) and what happened (`aborted journal`, `read-only`, `shutdown`). */
  fsType?: string;
  fsAction?: string;
  /** Workqueue lockup: the stuck pool's CPUs, and the work items in flight (`pid:function`) and pending. */
  pool?: string;
  inFlight?: Array<{ pid: number; func: string }>;
  pending?: string[];
  /** RCU stall: the grace-period kthread named as starved, how long, and its state. */
  starvedKthread?: { name: string; jiffies?: number; state?: string; cpu?: number };
  /** oom: the process killed, and the constraint (`CONSTRAINT_NONE`, `CONSTRAINT_MEMCG`, ...) when printed. */
  oomVictim?: TaskRef;
  oomConstraint?: string;
  /** `Workqueue: <name> <function>`: the work item the reporting CPU runs. */
  workqueue?: { name: string; func: string };
  /** sysrq dumps: tasks listed. */
  tasks?: Array<{ comm: string; pid: number; state: string; line: number; trace: Frame[]; /** `Task dump for CPU n:`: the task CPU n runs. */ cpu?: number; workqueue?: { name: string; func: string } }>;
}

export interface LogEvent {
  /** Stable id inside one CaseFile: `e1`, `e2`, ... in log order. */
  id: string;
  kind: EventKind;
  /** The headline line as printed (without timestamp). */
  title: string;
  /** Source file label and line span (1-based, inclusive). */
  source: string;
  line: number;
  endLine: number;
  /** Seconds since boot from the printk timestamp, when printed. */
  timestamp?: number;
  /** Wall-clock time when the log carried one (dmesg -T, journalctl, iso). */
  wallclock?: string;
  cpu?: number;
  task?: TaskRef;
  release?: string;
  taint?: string;
  hardware?: string;
  /** Register dumps in print order (an oops in an interrupt prints kernel then user registers). */
  registers: RegisterSet[];
  trace: Frame[];
  code?: CodeBytes;
  /** The most specific function to blame (generic locking/scheduling/printk/watchdog/entry frames skipped). */
  culprit?: { function: string; module?: string };
  details: EventDetails;
  /** ids of related events (e.g. the NMI backtraces an RCU stall triggered). */
  related?: string[];
}
