/**
 * The running host -> CaseFile. Samples every thread over a window (states, kernel stacks, CPU
 * time, faults, switches), userfaultfd descriptors (pending/total, holders, readers), per-CPU
 * interrupts, pressure and watchdog settings, the kernel log, and (with perf) the user PCs and
 * counters of the busy threads. Facts cite the /proc path they came from; what could not be
 * read is said in the source notes, never guessed.
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { hostname, release } from 'node:os';
import { performance } from 'node:perf_hooks';
import { spawnSync } from 'node:child_process';
import {
  cpuOf,
  emptyCaseFile,
  taskOf,
  type CaseFile,
  type KernelObject,
  type PcSample,
  type TaskActivity,
  type TaskState,
  type TaskStateLetter,
} from '../../model/casefile.ts';
import type { Arch, Frame } from '../../model/trace.ts';
import { InputError } from '../../model/errors.ts';
import { addParsedLog } from '../log-case.ts';
import { parseLogText } from '../log/index.ts';
import { codeAtPc } from './code.ts';
import { perfInfo, perfRecord, perfStat, type PerfStatCounts } from './perf.ts';
import { kmsgRecordToLine, parseInterrupts, parsePressure, parseSched, parseSyscall, parseUptime, type InterruptTable, type ProcStat } from './proc.ts';
import { waitedFds } from './readers.ts';
import {
  listPids,
  listTids,
  lookFds,
  lookThread,
  readCmdline,
  readStack,
  readText,
  taskDir,
  threadDetails,
  uffdRegisteredVmas,
  type FdLook,
  type ThreadDetails,
} from './snapshot.ts';

export interface LiveOptions {
  /** Sampling window in seconds. */
  seconds: number;
  /** Processes (or threads) to focus on; undefined = the whole host. */
  pids?: number[];
  /** perf binary, or false to sample without it. */
  perf?: string | false;
  /** Read the kernel log (/dev/kmsg, else `dmesg`). Default true. */
  kernelLog?: boolean;
  /** Called as the window advances (0..1) and with what is being done. */
  onProgress?: (fraction: number, what: string) => void;
}

const UFFD_TARGET = 'anon_inode:[userfaultfd]';
/**
 * Threads using at least this share of a CPU between the first two samples are "busy" and get
 * sampled with perf. Lower than "100%" on purpose: on a loaded host a thread that never sleeps
 * still gets only its share of a CPU.
 */
const BUSY_SHARE = 0.3;
const MAX_PERF_THREADS = 16;
/** How often the kernel stacks of busy threads are read between samples (ms). */
const STACK_LOOK_MS = 20;

interface ThreadSample {
  stat: ProcStat;
  stack?: Frame[];
  stackError?: string;
}

interface Sample {
  /** Seconds since the window started. */
  t: number;
  threads: Map<number, ThreadSample>;
  /** tid -> tgid. */
  tgid: Map<number, number>;
  /** uffd key -> pending/total at this sample. */
  uffd: Map<string, { pending?: number; total?: number }>;
}

interface UffdSeen {
  key: string;
  ino?: number;
  holders: Map<number, FdLook>;
}

function archOf(): Arch {
  switch (process.arch) {
    case 'x64':
      return 'x86_64';
    case 'arm64':
      return 'arm64';
    case 'ia32':
      return 'x86';
    case 'ppc64':
      return 'ppc64';
    case 's390x':
      return 's390x';
    case 'arm':
      return 'arm';
    default:
      return 'unknown';
  }
}

function clockTicks(): number {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const v = Number(r.stdout?.trim());
  return Number.isInteger(v) && v > 0 ? v : 100;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function uffdKey(pid: number, f: FdLook): string {
  return f.info.ino !== undefined ? `uffd:${f.info.ino}` : `uffd:${pid}-${f.fd}`;
}

/** Samples the host and returns the CaseFile. */
export async function collectLive(opts: LiveOptions): Promise<CaseFile> {
  const c = emptyCaseFile();
  const notes: string[] = [];
  let incomplete = false;
  const arch = archOf();
  const hz = clockTicks();
  const self = process.pid;
  const progress = opts.onProgress ?? (() => {});
  const isRoot = process.getuid?.() === 0;
  if (!isRoot) {
    incomplete = true;
    notes.push('not running as root: kernel stacks, other users\' descriptors and memory, and perf sampling of other processes are not readable; the analysis covers only what could be read');
  }

  // Which processes are in scope (a thread id given with --pid means its process).
  let scope: Set<number> | undefined;
  if (opts.pids?.length) {
    scope = new Set();
    for (const p of opts.pids) {
      const status = readText(`/proc/${p}/status`);
      const tgid = status ? Number(/^Tgid:\s*(\d+)/m.exec(status)?.[1]) : NaN;
      if (!status) notes.push(`--pid ${p}: no such process`);
      else scope.add(Number.isInteger(tgid) ? tgid : p);
    }
  }

  // --- system facts
  fillSystem(c, arch);

  // --- the window
  const windowMs = Math.max(0.5, opts.seconds) * 1000;
  const interval = Math.max(200, Math.min(1000, windowMs / 10));
  const start = performance.now();
  const irqStart = readText('/proc/interrupts');
  const samples: Sample[] = [];
  const uffds = new Map<string, UffdSeen>();
  /** uffd key -> threads seen blocked reading or polling it, at any sample. */
  const readersSeen = new Map<string, Map<number, { call: string; fd: number }>>();
  const switchesAtStart = new Map<number, { vol: number; inv: number; starttime: number }>();
  const excluded = (ppidOf: Map<number, number>, tgid: number): boolean => {
    if (tgid === self) return true;
    const p = ppidOf.get(tgid);
    if (p === self) return true;
    return p !== undefined && ppidOf.get(p) === self;
  };

  const take = (first: boolean): Sample => {
    const s: Sample = { t: (performance.now() - start) / 1000, threads: new Map(), tgid: new Map(), uffd: new Map() };
    const ppidOf = new Map<number, number>();
    for (const pid of listPids()) {
      const tids = listTids(pid);
      for (const tid of tids) {
        const look = lookThread(pid, tid);
        if (!look) continue;
        if (tid === pid) ppidOf.set(pid, look.stat.ppid);
        s.threads.set(tid, { stat: look.stat });
        s.tgid.set(tid, pid);
      }
    }
    for (const [tid, ts] of s.threads) {
      const tgid = s.tgid.get(tid)!;
      if (excluded(ppidOf, tgid)) {
        s.threads.delete(tid);
        continue;
      }
      const inScope = !scope || scope.has(tgid);
      if ((ts.stat.state === 'D' || ts.stat.state === 'R') && inScope) {
        const st = readStack(tgid, tid);
        ts.stack = st.stack;
        ts.stackError = st.error;
      }
      if (first && (inScope && (scope || ts.stat.state === 'D' || ts.stat.state === 'R'))) {
        const st = readText(`${taskDir(tgid, tid)}/status`);
        const vol = st ? Number(/^voluntary_ctxt_switches:\s*(\d+)/m.exec(st)?.[1]) : NaN;
        const inv = st ? Number(/^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(st)?.[1]) : NaN;
        if (Number.isFinite(vol) && Number.isFinite(inv)) switchesAtStart.set(tid, { vol, inv, starttime: ts.stat.starttime });
      }
    }
    if (first) {
      for (const pid of new Set(s.tgid.values())) {
        const { fds } = lookFds(pid, (t) => t === UFFD_TARGET);
        for (const f of fds) {
          const key = uffdKey(pid, f);
          const u = uffds.get(key) ?? { key, ino: f.info.ino, holders: new Map() };
          u.holders.set(pid, f);
          uffds.set(key, u);
        }
      }
    }
    for (const u of uffds.values()) {
      for (const [pid, f] of u.holders) {
        const info = readText(`/proc/${pid}/fdinfo/${f.fd}`);
        if (info === undefined) continue;
        const pending = Number(/^pending:\s*(\d+)/m.exec(info)?.[1]);
        const total = Number(/^total:\s*(\d+)/m.exec(info)?.[1]);
        s.uffd.set(u.key, { pending: Number.isFinite(pending) ? pending : undefined, total: Number.isFinite(total) ? total : undefined });
        break;
      }
    }
    // Readers of each uffd, at every sample: a server that polls is sometimes running (serving a fault, or waiting for
    // a CPU on a loaded host) at any one look; it is a reader if it was seen blocked on the descriptor at any.
    for (const u of uffds.values()) {
      for (const [pid, f] of u.holders) {
        for (const [tid, tg] of s.tgid) {
          if (tg !== pid) continue;
          const raw = readText(`${taskDir(pid, tid)}/syscall`);
          const w = raw ? waitedFds(pid, parseSyscall(raw), arch) : undefined;
          if (!w?.fds.includes(f.fd)) continue;
          const seen = readersSeen.get(u.key) ?? new Map<number, { call: string; fd: number }>();
          seen.set(tid, { call: w.call, fd: f.fd });
          readersSeen.set(u.key, seen);
        }
      }
    }
    samples.push(s);
    return s;
  };

  progress(0, 'sampling tasks');
  const first = take(true);
  // A short first interval picks the busy threads that perf will sample for the rest of the window.
  await sleep(interval);
  const second = take(false);
  // With --pid, every thread of those processes that stayed runnable is sampled, however little CPU a loaded host gave it.
  const busy = busyThreads(first, second, hz, !!scope).filter((tid) => !scope || scope.has(second.tgid.get(tid) ?? -1));
  const perfTargets = busy.slice(0, MAX_PERF_THREADS);
  const remaining = Math.max(0.5, (windowMs - (performance.now() - start)) / 1000);

  let perfSamples = new Map<number, PcSample[]>();
  let perfCounts = new Map<number, PerfStatCounts>();
  const perfNotes: string[] = [];
  let perfMissing: string | undefined;
  let perfJob: Promise<void> = Promise.resolve();
  if (opts.perf === false) perfMissing = 'perf disabled (--no-perf)';
  else if (perfTargets.length) {
    const info = await perfInfo(opts.perf || 'perf');
    if (!info.available) perfMissing = info.reason;
    else {
      const secs = Math.round(remaining * 10) / 10;
      perfJob = Promise.all([perfRecord(perfTargets, secs, opts.perf || 'perf'), perfStat(perfTargets, secs, opts.perf || 'perf')]).then(([rec, stat]) => {
        perfSamples = rec.samples;
        perfCounts = stat.counts;
        perfNotes.push(...rec.notes, ...stat.notes);
      });
    }
  }
  if (perfMissing && busy.length) {
    incomplete = true;
    notes.push(
      `frozen-instruction could not be checked for ${busy.length} busy thread(s) (${busy.slice(0, 8).join(', ')}): ${perfMissing}; without perf the user PC, its stability across samples and the fault/signal/IPC counters are unknown`,
    );
  }

  // Between samples, the kernel stacks of the busy threads are read often: a thread on a CPU shows an empty stack,
  // so how it enters the kernel (faults, timer interrupts, system calls) needs many looks, more so on an idle host.
  const busyStacks = new Map<number, Frame[][]>();
  const lookAtBusy = () => {
    for (const tid of perfTargets.length ? perfTargets : busy.slice(0, MAX_PERF_THREADS)) {
      const tgid = second.tgid.get(tid);
      if (tgid === undefined) continue;
      const st = readStack(tgid, tid);
      if (st.stack) busyStacks.set(tid, [...(busyStacks.get(tid) ?? []), st.stack]);
    }
  };
  while (performance.now() - start < windowMs) {
    progress(Math.min(0.95, (performance.now() - start) / windowMs), 'sampling tasks');
    const until = performance.now() + Math.min(interval, Math.max(10, windowMs - (performance.now() - start)));
    while (performance.now() < until) {
      await sleep(Math.min(STACK_LOOK_MS, Math.max(1, until - performance.now())));
      if (busy.length) lookAtBusy();
    }
    take(false);
  }
  progress(0.95, 'waiting for perf');
  await perfJob;
  notes.push(...perfNotes);
  if (!perfMissing && perfTargets.length && !perfSamples.size) {
    perfMissing = `perf took no samples${perfNotes.length ? ` (${perfNotes[0]})` : ''}`;
    incomplete = true;
    notes.push(`frozen-instruction could not be checked for ${perfTargets.length} busy thread(s) (${perfTargets.slice(0, 8).join(', ')}): ${perfMissing}`);
  }
  const irqEnd = readText('/proc/interrupts');
  const last = samples[samples.length - 1];
  const window = last.t - first.t;
  progress(0.97, 'reading descriptors and the kernel log');

  // Final look at userfaultfds: holders now (a holder may have gone during the window).
  const finalHolders = new Map<string, Map<number, FdLook>>();
  for (const pid of new Set(last.tgid.values())) {
    const { fds } = lookFds(pid, (t) => t === UFFD_TARGET);
    for (const f of fds) {
      const key = uffdKey(pid, f);
      const m = finalHolders.get(key) ?? new Map<number, FdLook>();
      m.set(pid, f);
      finalHolders.set(key, m);
      if (!uffds.has(key)) uffds.set(key, { key, ino: f.info.ino, holders: new Map(m) });
    }
  }

  // --- which threads to report
  const dThroughout = new Set<number>();
  for (const [tid, ts] of last.threads) {
    if (ts.stat.state !== 'D') continue;
    if (samples.every((s) => s.threads.get(tid)?.stat.state === 'D')) dThroughout.add(tid);
  }
  const uffdWaiters = [...last.threads].filter(([, ts]) => ts.stack?.some((f) => f.function === 'handle_userfault')).map(([tid]) => tid);
  const include = new Set<number>();
  for (const [tid] of last.threads) {
    const tgid = last.tgid.get(tid)!;
    if (scope) {
      if (scope.has(tgid)) include.add(tid);
    } else if (dThroughout.has(tid) || busy.includes(tid) || samples.some((s) => s.threads.get(tid)?.stat.state === 'D')) include.add(tid);
  }
  // Holders of the uffds that included tasks wait on: their threads may be the missing readers.
  const relevantUffds = new Set<string>();
  for (const [key, holders] of finalHolders) {
    const lastU = last.uffd.get(key);
    const anyWaiterIncluded = uffdWaiters.some((t) => include.has(t));
    if ([...holders.keys()].some((p) => !scope || scope.has(p)) || (anyWaiterIncluded && (lastU?.pending ?? 0) > 0)) relevantUffds.add(key);
  }
  for (const key of relevantUffds) {
    for (const pid of finalHolders.get(key)?.keys() ?? []) for (const [tid, tg] of last.tgid) if (tg === pid) include.add(tid);
  }

  // --- the kernel log first: live facts below override what it says about tasks still running.
  if (opts.kernelLog === false) notes.push('kernel log not read (--no-kernel-log): oopses, lockups and hung-task reports from before the window are not seen');
  else if (!(await addKernelLog(c, notes))) incomplete = true;
  const fromLog = new Set(c.tasks.map((t) => t.pid));

  // --- tasks
  const details = new Map<number, ThreadDetails>();
  for (const tid of include) {
    const tgid = last.tgid.get(tid)!;
    const d = threadDetails(tgid, tid);
    if (d) details.set(tid, d);
  }
  // The scheduler clock of `se.exec_start` is not /proc/uptime (it starts later in boot): our own
  // thread's exec_start, read now while it runs, is "now" on that clock.
  const schedNowMs = parseSched(readText('/proc/thread-self/sched') ?? '').execStartMs;
  const cmdlines = new Map<number, string | undefined>();
  const stackErrors = new Set<string>();
  for (const tid of [...include].sort((a, b) => a - b)) {
    const ts = last.threads.get(tid)!;
    const tgid = last.tgid.get(tid)!;
    const dir = taskDir(tgid, tid);
    const t = taskOf(c, tid, ts.stat.comm);
    t.comm = ts.stat.comm;
    t.tgid = tgid;
    t.ppid = last.threads.get(tgid)?.stat.ppid ?? ts.stat.ppid;
    t.cpu = ts.stat.processor;
    t.kthread = isKernelThread(tgid);
    t.startTime = ts.stat.starttime / hz;
    if (!cmdlines.has(tgid)) cmdlines.set(tgid, readCmdline(tgid));
    const cmd = cmdlines.get(tgid);
    if (cmd) t.cmdline = cmd;
    const states = samples.map((s) => s.threads.get(tid)?.stat.state).filter((x): x is TaskStateLetter => !!x);
    // D only when it stayed D over the whole window: a task briefly in D is doing I/O, not hung.
    t.state = ts.stat.state === 'D' && !dThroughout.has(tid) ? undefined : ts.stat.state;
    const d = details.get(tid);
    if (d?.wchan) t.wchan = d.wchan;
    if (d) {
      const st = d.status;
      t.signals = { pending: st.get('SigPnd'), sharedPending: st.get('ShdPnd'), blocked: st.get('SigBlk'), ignored: st.get('SigIgn'), caught: st.get('SigCgt') };
    }
    if (ts.stack) {
      t.stack = ts.stack;
      t.stackFrom = { kind: 'live', path: `${dir}/stack` };
    } else if (ts.stackError) stackErrors.add(ts.stackError);
    t.facts.push({
      text: `${ts.stat.comm}:${tid} state ${states.join('')} over ${window.toFixed(1)}s${t.wchan ? `, wchan ${t.wchan}` : ''}`,
      from: { kind: 'live', path: `${dir}/stat` },
    });
    if (t.state === 'D') {
      const sinceRun = d?.sched.execStartMs !== undefined && schedNowMs !== undefined ? (schedNowMs - d.sched.execStartMs) / 1000 : undefined;
      t.blockedSeconds = Math.round(Math.max(window, sinceRun ?? 0));
      if (ts.stack?.length) t.facts.push({ text: `kernel stack: ${ts.stack.slice(0, 4).map((f) => f.function).join(' <- ')}`, from: { kind: 'live', path: `${dir}/stack` } });
    }
    t.activity = activityOf(tid, samples, hz, window, dir, busyStacks.get(tid));
    const sw0 = switchesAtStart.get(tid);
    if (d && sw0 && sw0.starttime === ts.stat.starttime) {
      const vol = Number(d.status.get('voluntary_ctxt_switches'));
      const inv = Number(d.status.get('nonvoluntary_ctxt_switches'));
      if (Number.isFinite(vol)) t.activity.voluntarySwitches = vol - sw0.vol;
      if (Number.isFinite(inv)) t.activity.involuntarySwitches = inv - sw0.inv;
    }
    const pc = perfCounts.get(tid);
    if (pc) applyPerfCounts(t.activity, pc);
    if (perfTargets.includes(tid) && !perfMissing) {
      const ss = perfSamples.get(tid);
      if (ss?.length) t.samples = ss;
      else (t.activity.notes ??= []).push('perf took no user-space samples of this thread');
    } else if (busy.includes(tid) && perfMissing) (t.activity.notes ??= []).push(`user PC not sampled: ${perfMissing}`);
    if (t.samples?.length) {
      const dom = dominantPc(t.samples);
      const code = await codeAtPc(tgid, dom, arch);
      if (typeof code === 'string') (t.activity.notes ??= []).push(code);
      else t.code = code;
    }
  }
  if (stackErrors.size) {
    incomplete = true;
    notes.push(`kernel stacks not readable (${[...stackErrors].join(', ')})${isRoot ? '' : ': reading /proc/PID/stack needs root'}`);
  }
  // Tasks only the log knew about: their log state is history, not now.
  for (const t of c.tasks) {
    if (!fromLog.has(t.pid) || include.has(t.pid)) continue;
    const now = lookThread(last.tgid.get(t.pid) ?? t.pid, t.pid);
    if (!now) {
      t.state = undefined;
      t.facts.push({ text: `${t.comm}:${t.pid} is not running any more`, from: { kind: 'live', path: `/proc/${t.pid}` } });
    } else {
      t.state = now.stat.state === 'D' && !dThroughout.has(t.pid) ? undefined : now.stat.state;
      t.facts.push({ text: `${t.comm}:${t.pid} is now in state ${now.stat.state}`, from: { kind: 'live', path: `/proc/${t.pid}/stat` } });
    }
  }

  // --- userfaultfd contexts
  addUffds(c, uffds, finalHolders, relevantUffds, samples, include, arch, readersSeen);

  // --- CPUs: interrupts over the window
  if (irqStart && irqEnd) addInterrupts(c, parseInterrupts(irqStart), parseInterrupts(irqEnd), window);

  c.sources.unshift({
    kind: 'live',
    path: '/proc',
    format: `live host, ${samples.length} samples over ${window.toFixed(1)}s${perfTargets.length && !perfMissing ? `, perf on ${perfTargets.length} busy thread(s)` : ''}`,
    notes: [...notes, ...(scope ? [`focused on process(es) ${[...scope].join(', ')}`] : [])],
    incomplete,
  });
  progress(1, 'done');
  return c;
}

function isKernelThread(pid: number): boolean {
  // Kernel threads have an empty command line and PF_KTHREAD (0x00200000) in their flags.
  const stat = readText(`/proc/${pid}/stat`);
  if (!stat) return false;
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const flags = Number(rest[9 - 3]);
  return Number.isFinite(flags) && (flags & 0x00200000) !== 0;
}

/**
 * Threads that used at least BUSY_SHARE of a CPU between two samples, or were runnable at both
 * (on a crowded CPU a thread that never sleeps may get less), busiest first.
 */
function busyThreads(a: Sample, b: Sample, hz: number, anyRunnable = false): number[] {
  const dt = b.t - a.t;
  const out: Array<[number, number]> = [];
  for (const [tid, tb] of b.threads) {
    const ta = a.threads.get(tid);
    if (!ta || ta.stat.starttime !== tb.stat.starttime) continue;
    const share = (tb.stat.utime + tb.stat.stime - ta.stat.utime - ta.stat.stime) / hz / dt;
    const runnable = ta.stat.state === 'R' && tb.stat.state === 'R' && (share > 0 || anyRunnable);
    if (share >= BUSY_SHARE || runnable) out.push([tid, share]);
  }
  return out.sort((x, y) => y[1] - x[1]).map(([tid]) => tid);
}

function activityOf(tid: number, samples: Sample[], hz: number, window: number, dir: string, extraStacks: Frame[][] = []): TaskActivity {
  const seen = samples.filter((s) => s.threads.has(tid));
  const a = seen[0].threads.get(tid)!.stat;
  const b = seen[seen.length - 1].threads.get(tid)!.stat;
  const act: TaskActivity = {
    seconds: Math.round((seen[seen.length - 1].t - seen[0].t) * 1000) / 1000 || window,
    userSeconds: (b.utime - a.utime) / hz,
    systemSeconds: (b.stime - a.stime) / hz,
    minorFaults: b.minflt - a.minflt,
    majorFaults: b.majflt - a.majflt,
    states: seen.map((s) => s.threads.get(tid)!.stat.state),
    from: { kind: 'live', path: `${dir}/stat` },
  };
  const entries = [...seen.map((s) => s.threads.get(tid)!.stack).filter((x): x is Frame[] => !!x), ...extraStacks];
  if (entries.length) act.kernelEntries = entries.map(kernelEntry);
  return act;
}

/** The outermost frame of a kernel stack, with the system call when there is one (`entry_SYSCALL_64_after_hwframe:rt_sigreturn`). */
function kernelEntry(stack: Frame[]): string {
  const outer = stack[stack.length - 1]?.function ?? '';
  const sys = stack.map((f) => /^__(?:x64|ia32|arm64|se)_sys_(\w+)$/.exec(f.function)).find((m) => m);
  return sys ? `${outer}:${sys[1]}` : outer;
}

function applyPerfCounts(act: TaskActivity, pc: PerfStatCounts): void {
  if (pc.pageFaults !== undefined) act.pageFaults = pc.pageFaults;
  if (pc.signalsDelivered !== undefined) act.signalsDelivered = pc.signalsDelivered;
  if (pc.instructions !== undefined) act.instructions = pc.instructions;
  if (pc.cycles !== undefined) act.cycles = pc.cycles;
  if (pc.instructions === undefined || pc.cycles === undefined) {
    (act.notes ??= []).push(`IPC unknown: perf cannot count instructions and cycles here${pc.unsupported.length ? ` (${pc.unsupported.join(', ')})` : ''}: no hardware PMU in this machine or VM`);
  }
}

/** The most frequent user PC of a thread's samples. */
export function dominantPc(samples: readonly PcSample[]): string {
  const n = new Map<string, number>();
  for (const s of samples) n.set(s.pc, (n.get(s.pc) ?? 0) + 1);
  return [...n].sort((a, b) => b[1] - a[1])[0][0];
}

function fillSystem(c: CaseFile, arch: Arch): void {
  const s = c.system;
  s.release = release();
  s.arch = arch;
  s.hostname = hostname();
  s.uptime = parseUptime(readText('/proc/uptime') ?? '');
  s.commandLine = readText('/proc/cmdline')?.trim();
  const online = readText('/sys/devices/system/cpu/online');
  const cpus = (readText('/proc/stat') ?? '').split('\n').filter((l) => /^cpu\d+\s/.test(l)).length;
  if (cpus) s.cpus = cpus;
  const taint = Number(readText('/proc/sys/kernel/tainted')?.trim());
  if (Number.isFinite(taint) && taint) s.taint = `0x${taint.toString(16)}`;
  const fact = (text: string, path: string): void => void s.facts.push({ text, from: { kind: 'live', path } });
  if (online) fact(`online CPUs: ${online.trim()}`, '/sys/devices/system/cpu/online');
  const sysctls = [
    'kernel/hung_task_timeout_secs',
    'kernel/hung_task_panic',
    'kernel/hung_task_warnings',
    'kernel/watchdog',
    'kernel/watchdog_thresh',
    'kernel/softlockup_panic',
    'kernel/hardlockup_panic',
    'vm/unprivileged_userfaultfd',
  ];
  for (const k of sysctls) {
    const v = readText(`/proc/sys/${k}`)?.trim();
    if (v !== undefined) fact(`${k.replace('/', '.')} = ${v}`, `/proc/sys/${k}`);
  }
  for (const r of ['cpu', 'io', 'memory']) {
    const p = parsePressure(readText(`/proc/pressure/${r}`) ?? '');
    if (p.some) fact(`${r} pressure: some avg10=${p.some.avg10}%${p.full ? `, full avg10=${p.full.avg10}%` : ''}`, `/proc/pressure/${r}`);
  }
}

/** Reads the kernel log without blocking: /dev/kmsg records, else `dmesg`. */
export function readKernelLog(): { text?: string; path: string; note?: string } {
  let fd: number | undefined;
  try {
    fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    const lines: string[] = [];
    const buf = Buffer.alloc(16 * 1024);
    for (let i = 0; i < 1_000_000; i++) {
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break;
        if (code === 'EPIPE') continue; // records overwritten while reading: the next read resyncs
        throw err;
      }
      if (n <= 0) break;
      const line = kmsgRecordToLine(buf.subarray(0, n).toString('utf8'));
      if (line !== undefined) lines.push(line);
    }
    return { text: lines.join('\n') + '\n', path: '/dev/kmsg' };
  } catch (err) {
    const r = spawnSync('dmesg', [], { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 * 1024 * 1024 });
    if (r.status === 0 && r.stdout) return { text: r.stdout, path: 'dmesg' };
    return { path: '/dev/kmsg', note: `kernel log not readable (/dev/kmsg: ${(err as NodeJS.ErrnoException).code ?? String(err)}; dmesg: ${(r.stderr || r.error?.message || `exit ${r.status}`).trim()})` };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Reads the kernel log into the CaseFile; when it cannot be read or parsed, says why and returns false (the report is then incomplete). */
async function addKernelLog(c: CaseFile, notes: string[]): Promise<boolean> {
  const log = readKernelLog();
  if (log.text === undefined) {
    notes.push(log.note ?? 'kernel log not readable');
    return false;
  }
  try {
    addParsedLog(c, parseLogText(log.text, log.path));
  } catch (err) {
    notes.push(`kernel log not analysed: ${err instanceof InputError ? err.describe() : err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
    return false;
  }
  return true;
}

function addUffds(
  c: CaseFile,
  uffds: Map<string, UffdSeen>,
  finalHolders: Map<string, Map<number, FdLook>>,
  relevant: Set<string>,
  samples: Sample[],
  include: Set<number>,
  arch: Arch,
  readersSeen: Map<string, Map<number, { call: string; fd: number }>>,
): void {
  const last = samples[samples.length - 1];
  const objects = new Map<string, KernelObject>();
  for (const key of relevant) {
    const seen = uffds.get(key)!;
    const holders = finalHolders.get(key) ?? new Map<number, FdLook>();
    const series = {
      pending: samples.map((s) => s.uffd.get(key)?.pending).filter((x): x is number => x !== undefined),
      total: samples.map((s) => s.uffd.get(key)?.total).filter((x): x is number => x !== undefined),
    };
    const lastU = last.uffd.get(key);
    const obj: KernelObject = {
      id: key,
      kind: 'uffd-ctx',
      observed: {
        ...(seen.ino !== undefined ? { inode: seen.ino } : {}),
        ...(lastU?.pending !== undefined ? { pending: lastU.pending } : {}),
        ...(lastU?.total !== undefined ? { total: lastU.total } : {}),
        holders: holders.size,
        readers: 0,
        samples: samples.length,
      },
      facts: [],
      series,
      holders: [],
    };
    for (const [pid, f] of holders) {
      const stat = last.threads.get(pid)?.stat;
      const regs = uffdRegisteredVmas(pid);
      obj.holders!.push({ pid, comm: stat?.comm, fd: f.fd, startTime: stat ? stat.starttime / clockTicksCached() : undefined, from: { kind: 'live', path: `/proc/${pid}/fdinfo/${f.fd}` } });
      obj.facts.push({
        text: `${stat?.comm ?? '?'}:${pid} holds it as fd ${f.fd} (pending ${f.info.pending ?? '?'}, total ${f.info.total ?? '?'})`,
        from: { kind: 'live', path: `/proc/${pid}/fdinfo/${f.fd}` },
      });
      if (regs) {
        obj.observed.owner = pid;
        obj.facts.push({ text: `${stat?.comm ?? '?'}:${pid} has ${regs} memory area(s) registered with a userfaultfd (VmFlags um/uw/ui)`, from: { kind: 'live', path: `/proc/${pid}/smaps` } });
      }
    }
    if (!holders.size) obj.facts.push({ text: 'no process holds it any more', from: { kind: 'live', path: '/proc/*/fd' } });
    objects.set(key, obj);
    c.objects.push(obj);
  }

  // Readers: threads of holders blocked reading or polling the uffd's descriptor.
  for (const obj of objects.values()) {
    for (const h of obj.holders ?? []) {
      for (const [tid, tgid] of last.tgid) {
        if (tgid !== h.pid) continue;
        const d = threadDetails(tgid, tid);
        const now = waitedFds(tgid, d?.syscall, arch);
        const earlier = readersSeen.get(obj.id)?.get(tid);
        const w = now?.fds.includes(h.fd!) ? now : earlier && earlier.fd === h.fd ? { call: earlier.call, fds: [earlier.fd] } : undefined;
        if (!w) continue;
        obj.observed.readers = Number(obj.observed.readers) + 1;
        const t = c.tasks.find((x) => x.pid === tid) ?? (include.has(tid) ? undefined : taskOf(c, tid, last.threads.get(tid)?.stat.comm ?? '?'));
        const path = `${taskDir(tgid, tid)}/syscall`;
        if (t) {
          (t.waitsOn ??= []).push({ object: obj.id, as: 'reader', how: `blocked in ${w.call} on fd ${h.fd}`, from: { kind: 'live', path } });
          t.tgid ??= tgid;
          t.state ??= last.threads.get(tid)?.stat.state;
        }
        obj.facts.push({ text: `thread ${tid} of ${h.comm ?? '?'}:${tgid} waits in ${w.call} on fd ${h.fd}: it reads this userfaultfd`, from: { kind: 'live', path } });
      }
    }
  }

  // Faulting threads: which uffd they wait on. A dump reads it from vmf->vma; here it is inferred.
  for (const t of c.tasks) {
    if (!t.stack?.some((f) => f.function === 'handle_userfault')) continue;
    const own = [...objects.values()].filter((o) => o.holders?.some((h) => h.pid === t.tgid));
    const ownPending = own.filter((o) => Number(o.observed.pending ?? 0) > 0);
    const anyPending = [...objects.values()].filter((o) => Number(o.observed.pending ?? 0) > 0 || Number(o.observed.total ?? 0) > 0);
    let pick: KernelObject[] = [];
    let how = '';
    if (own.length === 1) {
      pick = own;
      how = 'the only userfaultfd its process holds';
    } else if (ownPending.length === 1) {
      pick = ownPending;
      how = 'the only userfaultfd with queued faults that its process holds';
    } else if (anyPending.length === 1) {
      pick = anyPending;
      how = 'the only userfaultfd on the host with queued faults';
    } else if (anyPending.length > 1) {
      pick = ownPending.length ? ownPending : anyPending;
      how = `one of ${pick.length} userfaultfds with queued faults (which one is not visible in /proc)`;
    }
    const path = t.stackFrom?.kind === 'live' ? t.stackFrom.path : `/proc/${t.pid}/stack`;
    for (const o of pick) (t.waitsOn ??= []).push({ object: o.id, as: 'fault', how, from: { kind: 'live', path } });
  }
}

let ticks: number | undefined;
function clockTicksCached(): number {
  ticks ??= clockTicks();
  return ticks;
}

function addInterrupts(c: CaseFile, a: InterruptTable, b: InterruptTable, seconds: number): void {
  for (let col = 0; col < b.cpus.length; col++) {
    const cpu = b.cpus[col];
    const colA = a.cpus.indexOf(cpu);
    if (colA < 0) continue;
    const rows: Array<{ irq: string; name: string; count: number }> = [];
    for (const rb of b.rows) {
      const ra = a.rows.find((r) => r.irq === rb.irq);
      if (!ra || rb.counts.length <= col || ra.counts.length <= colA) continue;
      const d = rb.counts[col] - ra.counts[colA];
      if (d > 0) rows.push({ irq: rb.irq, name: rb.name, count: d });
    }
    rows.sort((x, y) => y.count - x.count);
    const s = cpuOf(c, cpu);
    s.interrupts = { seconds, total: rows.reduce((n, r) => n + r.count, 0), top: rows.slice(0, 5), from: { kind: 'live', path: '/proc/interrupts' } };
  }
}

