/**
 * Tasks and runqueues: every task of the dump (thread-group leaders from init_task.tasks, their
 * threads from signal->thread_head or, on old kernels, thread_group; the per-CPU idle tasks from
 * the runqueues), with the facts crash's `ps` / `ps -m` show. Layouts come from BTF; a task_struct
 * is read once and decoded from that buffer. Loops are bounded: a damaged list ends with a note.
 */
import type { TaskStateLetter } from '../../../model/casefile.ts';
import { KernelLayoutError, UnreadableMemoryError, attempt } from '../kernel/errors.ts';
import type { Kernel, KType, Value } from '../kernel/value.ts';
import { listNodes, type WalkNotes } from './list.ts';

/** Task flags (include/linux/sched.h, stable since 2.6). */
export const PF_IDLE = 0x2;
export const PF_EXITING = 0x4;
export const PF_KTHREAD = 0x00200000;

/** Task state bits (4.14+ values). */
const TASK_INTERRUPTIBLE = 0x1;
const TASK_UNINTERRUPTIBLE = 0x2;
const TASK_STOPPED = 0x4;
const TASK_TRACED = 0x8;
const EXIT_DEAD = 0x10;
const EXIT_ZOMBIE = 0x20;
const TASK_PARKED = 0x40;
const TASK_DEAD = 0x80;
const TASK_WAKEKILL = 0x100;
const TASK_WAKING = 0x200;
const TASK_NOLOAD = 0x400;
const TASK_NEW = 0x800;
const TASK_RTLOCK_WAIT = 0x1000;
/** TASK_FREEZABLE (6.1+) and __TASK_FREEZABLE_UNSAFE: modifiers, not states. */
const STATE_MODIFIERS = TASK_WAKEKILL | 0x2000 | 0x4000;

/** Upper bound on tasks; a list longer than this is treated as corrupted. */
const MAX_TASKS = 4_000_000;
const MAX_THREADS = 1_000_000;

export interface TaskStateName {
  /** ps(1) letter, as the model keeps it. */
  letter: TaskStateLetter;
  /** crash's two-letter state: RU IN UN ID ST TR ZO DE WA PA NE. */
  crash: string;
  /** Words for a report: `uninterruptible (killable)`, `idle`, ... */
  words: string;
}

/**
 * Names a task state the way ps and crash do. TASK_KILLABLE (UNINTERRUPTIBLE|WAKEKILL) is D / UN,
 * TASK_IDLE (UNINTERRUPTIBLE|NOLOAD) is I / ID, exit_state wins over the state word.
 */
export function nameTaskState(state: number, exitState = 0): TaskStateName {
  if (exitState & EXIT_ZOMBIE) return { letter: 'Z', crash: 'ZO', words: 'zombie' };
  if (exitState & EXIT_DEAD) return { letter: 'X', crash: 'DE', words: 'dead' };
  const s = state & ~STATE_MODIFIERS;
  const killable = (state & TASK_WAKEKILL) !== 0;
  if (s === 0) return { letter: 'R', crash: 'RU', words: 'running or runnable' };
  if ((s & (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)) === (TASK_UNINTERRUPTIBLE | TASK_NOLOAD)) return { letter: 'I', crash: 'ID', words: 'idle (uninterruptible, no load)' };
  if (s & TASK_UNINTERRUPTIBLE) return { letter: 'D', crash: 'UN', words: killable ? 'uninterruptible (killable)' : 'uninterruptible' };
  if (s & TASK_INTERRUPTIBLE) return { letter: 'S', crash: 'IN', words: 'interruptible sleep' };
  if (s & TASK_STOPPED) return { letter: 'T', crash: 'ST', words: 'stopped' };
  if (s & TASK_TRACED) return { letter: 't', crash: 'TR', words: 'traced' };
  if (s & TASK_PARKED) return { letter: 'P', crash: 'PA', words: 'parked' };
  if (s & TASK_DEAD) return { letter: 'X', crash: 'DE', words: 'dead' };
  if (s & TASK_WAKING) return { letter: 'R', crash: 'WA', words: 'waking' };
  if (s & TASK_NEW) return { letter: 'R', crash: 'NE', words: 'new' };
  if (s & TASK_RTLOCK_WAIT) return { letter: 'D', crash: 'UN', words: 'uninterruptible (rtlock wait)' };
  if (s & 0x8000) return { letter: 'D', crash: 'UN', words: 'frozen' };
  return { letter: '?', crash: '??', words: `unknown state 0x${state.toString(16)}` };
}

/** One task as read from the dump. Times are nanoseconds of the scheduler clock unless named seconds. */
export interface TaskInfo {
  /** struct task_struct address. */
  address: bigint;
  pid: number;
  tgid: number;
  ppid: number;
  comm: string;
  /** Raw `__state` (5.14+) or `state`, and `exit_state`. */
  stateValue: number;
  exitState: number;
  state: TaskStateName;
  flags: number;
  kthread: boolean;
  exiting: boolean;
  /** A per-CPU idle task (pid 0). */
  idle: boolean;
  cpu: number;
  /** task->on_cpu: running on its CPU right now. */
  onCpu: boolean;
  /** The runqueue's current task of its CPU. */
  current: boolean;
  /** Kernel stack base (task->stack) and thread.sp (the saved stack pointer of a task switched out). */
  stack: bigint;
  threadSp: bigint;
  mm: bigint;
  groupLeader: bigint;
  lastArrival?: bigint;
  lastQueued?: bigint;
  execStart?: bigint;
  /** Seconds since the task last ran: its CPU's rq->clock minus sched_info.last_arrival (crash `ps -m`). */
  sinceLastRun?: number;
  /** Seconds after boot the task started (start_boottime, else start_time). */
  startTime?: number;
  /** Virtual size and resident set in KiB (crash ps VSZ / RSS), for tasks with an mm. */
  vszKiB?: number;
  rssKiB?: number;
  /** task->pi_blocked_on (the rt_mutex_waiter it blocks on; 0 when none), when the kernel has it (CONFIG_RT_MUTEXES). */
  piBlockedOn?: bigint;
}

/** Member offsets of task_struct, found once per kernel. */
interface TaskLayout {
  size: number;
  pid: number;
  tgid: number;
  comm: number;
  state: number;
  stateSize: number;
  exitState: number;
  flags: number;
  cpu: number;
  onCpu?: number;
  stack: number;
  threadSp: number;
  mm: number;
  parent: number;
  realParent: number;
  groupLeader: number;
  tasks: number;
  signal: number;
  threadNode?: number;
  threadGroup?: number;
  lastArrival?: number;
  lastQueued?: number;
  execStart?: number;
  startBoottime?: number;
  startTime?: number;
  signalThreadHead?: number;
  /** task->rss_stat (struct task_rss_stat, before 6.2). */
  taskRss?: number;
  piBlockedOn?: number;
}

function optOffset(t: KType, path: string): number | undefined {
  try {
    return t.offsetOf(path);
  } catch (e) {
    if (e instanceof KernelLayoutError) return undefined;
    throw e;
  }
}

function taskLayout(k: Kernel): TaskLayout {
  const t = k.type('struct task_struct');
  const stateName = t.hasMember('__state') ? '__state' : 'state';
  const cpu = optOffset(t, 'cpu') ?? t.offsetOf('thread_info.cpu');
  const sig = k.type('struct signal_struct');
  return {
    size: t.sizeof,
    pid: t.offsetOf('pid'),
    tgid: t.offsetOf('tgid'),
    comm: t.offsetOf('comm'),
    state: t.offsetOf(stateName),
    stateSize: t.member(stateName).type.sizeof,
    exitState: t.offsetOf('exit_state'),
    flags: t.offsetOf('flags'),
    cpu,
    onCpu: optOffset(t, 'on_cpu'),
    stack: t.offsetOf('stack'),
    // x86_64 keeps the switched-out stack pointer in thread.sp, arm64 in thread.cpu_context.sp.
    threadSp: optOffset(t, 'thread.sp') ?? t.offsetOf('thread.cpu_context.sp'),
    mm: t.offsetOf('mm'),
    parent: t.offsetOf('parent'),
    realParent: t.offsetOf('real_parent'),
    groupLeader: t.offsetOf('group_leader'),
    tasks: t.offsetOf('tasks'),
    signal: t.offsetOf('signal'),
    threadNode: optOffset(t, 'thread_node'),
    threadGroup: optOffset(t, 'thread_group'),
    lastArrival: optOffset(t, 'sched_info.last_arrival'),
    lastQueued: optOffset(t, 'sched_info.last_queued'),
    execStart: optOffset(t, 'se.exec_start'),
    startBoottime: optOffset(t, 'start_boottime'),
    startTime: optOffset(t, 'start_time'),
    signalThreadHead: optOffset(sig, 'thread_head'),
    taskRss: t.hasMember('rss_stat') ? t.offsetOf('rss_stat') : undefined,
    piBlockedOn: optOffset(t, 'pi_blocked_on'),
  };
}

/** Per-CPU scheduler facts. */
export interface RunqueueInfo {
  cpu: number;
  /** rq->curr, rq->idle (task_struct addresses). */
  curr?: bigint;
  idle?: bigint;
  /** rq->clock in ns. */
  clock?: bigint;
  nrRunning?: number;
  /** What could not be read. */
  notes: string[];
}

/** The scheduler view of a dump: runqueues and tasks, read once. */
export class Scheduler {
  private layout?: TaskLayout;
  private _tasks?: TaskInfo[];
  private _rqs = new Map<number, RunqueueInfo>();
  readonly notes: string[] = [];

  constructor(
    readonly kernel: Kernel,
    /** CPUs to look at (online CPUs). */
    readonly cpus: number[],
  ) {}

  private get L(): TaskLayout {
    this.layout ??= taskLayout(this.kernel);
    return this.layout;
  }

  /** rq facts of one CPU (`runqueues` per-CPU). */
  runqueue(cpu: number): RunqueueInfo {
    let r = this._rqs.get(cpu);
    if (r) return r;
    r = { cpu, notes: [] };
    const rq = attempt(() => this.kernel.perCpu('runqueues', cpu));
    if (rq.ok) {
      const get = <T>(what: string, fn: (v: Value) => T): T | undefined => {
        const x = attempt(() => fn(rq.value));
        if (x.ok) return x.value;
        r!.notes.push(`rq of CPU ${cpu}: ${what} unknown because ${x.unknown}`);
        return undefined;
      };
      r.curr = get('curr', (v) => v.member('curr').pointer());
      r.idle = get('idle', (v) => v.member('idle').pointer());
      r.clock = get('clock', (v) => v.member('clock').u64());
      r.nrRunning = get('nr_running', (v) => Number(v.member('nr_running').u32()));
    } else r.notes.push(`runqueue of CPU ${cpu} unknown because ${rq.unknown}`);
    this._rqs.set(cpu, r);
    return r;
  }

  /** Reads one task_struct. Throws UnreadableMemoryError when its memory cannot be read. */
  readTask(address: bigint): TaskInfo {
    const L = this.L;
    const k = this.kernel;
    const b = k.read(address, L.size, `task_struct at 0x${address.toString(16)}`);
    const u64 = (o: number) => b.readBigUInt64LE(o);
    const comm = b.toString('latin1', L.comm, L.comm + 16);
    const z = comm.indexOf('\0');
    const stateValue = L.stateSize === 8 ? Number(u64(L.state) & 0xffffffffn) : b.readUInt32LE(L.state);
    const exitState = b.readInt32LE(L.exitState);
    const flags = b.readUInt32LE(L.flags);
    const pid = b.readInt32LE(L.pid);
    const cpu = b.readUInt32LE(L.cpu);
    const parent = u64(L.parent);
    let ppid = 0;
    if (parent !== 0n && parent !== address) {
      const p = attempt(() => k.read(parent + BigInt(L.pid), 4, 'parent pid').readInt32LE(0));
      if (p.ok) ppid = p.value;
    }
    const info: TaskInfo = {
      address,
      pid,
      tgid: b.readInt32LE(L.tgid),
      ppid,
      comm: z >= 0 ? comm.slice(0, z) : comm,
      stateValue,
      exitState,
      state: nameTaskState(stateValue, exitState),
      flags,
      kthread: (flags & PF_KTHREAD) !== 0,
      exiting: (flags & PF_EXITING) !== 0,
      idle: pid === 0,
      cpu,
      onCpu: L.onCpu !== undefined ? b.readInt32LE(L.onCpu) !== 0 : false,
      current: false,
      stack: u64(L.stack),
      threadSp: u64(L.threadSp),
      mm: u64(L.mm),
      groupLeader: u64(L.groupLeader),
    };
    if (L.lastArrival !== undefined) info.lastArrival = u64(L.lastArrival);
    if (L.lastQueued !== undefined) info.lastQueued = u64(L.lastQueued);
    if (L.execStart !== undefined) info.execStart = u64(L.execStart);
    if (L.piBlockedOn !== undefined) info.piBlockedOn = u64(L.piBlockedOn);
    const start = L.startBoottime ?? L.startTime;
    if (start !== undefined) info.startTime = Number(u64(start)) / 1e9;
    return info;
  }

  /** Addresses of every task: leaders from init_task.tasks, each leader's threads. */
  *taskAddresses(out: WalkNotes = { notes: this.notes }): Generator<bigint> {
    const k = this.kernel;
    const L = this.L;
    const init = k.symbolAddress('init_task');
    yield init;
    for (const node of listNodes(k, init + BigInt(L.tasks), out, MAX_TASKS, 'init_task.tasks')) {
      const leader = node - BigInt(L.tasks);
      yield leader;
      yield* this.threadsOf(leader, out);
    }
  }

  /** The other threads of a thread-group leader. */
  private *threadsOf(leader: bigint, out: WalkNotes): Generator<bigint> {
    const k = this.kernel;
    const L = this.L;
    if (L.threadNode !== undefined && L.signalThreadHead !== undefined) {
      const sig = attempt(() => k.read(leader + BigInt(L.signal), 8, 'task->signal').readBigUInt64LE(0));
      if (!sig.ok) {
        out.notes.push(`threads of task 0x${leader.toString(16)} unknown because ${sig.unknown}`);
        return;
      }
      if (sig.value === 0n) return;
      const head = sig.value + BigInt(L.signalThreadHead);
      for (const node of listNodes(k, head, out, MAX_THREADS, `signal->thread_head of task 0x${leader.toString(16)}`)) {
        const t = node - BigInt(L.threadNode);
        if (t !== leader) yield t;
      }
      return;
    }
    if (L.threadGroup !== undefined) {
      for (const node of listNodes(k, leader + BigInt(L.threadGroup), out, MAX_THREADS, `thread_group of task 0x${leader.toString(16)}`)) yield node - BigInt(L.threadGroup);
    }
  }

  /** Every task, the idle tasks of all CPUs included, sorted by pid (idle tasks by CPU). Read once. */
  tasks(): TaskInfo[] {
    if (this._tasks) return this._tasks;
    const seen = new Set<bigint>();
    const out: TaskInfo[] = [];
    const add = (a: bigint) => {
      if (seen.has(a) || a === 0n) return;
      seen.add(a);
      try {
        out.push(this.readTask(a));
      } catch (e) {
        if (e instanceof UnreadableMemoryError) this.notes.push(`task at 0x${a.toString(16)} skipped: ${e.because}`);
        else throw e;
      }
    };
    const walk: WalkNotes = { notes: this.notes };
    try {
      for (const a of this.taskAddresses(walk)) add(a);
    } catch (e) {
      if (e instanceof UnreadableMemoryError) this.notes.push(`task list: ${e.because}`);
      else throw e;
    }
    for (const cpu of this.cpus) {
      const rq = this.runqueue(cpu);
      if (rq.idle) add(rq.idle);
      if (rq.curr) add(rq.curr); // a current task missing from the lists (exiting) still shows
    }
    for (const t of out) {
      const rq = this.cpus.includes(t.cpu) ? this.runqueue(t.cpu) : undefined;
      if (rq?.curr === t.address) t.current = true;
      if (rq?.clock !== undefined && t.lastArrival !== undefined && t.lastArrival > 0n && rq.clock >= t.lastArrival) {
        t.sinceLastRun = Number(rq.clock - t.lastArrival) / 1e9;
      } else if (rq?.clock !== undefined && t.execStart !== undefined && t.execStart > 0n && rq.clock >= t.execStart) {
        t.sinceLastRun = Number(rq.clock - t.execStart) / 1e9;
      }
    }
    // Before 6.2 each thread caches RSS deltas in task->rss_stat (SPLIT_RSS_COUNTING): add those of every thread of the mm.
    const threadRss = new Map<bigint, bigint[]>();
    if (this.L.taskRss !== undefined) {
      for (const t of out) {
        if (t.mm === 0n) continue;
        const d = attempt(() => {
          const c = this.kernel.value(t.address + BigInt(this.L.taskRss!), 'struct task_rss_stat').member('count');
          const n = c.type.length ?? 0;
          const v: bigint[] = [];
          for (let i = 0; i < n; i++) v.push(c.index(i).int());
          return v;
        });
        if (!d.ok) continue;
        const acc = threadRss.get(t.mm) ?? d.value.map(() => 0n);
        d.value.forEach((x, i) => (acc[i] += x));
        threadRss.set(t.mm, acc);
      }
    }
    // Memory use is the mm's: read once per address space, not once per thread (20,000 threads of a few processes).
    const byMm = new Map<bigint, { vszKiB?: number; rssKiB?: number }>();
    for (const t of out) {
      if (t.mm === 0n) continue;
      let m = byMm.get(t.mm);
      if (!m) {
        m = this.memoryUse(t.mm, threadRss.get(t.mm));
        byMm.set(t.mm, m);
      }
      if (m.vszKiB !== undefined) t.vszKiB = m.vszKiB;
      if (m.rssKiB !== undefined) t.rssKiB = m.rssKiB;
    }
    out.sort((a, b) => a.pid - b.pid || a.cpu - b.cpu);
    this._tasks = out;
    return out;
  }

  /** VSZ (mm->total_vm) and RSS (file + anon + shmem counters) in KiB, as crash's ps shows them. */
  private memoryUse(mmAddress: bigint, extra?: bigint[]): { vszKiB?: number; rssKiB?: number } {
    const k = this.kernel;
    const out: { vszKiB?: number; rssKiB?: number } = {};
    const mm = attempt(() => k.value(mmAddress, 'struct mm_struct'));
    if (!mm.ok) return out;
    const vm = attempt(() => mm.value.member('total_vm').u64());
    if (vm.ok) out.vszKiB = Number(vm.value) * 4;
    const rss = attempt(() => {
      const stat = mm.value.member('rss_stat');
      // 6.2+: struct percpu_counter rss_stat[NR_MM_COUNTERS]; before: struct mm_rss_stat { atomic_long_t count[] }.
      const counters: bigint[] = [];
      if (stat.type.isArray) {
        const n = stat.type.length ?? 0;
        for (let i = 0; i < n; i++) counters.push(this.percpuCounter(stat.index(i)));
      } else {
        const c = stat.member('count');
        const n = c.type.length ?? 0;
        for (let i = 0; i < n; i++) counters.push(c.index(i).int());
      }
      extra?.forEach((x, i) => (counters[i] = (counters[i] ?? 0n) + x));
      // MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES: resident = all but swap entries.
      return counters.reduce((s, v, i) => (i === 2 ? s : s + (v > 0n ? v : 0n)), 0n);
    });
    if (rss.ok) out.rssKiB = Number(rss.value) * 4;
    return out;
  }

  /** Sum of a struct percpu_counter: count plus every CPU's delta. */
  private percpuCounter(v: Value): bigint {
    let sum = v.member('count').s64();
    const pcp = v.member('counters').pointer();
    if (pcp !== 0n) {
      for (const cpu of this.cpus) {
        const d = attempt(() => this.kernel.read(BigInt.asUintN(64, pcp + this.kernel.perCpuOffset(cpu)), 4, 'percpu_counter').readInt32LE(0));
        if (d.ok) sum += BigInt(d.value);
      }
    }
    return sum;
  }

  /** The task at `address`, from the list when it is there, else read now. */
  task(address: bigint): TaskInfo | undefined {
    const t = this.tasks().find((x) => x.address === address);
    if (t) return t;
    const r = attempt(() => this.readTask(address));
    return r.ok ? r.value : undefined;
  }
}

/** The command line of a user task from its mm (arg_start..arg_end), NULs as spaces; or why it is unknown. */
export function taskCmdline(k: Kernel, t: TaskInfo, userSpace: (pgd: bigint) => { read(a: bigint, n: number): Buffer }): { ok: true; value: string } | { ok: false; unknown: string } {
  if (t.mm === 0n) return { ok: false, unknown: 'kernel thread (no mm)' };
  const mm = attempt(() => k.value(t.mm, 'struct mm_struct'));
  if (!mm.ok) return { ok: false, unknown: mm.unknown };
  const range = attempt(() => ({ start: mm.value.member('arg_start').u64(), end: mm.value.member('arg_end').u64(), pgd: mm.value.member('pgd').pointer() }));
  if (!range.ok) return { ok: false, unknown: range.unknown };
  const { start, end, pgd } = range.value;
  if (end <= start || end - start > 128n * 1024n) return { ok: false, unknown: `implausible argument range 0x${start.toString(16)}-0x${end.toString(16)}` };
  try {
    const b = userSpace(pgd).read(start, Number(end - start));
    return { ok: true, value: b.toString('latin1').replace(/\0+$/, '').replace(/\0/g, ' ') };
  } catch (e) {
    const r = attempt(() => {
      throw e;
    });
    if (!r.ok) {
      const why = r.error instanceof UnreadableMemoryError && r.error.reason === 'excluded' ? 'user pages were excluded from the dump' : r.unknown;
      return { ok: false, unknown: why };
    }
    throw e;
  }
}
