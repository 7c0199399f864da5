/**
 * Hung-task clusters: D-state tasks grouped by where they wait (first frame below the generic
 * sleeping/locking frames) and the lock type they wait in; owners named by the kernel's blocker
 * hints become the roots of lock-owner chains, and a cycle of owners is a deadlock.
 */
import type { TaskRef } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import type { Frame } from '../model/trace.ts';
import type { TaskState } from '../model/casefile.ts';
import { cpuNode, finding, taskNode, type DetectorContext } from './context.ts';

/** Sleeping until an RCU grace period ends. */
const RCU_WAIT = /^(synchronize_rcu|synchronize_srcu|__synchronize_srcu|__wait_rcu_gp|rcu_barrier|synchronize_rcu_expedited|synchronize_rcu_normal)/;
import { BLOCKING_LOCK_FUNCTIONS, isBenignWait, matchesAny, SLEEP_FUNCTIONS } from './known/frames.ts';
import { reliable } from './stacks.ts';

export interface WaitSite {
  /** The first frame below the sleeping/locking frames: where the task asked to wait. */
  site?: Frame;
  /** The lock type when the task sleeps in a lock slow path. */
  lock?: (typeof BLOCKING_LOCK_FUNCTIONS)[number]['lock'];
  /** The generic sleeping frames above it, innermost first. */
  sleep: string[];
}

export function waitSite(stack: readonly Frame[]): WaitSite {
  const frames = reliable(stack);
  const sleep: string[] = [];
  let lock: WaitSite['lock'];
  for (const f of frames) {
    const l = BLOCKING_LOCK_FUNCTIONS.find((b) => b.re.test(f.function));
    if (l && !lock) lock = l.lock;
    if (matchesAny(f.function, SLEEP_FUNCTIONS)) {
      sleep.push(f.function);
      continue;
    }
    return { site: f, lock, sleep };
  }
  return { lock, sleep };
}

/** How many of these tasks the kernel's hung-task detector reported in the log. */
function reportedByKernel(ctx: DetectorContext, tasks: TaskState[]): number {
  return tasks.filter((t) => reportedHung(ctx, t)).length;
}

/** Whether the kernel's hung-task detector reported this task in the log. */
function reportedHung(ctx: DetectorContext, t: TaskState): boolean {
  return t.events.some((id) => ctx.c.events.find((e) => e.id === id)?.kind === 'hung-task');
}

function taskLabel(t: { comm: string; pid: number }): string {
  return `${t.comm}:${t.pid}`;
}

export function hungTasksDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  // D waits that are normal however long they last (a vfork parent waits for its child to exec or exit),
  // unless the kernel itself reported the task as hung.
  const hung = ctx.c.tasks.filter(
    (t) => t.state === 'D' && (reportedHung(ctx, t) || !isBenignWait(t.stack ?? [])),
  );
  if (!hung.length) return out;

  // Blocker hints: task -> owner.
  const owners = new Map<number, { owner: TaskRef; kind: string; line: number; source: string; address?: string }>();
  for (const e of ctx.c.events) {
    if (e.kind !== 'hung-task' || !e.task) continue;
    for (const b of e.details.blockers ?? []) {
      if (b.owner) owners.set(e.task.pid, { owner: b.owner, kind: b.kind, line: b.line, source: e.source, address: b.address });
    }
  }

  // When every CPU spins with IRQs off the runqueue clocks stop too: a dump's "time since last run" means nothing then.
  const clocksStopped = ctx.findings.some((f) => f.role === 'root' && (f.kind === 'seqcount-stuck-odd' || f.kind === 'same-spin' || f.kind === 'hard-lockup'));

  // Clusters by wait site.
  const clusters = new Map<string, TaskState[]>();
  for (const t of hung) {
    const ws = waitSite(t.stack ?? []);
    const key = `${ws.lock ?? 'sleep'}@${ws.site?.function ?? 'unknown'}`;
    clusters.set(key, [...(clusters.get(key) ?? []), t]);
  }
  const clusterFindings: Finding[] = [];
  for (const [key, tasks] of clusters) {
    const ws = waitSite(tasks[0].stack ?? []);
    const site = ws.site?.function ?? 'an unknown place (no stack printed)';
    const lockText = ws.lock ? ` on ${ws.lock === 'rwsem-read' ? 'an rw-semaphore (read)' : ws.lock === 'rwsem-write' ? 'an rw-semaphore (write)' : `a ${ws.lock}`}` : '';
    const reported = reportedByKernel(ctx, tasks);
    const maxSecs = Math.max(...tasks.map((t) => t.blockedSeconds ?? 0));
    const withOwner = tasks.filter((t) => owners.has(t.pid));
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
            : `These tasks sleep uninterruptibly (state D)${tasks.some((t) => t.facts.some((f) => f.from.kind === 'live')) ? ' and stayed so across the sampling window' : ''}; ${reported} of ${tasks.length} were reported by the kernel's hung-task detector.`,
          `They wait at ${site}${ws.sleep.length ? ` (via ${ws.sleep.slice(0, 3).join(' <- ')})` : ''}.`,
          withOwner.length
            ? `The kernel named the owner of the lock for ${withOwner.length} of them.`
            : ws.lock
              ? `The holder of the ${ws.lock} is not named in the log: it may be a task the hung-task detector does not report (it skips TASK_KILLABLE and idle waits), so look at every D task in a dump.`
              : 'What they wait for is not in the log.',
        ],
        confirm: ['crash> foreach UN bt', ...(ws.lock ? ['crash> bt -f <pid>   # the lock address in the slow-path frame', 'crash> struct rw_semaphore <addr>   # or struct mutex: owner field'] : [])],
        extra: { waitSite: site, ...(ws.lock ? { lock: ws.lock } : {}), key },
      },
    );
    if (clocksStopped && !reported) f.steps.push('How long they have been blocked is unknown: the scheduler clocks stopped with the CPUs (interrupts off), so the dump\'s time since their last run is meaningless.');
    for (const t of tasks) ctx.graph.node(taskNode(t.pid), 'task', taskLabel(t), f.id);
    // Waiting for an RCU grace period: it cannot end while a CPU is stuck without passing a quiescent state.
    if (ws.sleep.some((n) => RCU_WAIT.test(n)) || RCU_WAIT.test(site)) {
      const stuck = ctx.findings.filter((x) => x.role === 'root' && x.subjects.some((sub) => sub.kind === 'cpu'));
      for (const r of stuck) {
        for (const sub of r.subjects) {
          if (sub.kind !== 'cpu') continue;
          for (const t of tasks) ctx.graph.edge(taskNode(t.pid), cpuNode(sub.cpu), 'waits-for', f.id, 'RCU grace period');
        }
        (f.causedBy ??= []).push(r.id);
      }
      if (stuck.length) f.steps.push(`They wait for an RCU grace period, which cannot end while CPU(s) ${[...new Set(stuck.flatMap((r) => r.subjects.flatMap((sub) => (sub.kind === 'cpu' ? [sub.cpu] : []))))].join(', ')} never pass a quiescent state: a consequence of ${stuck[0].kind}.`);
    }
    if (ws.lock) {
      const lockId = `lock:${key}`;
      ctx.graph.node(lockId, 'lock', `${ws.lock} waited on in ${site}`, f.id);
      for (const t of tasks) if (!owners.has(t.pid)) ctx.graph.edge(taskNode(t.pid), lockId, 'waits-for', f.id);
    }
    clusterFindings.push(f);
    out.push(f);
  }

  // Owner chains from blocker hints.
  const visitedRoots = new Set<number>();
  for (const [pid] of owners) {
    const chain: number[] = [pid];
    let cur = pid;
    let cycle = false;
    for (let i = 0; i < 64; i++) {
      const o = owners.get(cur);
      if (!o) break;
      if (chain.includes(o.owner.pid)) {
        cycle = true;
        chain.push(o.owner.pid);
        break;
      }
      chain.push(o.owner.pid);
      cur = o.owner.pid;
    }
    const rootPid = chain[chain.length - 1];
    if (visitedRoots.has(rootPid)) continue;
    visitedRoots.add(rootPid);
    const names = chain.map((p) => {
      const t = ctx.c.tasks.find((x) => x.pid === p);
      const o = [...owners.values()].find((x) => x.owner.pid === p)?.owner;
      return t ? taskLabel(t) : o ? taskLabel(o) : String(p);
    });
    const hints = chain
      .slice(0, -1)
      .map((p) => owners.get(p))
      .filter((x): x is NonNullable<typeof x> => !!x);
    const evidence = hints.map((h) => ({ text: `blocked on a ${h.kind} likely owned by ${taskLabel(h.owner)}`, from: { kind: 'log' as const, source: h.source, line: h.line } }));
    for (let i = 0; i + 1 < chain.length; i++) {
      ctx.graph.node(taskNode(chain[i]), 'task', names[i]);
      ctx.graph.node(taskNode(chain[i + 1]), 'task', names[i + 1]);
    }
    if (cycle) {
      const f = finding(ctx, 'mutex-deadlock', 'root', `Deadlock: ${names.join(' -> ')} wait for each other's locks`, {
        confidence: 0.85,
        subjects: chain.map((p, i) => ({ kind: 'task' as const, pid: p, comm: names[i].split(':')[0] })),
        evidence,
        steps: ['The hung-task report names, for each blocked task, the likely owner of the lock it waits on.', `Following owners gives a cycle: ${names.join(' -> ')}.`, 'A cycle of sleeping lock owners never resolves: ABBA deadlock.'],
        confirm: chain.map((p) => `crash> bt ${p}`),
      });
      for (let i = 0; i + 1 < chain.length; i++) ctx.graph.edge(taskNode(chain[i]), taskNode(chain[i + 1]), 'waits-for', f.id, hints[i]?.kind);
      out.push(f);
      continue;
    }
    const root = ctx.c.tasks.find((t) => t.pid === rootPid);
    const rootDoing = root?.stack?.length ? `it is itself in ${waitSite(root.stack).site?.function ?? root.stack[0].function}` : 'what it is doing is not in the log';
    const f = finding(ctx, 'lock-owner-chain', 'root', `${names[names.length - 1]} holds the lock that ${names.slice(0, -1).join(', ')} wait(s) for (${rootDoing})`, {
      confidence: root?.state === 'D' ? 0.6 : 0.7,
      subjects: chain.map((p, i) => ({ kind: 'task' as const, pid: p, comm: names[i].split(':')[0] })),
      evidence,
      steps: [
        'The hung-task report names the likely owner of each lock a blocked task waits on.',
        `Following owners: ${names.join(' -> ')}.`,
        `${names[names.length - 1]} is the end of the chain; ${rootDoing}.`,
      ],
      confirm: [`crash> bt ${rootPid}`, ...chain.slice(0, -1).map((p) => `crash> bt -f ${p}`)],
    });
    for (let i = 0; i + 1 < chain.length; i++) ctx.graph.edge(taskNode(chain[i]), taskNode(chain[i + 1]), 'waits-for', f.id, hints[i]?.kind);
    for (const c of clusterFindings) if (c.subjects.some((s) => s.kind === 'task' && chain.includes(s.pid))) (c.causedBy ??= []).push(f.id);
    out.push(f);
  }

  return out;
}
