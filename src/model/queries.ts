/**
 * Questions a detector may ask of kernel memory, answered lazily by the source that holds it
 * (a vmcore today). Detectors stay pure: they never open files, they ask these. Every answer that
 * needs memory is a value or `{ unknown: "because ..." }`, so a finding can say what it could not tell.
 */
import type { RegisterSet } from './trace.ts';

/** Why a value could not be had (a page excluded from the dump, a symbol this kernel lacks...). */
export interface Unknown {
  unknown: string;
}
export type Maybe<T> = T | Unknown;

export function isUnknown<T>(x: Maybe<T>): x is Unknown {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && typeof (x as Unknown).unknown === 'string' && Object.keys(x).length === 1;
}

/** The value, or `fallback` when unknown. */
export function known<T>(x: Maybe<T>): T | undefined {
  return isUnknown(x) ? undefined : x;
}

/** A symbol an address falls in. */
export interface SymbolRef {
  name: string;
  /** Start of the symbol. */
  address: bigint;
  offset: number;
  /** Distance to the next symbol (the kernel's notion of size). */
  size: number;
  module?: string;
}

/** `name+0x15 [module]`. */
export function symbolText(s: SymbolRef | undefined, addr?: bigint): string {
  if (!s) return addr !== undefined ? `0x${addr.toString(16)}` : '?';
  return `${s.name}${s.offset ? `+0x${s.offset.toString(16)}` : ''}${s.module ? ` [${s.module}]` : ''}`;
}

/** A memory operand of an instruction. */
export interface MemoryOperand {
  /** Lower-case 64-bit register names (`rbx`), absent for none. */
  base?: string;
  index?: string;
  scale: number;
  displacement: bigint;
  /** Bytes read or written. */
  size: number;
  /** `gs` / `fs` for segment-relative (per-CPU, TLS) operands. */
  segment?: string;
  /** The absolute address, when the code alone gives it: RIP-relative (x86_64), a literal or an adrp/add base (arm64). */
  ripRelative?: bigint;
}

/** One decoded instruction. */
export interface Instruction {
  address: bigint;
  length: number;
  /** AT&T syntax, as crash's `dis` prints it: `mov 0x189f4b5(%rip),%eax`. */
  text: string;
  mnemonic: string;
  flow: 'next' | 'branch' | 'conditional-branch' | 'indirect-branch' | 'call' | 'indirect-call' | 'return' | 'interrupt' | 'exception' | 'other';
  /** Direct branch / call target. */
  target?: bigint;
  memory?: MemoryOperand;
  /** The full 64-bit register the instruction writes as its first operand, when it is a register. */
  writes?: string;
  /** Other registers it writes (the second register of a load pair, a pre/post-indexed base). */
  writesAlso?: string[];
  /** The constant it leaves in `writes`, when the code alone says (`mov $0x..,%rdi`, `lea sym(%rip)`, arm64 adrp/add, `mov #imm`). */
  value?: bigint;
  /** The register it copies into `writes` (`mov %rbx,%rdi`, `mov x0, x19`). */
  copies?: string;
  /** The bit of a register it tests (`test $0x1,%al`, `tbnz w2, #0`, `tst w0, #0x1`). */
  testsBit?: { reg: string; bit: number };
}

/** Memory a spin loop reads, with its address resolved. */
export interface PolledWord {
  address: bigint;
  size: number;
  /** How the address was found: `rip-relative`, or `rbx` / `0x8(rsi)` from the CPU's registers. */
  via: string;
  symbol?: SymbolRef;
  value: Maybe<bigint>;
  /** The loop tests bit 0 of what it read (`test $0x1,%al`): the seqcount "writer inside" bit. */
  testsBit0: boolean;
}

/** The smallest loop (a backward branch) around a CPU's PC, and what it polls. */
export interface SpinLoop {
  function: SymbolRef;
  pc: bigint;
  /** First and last instruction of the loop. */
  start: bigint;
  end: bigint;
  instructions: Instruction[];
  /** A `pause` inside the loop: a busy-wait (cpu_relax). */
  pause: boolean;
  polls: PolledWord[];
}

/** `ffffffffb1168543: pause` lines for reports. */
export function loopLines(l: SpinLoop): string[] {
  return l.instructions.map((i) => `${i.address.toString(16)}: ${i.text}`);
}

/** Registers of one CPU at dump time. */
export interface CpuContext {
  cpu: number;
  registers: RegisterSet;
  /**
   * `note`: the CPU's register note as it is; `nmi-frame`: the note was taken inside the NMI/panic
   * path (kdump), and these are the registers of the context the NMI interrupted, read from the NMI stack;
   * `irq-frame`: the note is the panicking CPU's, inside an interrupt (a watchdog timer), and these are the
   * registers of the context that interrupt hit (the exception frame on its stack); `vector-entry`: the note stopped at
   * the first instruction of an arm64 IRQ/FIQ vector (the hypervisor delivered a pending interrupt as it stopped the
   * vCPU): the interrupted PC is only in ELR_EL1, which the note lacks, so the function is the one its LR is in.
   */
  from: 'note' | 'nmi-frame' | 'irq-frame' | 'vector-entry';
  /** Where the note itself stopped when it is not where the CPU was working (`__crash_kexec+0x11a`). */
  noteAt?: string;
  /** The note was taken on the panic path (kdump's panicking CPU). */
  panicPath?: boolean;
  /** The CPU's current task, when it could be read. */
  task?: { pid: number; comm: string; address: bigint };
}

/** A queued spinlock's word decoded. */
export interface QSpinlockState {
  address: bigint;
  value: number;
  /** The locked byte (bits 0-7). */
  locked: number;
  pending: boolean;
  /** Tail: the last CPU queued on the MCS queue (bits 18-31, CPU + 1), and its node index (bits 16-17). */
  tailCpu?: number;
  tailIdx?: number;
}

/** A sequence counter and the writer lock that serialises its writers, when one is known. */
export interface SeqcountState {
  address: bigint;
  symbol?: SymbolRef;
  sequence: number;
  /** How the writer lock was found: `seqlock_t.lock`, `neighbour symbol jiffies_lock`. */
  /** The lock's address may be unknown when only its value was seen (a pasted `p jiffies_lock`). */
  writerLock?: { address?: bigint; symbol?: SymbolRef; how: string; state: Maybe<QSpinlockState> };
}

/** A cross-CPU function call request: sender CPU's csd for a target CPU. */
export interface CsdRequest {
  from: number;
  to: number;
  csd: bigint;
  /** CSD_FLAG_LOCK still set: the target has not run (finished) the function. */
  locked: boolean;
  func?: SymbolRef;
  /** The csd is on the target's call_single_queue: the IPI was sent, the target never ran its queue. */
  queued: boolean;
}

export interface IpiState {
  requests: CsdRequest[];
  /** Per-CPU call_single_queue: number of queued csds (walk bounded). */
  queues: Array<{ cpu: number; first: bigint; entries: number }>;
}

/** A task as the dump knows it. */
export interface TaskRefAt {
  pid: number;
  comm: string;
  address: bigint;
  tgid?: number;
  state?: string;
  startTime?: number;
}

/** A userfaultfd context found in the dump, and who waits on / holds it. */
export interface UffdContextState {
  address: bigint;
  refcount: Maybe<number>;
  released: Maybe<boolean>;
  /** Waiters on each queue: fault_pending_wqh (faults not read yet), fault_wqh (read, not resolved), fd_wqh (readers), event_wqh. */
  faultPending: TaskRefAt[];
  faultRead: TaskRefAt[];
  readers: TaskRefAt[];
  events: TaskRefAt[];
  /** The process whose mm registered it (ctx->mm owner), when found. */
  owner?: TaskRefAt;
  /** Processes with a file of it open, and the descriptor. */
  holders: Array<TaskRefAt & { fd: number }>;
  notes: string[];
}

/** A sleeping lock (mutex / rw_semaphore) and who owns and waits on it. */
export interface SleepingLockState {
  kind: 'mutex' | 'rwsem';
  address: bigint;
  symbol?: SymbolRef;
  /** What embeds it, when known (`inode 0x... i_rwsem`). */
  within?: string;
  withinAddress?: bigint;
  /** Owner task (mutex, writer-owned rwsem), or the last reader for a reader-owned rwsem (a hint only). */
  owner?: TaskRefAt;
  readerOwned?: boolean;
  writerLocked?: boolean;
  readers?: number;
  waitersFlag?: boolean;
  /** For a reader-owned rwsem: blocked tasks that most likely hold it shared (the owner hint, and D tasks whose stacks reference it or its inode). */
  likelyReaders?: TaskRefAt[];
  /** Waiters in queue order, with what they want. */
  waiters: Array<TaskRefAt & { wants: 'read' | 'write' | 'lock' }>;
  observed: Record<string, string | number | boolean>;
}

/** What the dump says about where a blocked task waits. */
export interface TaskWait {
  task: TaskRefAt;
  /** The lock it sleeps on (found on its stack), or the uffd ctx it faulted on. */
  lock?: bigint;
  uffd?: bigint;
  how: string;
}

/** The memory queries a detector may use. Implemented for vmcores in sources/dump/queries.ts. */
export interface KernelQueries {
  /** The evidence these answers cite (the dump path). */
  readonly source: string;
  readonly dumpedBy: 'kdump' | 'hypervisor' | 'unknown';
  readonly release?: string;
  /** Registers of every CPU at dump time (the interrupted context where a note is the kdump NMI/panic path). */
  cpuContexts(): CpuContext[];
  symbolAt(addr: bigint): SymbolRef | undefined;
  addressOf(name: string): bigint | undefined;
  readU8(addr: bigint): Maybe<number>;
  readU32(addr: bigint): Maybe<number>;
  readU64(addr: bigint): Maybe<bigint>;
  /** The function containing `addr` (its symbol, sized to the next symbol). */
  functionBounds(addr: bigint): SymbolRef | undefined;
  disassemble(addr: bigint, length: number): Maybe<Instruction[]>;
  /** The tight loop a CPU with these registers is in, and the memory it polls. */
  spinLoop(regs: RegisterSet): Maybe<SpinLoop>;
  seqcount(addr: bigint): Maybe<SeqcountState>;
  qspinlock(addr: bigint): Maybe<QSpinlockState>;
  /** Outstanding cross-CPU calls (per-CPU cfd_data csds still locked, call_single_queue contents). */
  ipiState(): Maybe<IpiState>;
  /** The guest runs under a hypervisor (X86_FEATURE_HYPERVISOR): spinlocks fall back to test-and-set (virt_spin_lock). */
  underHypervisor(): boolean | undefined;
  /** Every userfaultfd context reachable from tasks' files and from tasks waiting in handle_userfault. */
  uffdContexts(): Maybe<UffdContextState[]>;
  /** Tasks in D state with the sleeping lock or uffd they wait on (found on their stacks), and those locks' state. */
  blockedTasks(): Maybe<{ waits: TaskWait[]; locks: SleepingLockState[] }>;
  /** Tasks blocked on rt-mutexes (every sleeping lock on PREEMPT_RT), from their pi_blocked_on: the lock and its owner. */
  rtMutexWaits(): Maybe<Array<{ task: TaskRefAt; lock: bigint; symbol?: SymbolRef; owner?: TaskRefAt; ownerWord: bigint }>>;
  /**
   * What sleeping tasks wait on, found on their stacks: the completion, wait queue or bit; for flush_work, the worker
   * that runs the work being flushed. For tasks in D, owners of sleeping locks others wait for, and busy kworkers.
   */
  sleepObjects(): Maybe<SleepObject[]>;
  /** kworkers and the work they run (function, workqueue). */
  workers(): Maybe<Array<{ task: TaskRefAt; func?: SymbolRef; work?: bigint; wq?: string }>>;
  /** Whole disks with blk-mq requests in flight: name, driver module, how many, when the oldest started (ktime ns). */
  disksInFlight(): Maybe<Array<{ name: string; driver?: string; inFlight: number; oldestStartNs?: bigint }>>;
  /** Every task, when the task list can be walked. */
  tasks(): Maybe<TaskRefAt[]>;
  close(): void;
}

/** What one sleeping task waits on. */
export interface SleepObject {
  task: TaskRefAt;
  kind: 'completion' | 'waitqueue' | 'bit' | 'flush';
  /** The completion, wait_queue_head, word (bit), or wq_barrier (flush). */
  address: bigint;
  symbol?: SymbolRef;
  bit?: number;
  how: string;
  /** flush: the worker running the work being flushed (its barrier is queued behind that work), when found. */
  flushing?: { worker?: TaskRefAt; func?: SymbolRef; wq?: string };
}
