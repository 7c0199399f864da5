/**
 * What a sleeping task waits on, read from its stack: the wait primitive (a lock slow path, wait_for_completion,
 * wait_on_bit, I/O, an RCU grace period, a work flush, a plain schedule() of a wait_event), and the site — the first
 * frame below the generic sleeping frames, where the kernel code asked to wait. The table is data: extend a row to
 * teach a new kernel's names.
 */
import type { Frame } from '../model/trace.ts';
import { matchesAny, SLEEP_FUNCTIONS } from './known/frames.ts';

export type WaitKind =
  | 'mutex'
  | 'rwsem-read'
  | 'rwsem-write'
  | 'semaphore'
  | 'rt-mutex'
  | 'percpu-rwsem'
  | 'completion'
  | 'bit'
  | 'folio'
  | 'io'
  | 'rcu'
  | 'work-flush'
  | 'userfaultfd'
  | 'sleep'
  | 'event';

/** Wait primitives, innermost first on a stack; the first row that matches a frame names the wait. */
export const WAIT_PRIMITIVES: Array<{ re: RegExp; kind: WaitKind; what: string }> = [
  { re: /^rwsem_down_read_slowpath$|^rwsem_down_read_failed$|^call_rwsem_down_read_failed$|^down_read/, kind: 'rwsem-read', what: 'an rw-semaphore (read)' },
  { re: /^rwsem_down_write_slowpath$|^rwsem_down_write_failed$|^call_rwsem_down_write_failed$|^down_write/, kind: 'rwsem-write', what: 'an rw-semaphore (write)' },
  { re: /^rt_mutex_slowlock|^__rt_mutex_slowlock|^rt_mutex_lock|^rtlock_slowlock|^schedule_rtlock$|^rt_spin_lock|^rwbase_(read|write)_lock|^rt_read_lock|^rt_write_lock|^__rwbase_read_lock/, kind: 'rt-mutex', what: 'an rt-mutex (a PREEMPT_RT sleeping lock)' },
  { re: /^__mutex_lock|^mutex_lock/, kind: 'mutex', what: 'a mutex' },
  { re: /^percpu_rwsem_wait$|^__percpu_down_read$|^percpu_down_write$/, kind: 'percpu-rwsem', what: 'a percpu rw-semaphore' },
  { re: /^__down(_common|_interruptible|_killable|_timeout)?$|^down(_interruptible|_killable|_timeout)?$/, kind: 'semaphore', what: 'a semaphore' },
  { re: /^handle_userfault$/, kind: 'userfaultfd', what: 'a userfaultfd fault' },
  { re: /^wait_for_completion|^__wait_for_common$|^wait_for_common|^do_wait_for_common$/, kind: 'completion', what: 'a completion' },
  { re: /^synchronize_(rcu|srcu|sched)|^__synchronize_srcu$|^__wait_rcu_gp$|^rcu_barrier|^synchronize_rcu_expedited$|^wait_rcu_gp$/, kind: 'rcu', what: 'an RCU grace period' },
  { re: /^(__)?flush_work|^flush_workqueue$|^__flush_workqueue$|^drain_workqueue$|^__cancel_work_timer$|^__cancel_work_sync$|^cancel_work_sync$|^flush_delayed_work$/, kind: 'work-flush', what: 'a work item to finish (flush_work)' },
  { re: /^folio_wait|^__folio_lock|^__lock_page|^wait_on_page|^folio_lock$|^__filemap_get_folio$/, kind: 'folio', what: 'a page lock or page writeback' },
  { re: /^(__)?wait_on_bit|^out_of_line_wait_on_bit|^bit_wait/, kind: 'bit', what: 'a bit (wait_on_bit)' },
  {
    re: /^io_schedule|^blk_mq_get_tag$|^submit_bio_wait$|^(__)?wait_on_buffer$|^blk_execute_rq$|^jbd2_log_wait_commit$|^jbd2_journal_commit_transaction$|^wbt_wait$|^rq_qos_wait$|^blk_mq_freeze_queue_wait$|^blkdev_issue_flush$|^__blkdev_direct_IO|^blk_wait_io$|^blk_io_schedule$|^nvme_submit_sync_cmd$|^scsi_execute/,
    kind: 'io',
    what: 'block I/O',
  },
  { re: /^msleep$|^schedule_timeout$|^do_nanosleep$|^usleep_range|^schedule_hrtimeout/, kind: 'sleep', what: 'a timed sleep' },
];

export interface TaskWait {
  kind: WaitKind;
  /** What it waits on, in words: `a completion`, `an rw-semaphore (read)`. */
  what: string;
  /** The primitive's frame (`wait_for_completion`), when one was recognised. */
  primitive?: string;
  /** The first frame below the sleeping/locking frames: where the kernel asked to wait. */
  site?: Frame;
  /** The generic sleeping frames above the site, innermost first. */
  sleep: string[];
}

/** Classifies a sleeping stack (innermost first). Unreliable (`?`) frames are ignored. */
export function taskWait(stack: readonly Frame[]): TaskWait {
  const frames = stack.filter((f) => f.reliable);
  const sleep: string[] = [];
  let prim: (typeof WAIT_PRIMITIVES)[number] | undefined;
  let primFrame: string | undefined;
  let site: Frame | undefined;
  for (const f of frames) {
    // The outermost primitive names the wait (synchronize_rcu waits through wait_for_completion and schedule_timeout).
    const p = WAIT_PRIMITIVES.find((w) => matchesAny(f.function, [w.re]));
    if (p) {
      prim = p;
      primFrame = f.function;
    }
    if (matchesAny(f.function, SLEEP_FUNCTIONS) || (p && !site)) {
      sleep.push(f.function);
      continue;
    }
    site = f;
    break;
  }
  if (prim) return { kind: prim.kind, what: prim.what, primitive: primFrame, ...(site ? { site } : {}), sleep };
  return { kind: 'event', what: `an event (schedule() called from ${site?.function ?? 'an unknown function'}: a wait_event or wait queue)`, ...(site ? { site } : {}), sleep };
}

/** The lock kinds among wait kinds. */
export function isLockWait(k: WaitKind): boolean {
  return k === 'mutex' || k === 'rwsem-read' || k === 'rwsem-write' || k === 'semaphore' || k === 'rt-mutex' || k === 'percpu-rwsem';
}
