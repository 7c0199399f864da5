/**
 * Locking walkers: what a blocked task waits on and who owns it, read from the kernel's own records.
 * - rt-mutexes (and on PREEMPT_RT every mutex, spinlock_t, rwlock and rwsem built on them): a blocked task's
 *   `pi_blocked_on` points at its `rt_mutex_waiter`, whose `lock` is the `rt_mutex_base`; the owner is
 *   `owner & ~RT_MUTEX_HAS_WAITERS` (bit 0).
 * Every read is guarded: a damaged field ends the walk for that task with a note, never a throw.
 */
import { attempt } from '../kernel/errors.ts';
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
    const w = attempt(() => k.value(t.address, 'struct task_struct').member('pi_blocked_on').pointer());
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
