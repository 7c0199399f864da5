/**
 * Sleeping-lock owner chains from the dump: D tasks blocked in mutex / rw-semaphore slow paths ->
 * the lock (found through the waiter node on their own stack) -> its owner(s) -> what the owners
 * wait for, down to the end of the chain. A cycle of owners is a deadlock (mutex-deadlock, root);
 * a chain that ends in another root (a userfaultfd nobody serves) is a symptom of it; a chain that
 * ends in a holder doing something else makes that holder the lead.
 * Owner decoding (5.3+): mutex owner = task | 3 flag bits; rwsem owner = task | READER_OWNED(1) |
 * NONSPINNABLE(2), count = readers << 8 | HANDOFF(4) | WAITERS(2) | WRITER_LOCKED(1).
 */
import type { Finding } from '../model/finding.ts';
import { isUnknown, type SleepingLockState, type TaskRefAt, type TaskWait } from '../model/queries.ts';
import { finding, taskNode, type DetectorContext } from './context.ts';
import { dumpFact, hexOf } from './dump-facts.ts';

function label(t: { comm: string; pid: number }): string {
  return `${t.comm}:${t.pid}`;
}

function lockName(l: SleepingLockState): string {
  const what = l.kind === 'rwsem' ? 'rw-semaphore' : 'mutex';
  if (l.within) return `${l.within.replace(/^i_rwsem of /, 'the i_rwsem of ')} (${what} 0x${hexOf(l.address)})`;
  if (l.symbol) return `${what} ${l.symbol.name}${l.symbol.offset ? `+0x${l.symbol.offset.toString(16)}` : ''}${l.symbol.module ? ` [${l.symbol.module}]` : ''} (0x${hexOf(l.address)})`;
  return `${what} 0x${hexOf(l.address)}`;
}

/** Who holds a lock: the owner, or the likely readers of a reader-owned rwsem. */
function holdersOf(l: SleepingLockState): TaskRefAt[] {
  if (l.kind === 'rwsem' && l.readerOwned) return l.likelyReaders?.length ? l.likelyReaders : l.owner ? [l.owner] : [];
  return l.owner ? [l.owner] : [];
}

function ownerText(l: SleepingLockState): string {
  if (l.kind === 'rwsem') {
    if (l.writerLocked) return `write-locked by ${l.owner ? label(l.owner) : 'an unknown task'}`;
    if (l.readerOwned) {
      const likely = l.likelyReaders ?? [];
      return `reader-owned: count says ${l.readers ?? '?'} reader(s)${l.waitersFlag ? ' and waiters' : ''}; the owner field names ${l.owner ? label(l.owner) : 'no task'} as the last reader${likely.length ? `, and ${likely.map(label).join(', ')} (blocked, their stacks reference it, not on its wait list) hold it shared` : ''}`;
    }
    return 'not held (count 0)?';
  }
  return l.owner ? `owned by ${label(l.owner)}` : 'owner unknown';
}

export function lockChainsDetector(ctx: DetectorContext): Finding[] {
  const q = ctx.c.kernel;
  if (!q) return [];
  const b = q.blockedTasks();
  if (isUnknown(b)) return [];
  const out: Finding[] = [];
  const waitOf = new Map<number, TaskWait>(b.waits.map((w) => [w.task.pid, w]));
  const lockAt = new Map<bigint, SleepingLockState>(b.locks.map((l) => [l.address, l]));

  const lockId = (a: bigint) => `lock:${hexOf(a)}`;
  const reported = new Set<bigint>();
  for (const l of b.locks) {
    if (reported.has(l.address) || !l.waiters.length) continue;
    // Follow holders -> what they wait for, breadth first, with a cycle check on locks.
    const chainLocks: SleepingLockState[] = [l];
    const ends: Array<{ holder: TaskRefAt; wait?: TaskWait }> = [];
    let cycle: SleepingLockState[] | undefined;
    const seen = new Set<bigint>([l.address]);
    for (let i = 0; i < chainLocks.length && i < 64; i++) {
      for (const h of holdersOf(chainLocks[i])) {
        const w = waitOf.get(h.pid);
        if (w?.lock !== undefined && lockAt.has(w.lock)) {
          if (seen.has(w.lock)) {
            if (w.lock === l.address || chainLocks.some((x) => x.address === w.lock)) cycle = chainLocks.slice(chainLocks.findIndex((x) => x.address === w.lock));
            continue;
          }
          seen.add(w.lock);
          chainLocks.push(lockAt.get(w.lock)!);
        } else ends.push({ holder: h, ...(w ? { wait: w } : {}) });
      }
    }
    for (const x of chainLocks) reported.add(x.address);

    const evidence = chainLocks.map((x) =>
      dumpFact(q, `${lockName(x)}: ${ownerText(x)}; waiters ${x.waiters.map((w) => `${label(w)} (${w.wants})`).join(', ')}; ${Object.entries(x.observed).map(([k, v]) => `${k}=${v}`).join(' ')}`, x.address, x.kind === 'rwsem' ? 'struct rw_semaphore' : 'struct mutex'),
    );
    for (const x of chainLocks) {
      ctx.object({
        id: lockId(x.address),
        kind: x.kind,
        ...(x.symbol ? { symbol: x.symbol.name } : {}),
        address: hexOf(x.address),
        observed: { ...x.observed, waiters: x.waiters.length, ...(x.owner ? { ownerPid: x.owner.pid } : {}) },
        facts: [evidence[chainLocks.indexOf(x)]],
      });
    }
    const waiters = chainLocks.flatMap((x) => x.waiters);
    const steps: string[] = [];
    for (const x of chainLocks) {
      steps.push(`${x.waiters.map((w) => `${label(w)} (wants ${w.wants})`).join(', ')} sleep on ${lockName(x)}: their waiter nodes, on their own stacks, are on its wait list.`);
      steps.push(`${lockName(x)} is ${ownerText(x)}.`);
    }
    const endTexts: string[] = [];
    for (const e of ends) {
      if (e.wait?.uffd !== undefined) {
        endTexts.push(`${label(e.holder)} waits in handle_userfault on userfaultfd_ctx 0x${hexOf(e.wait.uffd)}`);
      } else {
        const t = ctx.c.tasks.find((x) => x.pid === e.holder.pid);
        endTexts.push(`${label(e.holder)} is ${t?.state === 'D' ? 'blocked elsewhere' : t?.state === 'R' ? 'running' : `in state ${e.holder.state ?? t?.state ?? '?'}`}${t?.stack?.length ? ` in ${t.stack.slice(0, 3).map((f) => f.function).join(' <- ')}` : ''}`);
      }
    }
    const uniqueEnds = [...new Set(endTexts)];
    if (uniqueEnds.length) steps.push(`The holders: ${uniqueEnds.join('; ')}.`);

    let f: Finding;
    if (cycle) {
      steps.push(`Following owners comes back to ${lockName(cycle[0])}: a cycle — every task in it waits for another in it, so none ever runs (ABBA deadlock).`);
      f = finding(ctx, 'mutex-deadlock', 'root', `Deadlock: ${cycle.map((x) => `${lockName(x)} (${ownerText(x).split(';')[0]})`).join(' -> ')} wait for each other`, {
        confidence: 0.9,
        subjects: [...cycle.map((x) => ({ kind: 'object' as const, id: lockId(x.address) })), ...waiters.map((w) => ({ kind: 'task' as const, pid: w.pid, comm: w.comm }))],
        evidence,
        steps,
        confirm: [...waiters.slice(0, 4).map((w) => `crash> bt ${w.pid}`), ...cycle.map((x) => `crash> struct ${x.kind === 'rwsem' ? 'rw_semaphore' : 'mutex'} ${hexOf(x.address)}`)],
        extra: { locks: cycle.map((x) => hexOf(x.address)), waiters: waiters.map((w) => w.pid) },
        nodes: cycle.map((x) => lockId(x.address)),
      });
    } else {
      const toRoot = ends.length > 0 && ends.every((e) => e.wait?.uffd !== undefined);
      const holders = [...new Map(ends.map((e) => [e.holder.pid, e.holder])).values()];
      const summary = `${waiters.map(label).join(', ')} wait for ${lockName(l)}${chainLocks.length > 1 ? ` (through ${chainLocks.length - 1} more lock(s))` : ''}, held by ${holders.length ? holders.map(label).join(', ') : 'an unknown task'}${uniqueEnds.length ? `, ${toRoot ? 'which wait in handle_userfault on a userfaultfd' : uniqueEnds.join('; ').replace(/^[^ ]+ /, 'which ')}` : ''}`;
      if (toRoot) steps.push('The chain goes on into the userfaultfd: until its faults are resolved, the lock holders never release the lock, and every task that needs it piles up behind them.');
      f = finding(ctx, 'lock-owner-chain', 'symptom', summary, {
        confidence: holders.length ? 0.9 : 0.6,
        subjects: [{ kind: 'object', id: lockId(l.address) }, ...waiters.map((w) => ({ kind: 'task' as const, pid: w.pid, comm: w.comm })), ...holders.map((h) => ({ kind: 'task' as const, pid: h.pid, comm: h.comm }))],
        evidence,
        steps,
        confirm: [
          ...waiters.slice(0, 3).map((w) => `crash> bt -f ${w.pid}   # the rwsem_waiter/mutex_waiter on the stack`),
          `crash> struct ${l.kind === 'rwsem' ? 'rw_semaphore' : 'mutex'} ${hexOf(l.address)}`,
          ...holders.slice(0, 3).map((h) => `crash> bt ${h.pid}`),
        ],
        nodes: [lockId(l.address)],
        extra: {
          lock: hexOf(l.address),
          kind: l.kind,
          ...(l.within ? { within: l.within } : {}),
          ...(l.symbol ? { symbol: l.symbol.name } : {}),
          waiters: waiters.map((w) => w.pid),
          holders: holders.map((h) => h.pid),
        },
      });
    }
    // Graph: waiter -> lock -> holder -> (uffd | next lock).
    for (const x of chainLocks) {
      const id = lockId(x.address);
      ctx.node(id, 'lock', lockName(x), f.id);
      for (const w of x.waiters) {
        ctx.node(taskNode(w.pid), 'task', label(w), f.id);
        ctx.edge(taskNode(w.pid), id, 'waits-for', f.id, `${x.kind} (${w.wants})`);
      }
      for (const h of holdersOf(x)) {
        ctx.node(taskNode(h.pid), 'task', label(h), f.id);
        ctx.edge(id, taskNode(h.pid), 'held-by', f.id, x.readerOwned ? 'reader (its stack references the lock)' : 'owner', x.readerOwned ? { observed: false, confidence: 0.8 } : undefined);
        const w = waitOf.get(h.pid);
        if (w?.uffd !== undefined) ctx.edge(taskNode(h.pid), `uffd:${hexOf(w.uffd)}`, 'waits-for', f.id, 'page fault');
      }
    }
    out.push(f);
  }
  return out;
}

/**
 * rt-mutex waits (every sleeping lock of a PREEMPT_RT kernel: mutex, spinlock_t, rwlock, rwsem): a blocked task's
 * pi_blocked_on names the lock, the lock's owner word names its owner. One finding per lock with waiters; the edges
 * task -> lock -> owner let the graph find the cycle (ABBA) or the end of the chain.
 */
export function rtMutexDetector(ctx: DetectorContext): Finding[] {
  const q = ctx.c.kernel;
  if (!q) return [];
  const rw = q.rtMutexWaits();
  if (isUnknown(rw) || !rw.length) return [];
  const byLock = new Map<bigint, typeof rw>();
  for (const w of rw) byLock.set(w.lock, [...(byLock.get(w.lock) ?? []), w]);
  const out: Finding[] = [];
  for (const [lock, ws] of byLock) {
    const id = `lock:${hexOf(lock)}`;
    const name = `rt-mutex ${ws[0].symbol ? `${ws[0].symbol.name}${ws[0].symbol.offset ? `+0x${ws[0].symbol.offset.toString(16)}` : ''}${ws[0].symbol.module ? ` [${ws[0].symbol.module}]` : ''}` : `0x${hexOf(lock)}`}`;
    const owner = ws[0].owner;
    const f = finding(ctx, 'lock-owner-chain', 'symptom', `${ws.map((w) => label(w.task)).join(', ')} wait for ${name}${owner ? `, owned by ${label(owner)}` : `; owner word 0x${hexOf(ws[0].ownerWord)} names no task`}`, {
      confidence: owner ? 0.9 : 0.6,
      subjects: [{ kind: 'object', id }, ...ws.map((w) => ({ kind: 'task' as const, pid: w.task.pid, comm: w.task.comm })), ...(owner ? [{ kind: 'task' as const, pid: owner.pid, comm: owner.comm }] : [])],
      evidence: [
        ...ws.slice(0, 4).map((w) => dumpFact(q, `${label(w.task)}: pi_blocked_on -> rt_mutex_waiter, lock 0x${hexOf(lock)}`, w.task.address, 'task_struct.pi_blocked_on')),
        dumpFact(q, `${name}: owner word 0x${hexOf(ws[0].ownerWord)}${owner ? ` = ${label(owner)}${(ws[0].ownerWord & 1n) === 1n ? ' (has waiters)' : ''}` : ''}`, lock, 'struct rt_mutex_base'),
      ],
      steps: [
        `${ws.map((w) => label(w.task)).join(', ')} sleep on ${name}: their task_struct.pi_blocked_on points at their rt_mutex_waiter, whose lock is 0x${hexOf(lock)}.`,
        owner ? `Its owner field (0x${hexOf(ws[0].ownerWord)}, bit 0 = has waiters) names ${label(owner)}.` : 'Its owner field names no task the dump lists.',
        'On a PREEMPT_RT kernel mutexes, spinlock_t, rwlocks and rw-semaphores are all rt-mutexes: the same owner chain applies.',
      ],
      confirm: [`crash> struct rt_mutex_base ${hexOf(lock)}`, ...ws.slice(0, 3).map((w) => `crash> struct task_struct.pi_blocked_on ${hexOf(w.task.address)}`), ...(owner ? [`crash> bt ${owner.pid}`] : [])],
      extra: { lock: hexOf(lock), ...(ws[0].symbol ? { symbol: ws[0].symbol.name } : {}), waiters: ws.map((w) => w.task.pid), ...(owner ? { holders: [owner.pid] } : {}) },
      nodes: [id],
    });
    ctx.node(id, 'lock', name, f.id);
    ctx.object({ id, kind: 'mutex', ...(ws[0].symbol ? { symbol: ws[0].symbol.name } : {}), address: hexOf(lock), observed: { owner: `0x${hexOf(ws[0].ownerWord)}`, waiters: ws.length, ...(owner ? { ownerPid: owner.pid } : {}) }, facts: [f.evidence[f.evidence.length - 1]] });
    for (const w of ws) {
      ctx.node(taskNode(w.task.pid), 'task', label(w.task), f.id);
      ctx.edge(taskNode(w.task.pid), id, 'waits-for', f.id, 'rt-mutex (pi_blocked_on)');
    }
    if (owner) {
      ctx.node(taskNode(owner.pid), 'task', label(owner), f.id);
      ctx.edge(id, taskNode(owner.pid), 'held-by', f.id, 'owner');
    }
    out.push(f);
  }
  return out;
}
