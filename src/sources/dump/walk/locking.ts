/**
 * Locking walkers: what a blocked task waits on and who owns it, read from the kernel's own records.
 * - rt-mutexes (and on PREEMPT_RT every mutex, spinlock_t, rwlock and rwsem built on them): a blocked task's
 *   `pi_blocked_on` points at its `rt_mutex_waiter`, whose `lock` is the `rt_mutex_base`; the owner is
 *   `owner & ~RT_MUTEX_HAS_WAITERS` (bit 0).
 * Every read is guarded: a damaged field ends the walk for that task with a note, never a throw.
 */
import type { Maybe, SleepingLockState, TaskRefAt, TaskWait, UffdContextState } from '../../../model/queries.ts';
import { isUnknown } from '../../../model/queries.ts';
import { attempt } from '../kernel/errors.ts';
import { offsetOf, readU64, unknownOf, type WalkContext } from './context.ts';
import type { Kernel } from '../kernel/value.ts';
import type { TaskInfo } from './sched.ts';

export interface RtMutexWait {
  task: TaskInfo;
  /** The task's `struct rt_mutex_waiter` (on its stack). */
  waiter: bigint;
  /** The `struct rt_mutex_base` it waits for. */
  lock: bigint;
  /** Raw owner word, and the owning task when it is one the task list knows. */
  ownerWord: bigint;
  owner?: TaskInfo;
}

/** Tasks blocked on an rt-mutex (pi_blocked_on set), with the lock and its owner. */
export function rtMutexWaits(k: Kernel, tasks: readonly TaskInfo[]): { waits: RtMutexWait[]; notes: string[] } {
  const notes: string[] = [];
  const waits: RtMutexWait[] = [];
  const has = attempt(() => k.type('struct task_struct').hasMember('pi_blocked_on'));
  if (!has.ok || !has.value) return { waits, notes: ['task_struct has no pi_blocked_on (CONFIG_RT_MUTEXES off): rt-mutex waits not read'] };
  const byAddr = new Map(tasks.map((t) => [t.address, t]));
  for (const t of tasks) {
    if (t.state.letter !== 'D' && t.state.letter !== 'S' && t.state.letter !== 'R') continue;
    // Read with the task itself (one pass over 20,000 task_structs, not two).
    const w = t.piBlockedOn !== undefined ? { ok: true as const, value: t.piBlockedOn } : attempt(() => k.value(t.address, 'struct task_struct').member('pi_blocked_on').pointer());
    if (!w.ok || w.value === 0n) continue;
    const lock = attempt(() => k.value(w.value, 'struct rt_mutex_waiter').member('lock').pointer());
    if (!lock.ok || lock.value === 0n) {
      notes.push(`${t.comm}:${t.pid}: pi_blocked_on 0x${w.value.toString(16)} has no readable lock${lock.ok ? '' : ` (${lock.unknown})`}`);
      continue;
    }
    const owner = attempt(() => k.value(lock.value, 'struct rt_mutex_base').member('owner').pointer());
    if (!owner.ok) {
      notes.push(`${t.comm}:${t.pid}: rt_mutex_base 0x${lock.value.toString(16)} owner unreadable (${owner.unknown})`);
      continue;
    }
    const o = byAddr.get(owner.value & ~1n);
    waits.push({ task: t, waiter: w.value, lock: lock.value, ownerWord: owner.value, ...(o ? { owner: o } : {}) });
  }
  return { waits, notes };
}


/**
 * Sleeping locks (mutex, rw-semaphore) the D tasks wait on: the waiter node each queued on its own stack (a list entry
 * followed by its task pointer), validated by the list links and followed to the lock's wait_list head; the lock's
 * owner and waiters decoded. Tasks faulting on a userfaultfd are that instead. Readers of a reader-owned rwsem are not
 * recorded by the kernel: D tasks whose stacks reference it (or its inode) and that do not wait on it are the likely
 * holders.
 */
export function sleepingLockWaits(wc: WalkContext, ts: readonly TaskInfo[], uffd: Maybe<UffdContextState[]>): Maybe<{ waits: TaskWait[]; locks: SleepingLockState[] }> {
  const off = (type: string, path: string) => offsetOf(wc.k, type, path);
  const u64 = (a: bigint, what: string) => readU64(wc.k, a, what);
  const r = attempt(() => {
    const byAddr = new Map<bigint, TaskInfo>(ts.map((t) => [t.address, t]));
    const waits: TaskWait[] = [];
    const locks = new Map<bigint, SleepingLockState>();
    const taskOff = off('struct rwsem_waiter', 'task');
    
    const uffdWaiter = new Map<number, bigint>();
    if (!isUnknown(uffd)) for (const c of uffd) for (const w of [...c.faultPending, ...c.faultRead]) uffdWaiter.set(w.pid, c.address);
    const blocked = ts.filter((t) => t.state.letter === 'D');
    const stacks = new Map<bigint, { base: bigint; words: BigUint64Array }>();
    for (const t of blocked) {
      const u = uffdWaiter.get(t.pid);
      if (u !== undefined) {
        waits.push({ task: wc.ref(t), uffd: u, how: 'its userfaultfd_wait_queue is on the ctx fault queue' });
        continue;
      }
      const st = wc.stackWords(t);
      if (!st) continue;
      stacks.set(t.address, st);
      for (let i = 0; i < st.words.length; i++) {
        if (st.words[i] !== t.address) continue;
        const node = st.base + BigInt(i * 8) - taskOff;
        const lock = lockOfWaiter(wc, node, byAddr, t);
        if (!lock) continue;
        let l = locks.get(lock.address);
        if (!l) {
          l = lock;
          locks.set(lock.address, l);
        }
        waits.push({ task: wc.ref(t), lock: lock.address, how: `its ${lock.kind === 'rwsem' ? 'rwsem_waiter' : 'mutex_waiter'} on its stack is on the lock's wait list` });
        break;
      }
    }
    // Readers of a reader-owned rwsem are not recorded; D tasks whose stacks reference it (or its inode) and that do not wait on it are the likely holders.
    for (const l of locks.values()) {
      if (!l.readerOwned) continue;
      const waiting = new Set(l.waiters.map((w) => w.pid));
      const refs = [l.address, ...(l.withinAddress !== undefined ? [l.withinAddress] : [])];
      const likely: TaskRefAt[] = [];
      for (const t of blocked) {
        if (waiting.has(t.pid)) continue;
        const st = stacks.get(t.address) ?? wc.stackWords(t);
        if (!st) continue;
        if (st.words.some((w) => refs.includes(w))) likely.push(wc.ref(t));
      }
      if (l.owner && !likely.some((x) => x.pid === l.owner!.pid)) likely.unshift(l.owner);
      l.likelyReaders = likely;
    }
    return { waits, locks: [...locks.values()] };
  });
  return r.ok ? r.value : unknownOf(r);
}

/** The sleeping lock whose wait list holds the waiter node at `node` (validated list links), decoded. */
function lockOfWaiter(wc: WalkContext, node: bigint, byAddr: Map<bigint, TaskInfo>, t: TaskInfo): SleepingLockState | undefined {
  const off = (type: string, path: string) => offsetOf(wc.k, type, path);
  const u64 = (a: bigint, what: string) => readU64(wc.k, a, what);
  const next = attempt(() => u64(node, 'waiter.list.next'));
  const prev = attempt(() => u64(node + 8n, 'waiter.list.prev'));
  if (!next.ok || !prev.ok) return undefined;
  const back = attempt(() => u64(next.value + 8n, 'next->prev'));
  const fwd = attempt(() => u64(prev.value, 'prev->next'));
  if (!back.ok || !fwd.ok || back.value !== node || fwd.value !== node) return undefined;
  const taskOff = off('struct rwsem_waiter', 'task');
  // Walk the ring to the node that is not a waiter: the lock's wait_list head.
  const members: bigint[] = [];
  let head: bigint | undefined;
  let p = node;
  for (let n = 0; n < 4096; n++) {
    const tk = attempt(() => u64(p + taskOff, 'waiter.task'));
    if (tk.ok && byAddr.has(tk.value)) members.push(p);
    else if (head === undefined) head = p;
    const nx = attempt(() => u64(p, 'list.next'));
    if (!nx.ok) return undefined;
    p = nx.value;
    if (p === node) break;
  }
  if (head === undefined) return undefined;
  // Only a task in a sleeping-lock slow path waits on a lock (other structures put a list_head before a task pointer too).
  const frames = attempt(() => wc.framesOf(t));
  const names = frames.ok ? frames.value : [];
  const inRwsem = names.some((f) => /^(rwsem_down_(read|write)_slowpath|__down_(read|write)(_common|_killable)?|down_(read|write)(_killable|_interruptible|_nested)?)$/.test(f));
  const inMutex = names.some((f) => /^(__mutex_lock(_slowpath|_common|_killable_slowpath|_interruptible_slowpath)?|mutex_lock(_killable|_interruptible|_io|_nested)?)(\.constprop\.\d+|\.isra\.\d+)?$/.test(f));
  if (!inRwsem && !inMutex) return undefined;
  const kind: 'mutex' | 'rwsem' = inRwsem ? 'rwsem' : 'mutex';
  const type = kind === 'rwsem' ? 'struct rw_semaphore' : 'struct mutex';
  const address = head - off(type, 'wait_list');
  const v = wc.k.value(address, type);
  const owner = BigInt.asUintN(64, v.member('owner').int());
  const observed: Record<string, string | number | boolean> = { owner: `0x${owner.toString(16)}` };
  const out: SleepingLockState = { kind, address, waiters: [], observed };
  const sym = wc.symbolAt(address);
  // A lock inside a named variable (a core or module global, not the heap): name it by its symbol.
  if (sym && sym.offset < 4096 && sym.offset < sym.size && /^[a-z_]/i.test(sym.name) && sym.size > 0) out.symbol = sym;
  const ownerTask = byAddr.get(owner & ~7n);
  if (kind === 'rwsem') {
    const count = BigInt.asUintN(64, v.member('count').int());
    observed.count = Number(BigInt.asIntN(64, count));
    out.writerLocked = (count & 1n) === 1n;
    out.waitersFlag = (count & 2n) === 2n;
    out.readers = Number((count & ((1n << 62n) - 1n)) >> 8n);
    out.readerOwned = (owner & 1n) === 1n;
    if (!out.waitersFlag) return undefined; // a queued waiter always sets RWSEM_FLAG_WAITERS
    observed.readers = out.readers;
    observed.writerLocked = out.writerLocked;
    observed.waitersFlag = out.waitersFlag;
    observed.readerOwned = out.readerOwned;
    observed.nonSpinnable = (owner & 2n) === 2n;
    if (ownerTask) out.owner = wc.ref(ownerTask);
  } else {
    observed.flags = Number(owner & 7n);
    if ((owner & 1n) === 0n) return undefined; // a queued waiter always sets MUTEX_FLAG_WAITERS
    if (ownerTask) out.owner = wc.ref(ownerTask);
  }
  // Waiters in queue order (from the head).
  const typeOff = attempt(() => off('struct rwsem_waiter', 'type'));
  let w = attempt(() => u64(head, 'wait_list.next'));
  for (let n = 0; w.ok && w.value !== head && n < 4096; n++) {
    const tk = attempt(() => u64(w.ok ? w.value + taskOff : 0n, 'waiter.task'));
    const wt = tk.ok ? byAddr.get(tk.value) : undefined;
    if (wt) {
      let wants: 'read' | 'write' | 'lock' = 'lock';
      if (kind === 'rwsem' && typeOff.ok) {
        const ty = attempt(() => wc.k.read(w.ok ? w.value + typeOff.value : 0n, 4, 'rwsem_waiter.type').readUInt32LE(0));
        if (ty.ok) wants = ty.value === 0 ? 'write' : 'read';
      }
      out.waiters.push({ ...wc.ref(wt), wants });
    }
    w = attempt(() => u64(w.ok ? w.value : 0n, 'wait_list next'));
  }
  // What embeds it: an inode's i_rwsem (validated by i_mapping pointing at its own i_data).
  if (kind === 'rwsem') {
    const inode = attempt(() => {
      const ino = address - off('struct inode', 'i_rwsem');
      const iv = wc.k.value(ino, 'struct inode');
      if (iv.member('i_mapping').pointer() !== ino + off('struct inode', 'i_data')) return undefined;
      const num = iv.member('i_ino').u64();
      let name: string | undefined;
      const first = attempt(() => iv.member('i_dentry').member('first').pointer());
      if (first.ok && first.value !== 0n) {
        const d = attempt(() => wc.k.value(first.value - off('struct dentry', 'd_u.d_alias'), 'struct dentry').member('d_name').member('name').string(256));
        if (d.ok) name = d.value;
      }
      return { ino, num, name };
    });
    if (inode.ok && inode.value) {
      out.within = `i_rwsem of inode 0x${inode.value.ino.toString(16)} (ino ${inode.value.num}${inode.value.name ? `, ${inode.value.name}` : ''})`;
      out.withinAddress = inode.value.ino;
      observed.inode = `0x${inode.value.ino.toString(16)}`;
      if (inode.value.name) observed.file = inode.value.name;
    }
  }
  return out;
}
