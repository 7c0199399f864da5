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
  if (l.symbol) return `${what} ${l.symbol.name}${l.symbol.offset ? `+0x${l.symbol.offset.toString(16)}` : ''} (0x${hexOf(l.address)})`;
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
