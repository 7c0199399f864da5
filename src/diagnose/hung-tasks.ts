/**
 * Hung tasks: D-state tasks (reported by the kernel's hung-task detector, or seen in D past its timeout in a dump or
 * on a live host) grouped by where they wait (first frame below the generic sleeping/locking frames) and what they
 * wait on. Each task becomes a node of the wait-for graph with an edge to what it waits for: the lock the kernel's
 * blocker hint names (and that lock's owner), an RCU grace period, or — when the log does not say — a vague object
 * "the <lock> waited on in <site>" that a dump's concrete lock replaces. The graph decides the root.
 */
import type { TaskRef } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import type { Frame } from '../model/trace.ts';
import type { TaskState } from '../model/casefile.ts';
import { cpuNode, finding, pastedOnly, taskNode, type DetectorContext } from './context.ts';
import { busyInKernel } from './cpu-view.ts';
import { isBenignWait } from './known/frames.ts';
import { RCU_GP } from './lockups.ts';
import { isLockWait, taskWait, type WaitKind } from './waits.ts';

export interface WaitSite {
  /** The first frame below the sleeping/locking frames: where the task asked to wait. */
  site?: Frame;
  /** The lock type when the task sleeps in a lock slow path. */
  lock?: 'mutex' | 'rwsem-read' | 'rwsem-write' | 'semaphore' | 'rt-mutex' | 'percpu-rwsem';
  /** The generic sleeping frames above it, innermost first. */
  sleep: string[];
}

/** Where a sleeping stack waits, and on which kind of lock if it is a lock slow path. */
export function waitSite(stack: readonly Frame[]): WaitSite {
  const w = taskWait(stack);
  return { ...(w.site ? { site: w.site } : {}), ...(isLockWait(w.kind) ? { lock: w.kind as WaitSite['lock'] } : {}), sleep: w.sleep };
}

/** The default hung-task timeout (kernel.hung_task_timeout_secs) when the evidence does not state one. */
const DEFAULT_HUNG_TIMEOUT = 120;

/** Whether the kernel reported this task blocked: its hung-task detector, or a SysRq-w dump of blocked tasks an operator asked for. */
function reportedHung(ctx: DetectorContext, t: TaskState): boolean {
  return t.events.some((id) => {
    const k = ctx.c.events.find((e) => e.id === id)?.kind;
    return k === 'hung-task' || k === 'sysrq-blocked';
  });
}

function taskLabel(t: { comm: string; pid: number }): string {
  return `${t.comm}:${t.pid}`;
}

const LOCK_TEXT: Partial<Record<WaitKind, string>> = {
  'rwsem-read': 'an rw-semaphore (read)',
  'rwsem-write': 'an rw-semaphore (write)',
  mutex: 'a mutex',
  semaphore: 'a semaphore',
  'rt-mutex': 'an rt-mutex',
  'percpu-rwsem': 'a percpu rw-semaphore',
};

/** The hung-task timeout in force: the kernel's own setting when the evidence has it, else the default. */
function hungTimeout(ctx: DetectorContext): number {
  const t = ctx.c.system.hungTaskTimeout;
  if (t !== undefined && t > 0) return t;
  const m = /\bhung_task_timeout_secs=(\d+)/.exec(ctx.c.system.commandLine ?? '');
  return m ? Number(m[1]) : DEFAULT_HUNG_TIMEOUT;
}

export function hungTasksDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const timeout = hungTimeout(ctx);
  // The runqueue clocks stop with the CPUs when every busy CPU spins with interrupts off: "time since last run" means nothing then.
  const dumpCpus = ctx.views.cpus.filter((v) => v.from === 'dump' && busyInKernel(v));
  const clocksStopped = dumpCpus.length > 0 && dumpCpus.every((v) => v.irqsEnabled === false);
  const seenLive = (t: TaskState) => t.facts.some((f) => f.from.kind === 'live');
  const pasted = pastedOnly(ctx.c);
  const pastedBlocked = (t: TaskState) => pasted && t.facts.some((f) => f.from.kind === 'text');
  // A D task is hung when the kernel reported it, or when it has been blocked past the kernel's own threshold.
  // D waits that are normal however long they last (a vfork parent) count only when the kernel itself reported them.
  const hung = ctx.c.tasks.filter((t) => {
    if (t.state !== 'D') return false;
    if (reportedHung(ctx, t)) return true;
    if (isBenignWait(t.stack ?? [])) return false;
    if (seenLive(t)) return true;
    // A D task in pasted crash output (`ps | grep UN`, `foreach UN bt`) is one the user picked out of a hang: it counts
    // unless the text itself measures it blocked for less than the timeout (`ps -m`).
    if (pastedBlocked(t)) return t.blockedSeconds === undefined || t.blockedSeconds >= timeout;
    return !clocksStopped && (t.blockedSeconds ?? 0) >= timeout;
  });
  if (!hung.length) return out;

  // Blocker hints: task -> owner.
  const owners = new Map<number, { owner: TaskRef; kind: string; line: number; source: string; address?: string }>();
  for (const e of ctx.c.events) {
    if (e.kind !== 'hung-task' || !e.task) continue;
    for (const b of e.details.blockers ?? []) {
      if (b.owner) owners.set(e.task.pid, { owner: b.owner, kind: b.kind, line: b.line, source: e.source, address: b.address });
    }
  }

  // Clusters by wait site.
  const clusters = new Map<string, TaskState[]>();
  for (const t of hung) {
    const w = taskWait(t.stack ?? []);
    const key = `${w.kind}@${w.site?.function ?? 'unknown'}`;
    clusters.set(key, [...(clusters.get(key) ?? []), t]);
  }
  for (const [key, tasks] of clusters) {
    const w = taskWait(tasks[0].stack ?? []);
    const site = w.site?.function ?? 'an unknown place (no stack printed)';
    const lock = isLockWait(w.kind);
    const lockText = lock ? ` on ${LOCK_TEXT[w.kind]}` : w.kind !== 'event' ? ` on ${w.what}` : '';
    const reported = tasks.filter((t) => reportedHung(ctx, t)).length;
    const maxSecs = Math.max(...tasks.map((t) => t.blockedSeconds ?? 0));
    const withOwner = tasks.filter((t) => owners.has(t.pid));
    const ids = tasks.map((t) => taskNode(t.pid));
    const f = finding(
      ctx,
      'hung-task-cluster',
      'symptom',
      `${tasks.length} task(s) in D state${lockText} in ${site}: ${tasks.slice(0, 6).map(taskLabel).join(', ')}${tasks.length > 6 ? ', ...' : ''}${maxSecs ? (reported ? ` (blocked for more than ${maxSecs}s)` : clocksStopped ? '' : ` (not run for ${maxSecs}s before the capture)`) : ''}`,
      {
        confidence: 0.8,
        subjects: tasks.map((t) => ({ kind: 'task' as const, pid: t.pid, comm: t.comm })),
        evidence: tasks.flatMap((t) => t.facts.slice(0, 1)),
        steps: [
          reported === tasks.length
            ? 'These tasks sleep uninterruptibly and the hung-task detector saw no context switch for them within its timeout.'
            : `These tasks sleep uninterruptibly (state D)${tasks.some(seenLive) ? ' and stayed so across the sampling window' : ` past the hung-task timeout (${timeout}s)`}; ${reported} of ${tasks.length} were reported by the kernel's hung-task detector.`,
          `They wait at ${site}${w.sleep.length ? ` (via ${w.sleep.slice(0, 3).join(' <- ')})` : ''}.`,
          withOwner.length
            ? `The kernel named the owner of the lock for ${withOwner.length} of them.`
            : lock
              ? `The holder of the ${w.kind} is not named in the log: it may be a task the hung-task detector does not report (it skips TASK_KILLABLE and idle waits), so look at every D task in a dump.`
              : `What they wait for (${w.what}) is not in the log.`,
        ],
        confirm: ['crash> foreach UN bt', ...(lock ? ['crash> bt -f <pid>   # the lock address in the slow-path frame', 'crash> struct rw_semaphore <addr>   # or struct mutex: owner field'] : [])],
        extra: { waitSite: site, wait: w.kind, ...(lock ? { lock: w.kind } : {}), key },
        nodes: ids,
      },
    );
    if (clocksStopped && !reported) f.steps.push("How long they have been blocked is unknown: the scheduler clocks stopped with the CPUs (interrupts off), so the dump's time since their last run is meaningless.");
    for (const t of tasks) ctx.node(taskNode(t.pid), 'task', taskLabel(t), f.id);
    if (w.kind === 'rcu') {
      // Waiting for an RCU grace period: it cannot end while a CPU never passes a quiescent state.
      ctx.node(RCU_GP, 'rcu-gp', 'the RCU grace period', f.id);
      for (const t of tasks) ctx.edge(taskNode(t.pid), RCU_GP, 'waits-for', f.id, w.primitive ?? 'synchronize_rcu');
      if (!ctx.c.events.some((e) => e.kind === 'rcu-stall')) {
        // No stall report names the CPUs: the ones stuck in the kernel with interrupts off are the likely holders.
        const stuck = ctx.views.cpus.filter((v) => busyInKernel(v) && v.irqsEnabled === false);
        for (const v of stuck) ctx.edge(RCU_GP, cpuNode(v.cpu), 'blocked-by', f.id, 'no quiescent state', { observed: false, confidence: 0.8 });
        if (stuck.length) f.steps.push(`They wait for an RCU grace period, which cannot end while CPU(s) ${stuck.map((v) => v.cpu).join(', ')} spin with interrupts off and never pass a quiescent state.`);
      }
    } else if (w.kind !== 'userfaultfd' && (lock || tasks.length > 1)) {
      // (One task asleep on an event of its own is itself the end of its chain: no object stands for what it waits on.)
      // What they wait on, as far as the log knows it: one vague object per wait site (a dump names the real one).
      const objectId = `wait:${key}`;
      ctx.node(objectId, w.kind === 'io' ? 'device' : lock ? 'lock' : 'object', `${lock ? LOCK_TEXT[w.kind] : w.what} waited on in ${site}`, f.id, true);
      for (const t of tasks) if (!owners.has(t.pid)) ctx.edge(taskNode(t.pid), objectId, 'waits-for', f.id, w.primitive);
    }
    out.push(f);
  }

  // Blocker hints: the kernel names the likely owner of the lock a task waits on.
  for (const [pid, o] of owners) {
    const lockId = o.address ? `lock:${o.address.replace(/^0x/, '').replace(/^0+/, '')}` : `lock:${o.kind}-owned-by-${o.owner.pid}`;
    const what = o.kind === 'mutex' ? 'mutex' : o.kind.startsWith('rwsem') ? 'rw-semaphore' : o.kind;
    ctx.node(lockId, 'lock', `${what}${o.address ? ` ${o.address}` : ''}`);
    ctx.node(taskNode(o.owner.pid), 'task', taskLabel(o.owner));
    ctx.edge(taskNode(pid), lockId, 'waits-for', '', what);
    ctx.edge(lockId, taskNode(o.owner.pid), 'held-by', '', `"likely owned by" (hung-task report, line ${o.line})`, { observed: false, confidence: 0.9 });
  }
  return out;
}
