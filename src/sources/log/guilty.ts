/**
 * Report types: the title of every kernel report in the kernel-community convention (`KASAN: use-after-free Read in
 * F`, `WARNING in F`, `INFO: task hung in F`, `possible deadlock in F`) and its guilty frame F — the function a kernel
 * engineer blames, not the helper that noticed.
 *
 * Data, one row a report type, in match order: which events it covers, its title, which stack holds the guilty frame
 * and which generic frame families are skipped (skip.ts) on top of the ones every report skips, or stay blamable for
 * this type. Each row carries a sample report header; a test checks every row against it.
 */
import type { LogEvent } from '../../model/event.ts';
import type { Frame } from '../../model/trace.ts';
import { baseName, SKIP_FRAMES } from './skip.ts';

/** Where a report's guilty frame is read, tried in order. */
export type FrameSource =
  /** the function the header names (`BUG: KASAN: ... in F`, `WARNING: ... at file:line F`), unless generic */
  | 'header'
  /** the frames of the report's trace below the header's function (or all of them), first blamable one */
  | 'trace'
  /** the function of the interrupted PC (RIP/pc/NIP register dump), unless generic */
  | 'pc'
  /** `caller is F` / `last function: F` */
  | 'named'
  /** lockdep's held-lock lines: where the first listed lock was taken */
  | 'lock-site'
  /** Bad page state: the function that allocated the page (page_owner) */
  | 'alloc-site'
  /** workqueue lockup: the work function in flight on the stuck pool */
  | 'in-flight'
  /** KCSAN: the first of the two racing functions the header names */
  | 'racing'
  /** for a stall or lockup: the stuck CPU's NMI backtrace (already folded into the event's culprit by the parser) */
  | 'related';

export interface ReportType {
  id: string;
  /** The events of this type. */
  match: (e: LogEvent) => boolean;
  /** Title without the frame; the full title is `${prefix} in ${F}` (or the prefix alone when no frame is blamable). */
  title: (e: LogEvent) => string;
  /** Where F is read, in order. */
  from: FrameSource[];
  /** Frame families (skip.ts) that stay blamable for this type. */
  keep?: string[];
  /**
   * For the function a header names: only these families make it generic (a KASAN report names the access site,
   * which may be report or dump machinery itself, e.g. `__show_regs` reading a stack out of bounds).
   */
  headerFamilies?: string[];
  /** Functions skipped for this type only (beyond the generic families). */
  skip?: RegExp;
  /** A header line of this type as the kernel prints it (checked by a test). */
  sample: string;
}

const loc = (e: LogEvent) => e.details.location ?? '';
const headerFn = (e: LogEvent) => /\bat \S+ (\S+?)\+0x/.exec(e.title)?.[1] ?? '';
const lockdep = (t: RegExp) => (e: LogEvent) => e.kind === 'lockdep' && t.test(e.details.lockdepTitle ?? e.title);

/** Families of helpers that only performed an access for their caller: a sanitizer's access site is their caller. */
const ACCESS_HELPERS = SKIP_FRAMES.map((r) => r.family).filter((f, i, all) => all.indexOf(f) === i && f !== 'dump' && f !== 'printk' && f !== 'idr');

/** Functions whose WARN_ON checks the arguments their caller passed: the warning is the caller's, titled `WARNING in caller/api`. */
const API_CHECKS = /^(usb_submit_urb|__local_bh_enable_ip|local_bh_enable|_local_bh_enable|drop_nlink|inc_nlink|clear_nlink|set_nlink)$/;

const LOCK_FAMILIES = ['spinlock', 'mutex', 'rwsem', 'lockdep'];
/** Families that only report, dispatch or idle: never blamed, even when nothing else is shown. */
const MACHINERY = ['dump', 'printk', 'panic', 'sanitizer', 'watchdog', 'nmi', 'exception', 'entry', 'irq', 'idle', 'lockdep'];

/** A subsystem's get/put/free wrapper (`sock_put`, `dev_put`, `put_task_struct_many`): the caller holds the bad count. */
const PUT_WRAPPERS = /^(__)?(sock|sk|dev|netdev|in_dev|in6_dev|skb|kobject|nf_conntrack|dst|neigh|fib_info|cred|mnt|path|css|io|task|pid|ns|net|inode|file|fd|page|folio|bio|blk|request|tty|usb|sctp|l2cap|hci|mptcp|rxrpc|tcp|xfrm|nexthop|fib6_info|rt6|mr|ipv6|inet|vsock|nfc|nf|qdisc|tcf|bpf|dma_fence|drm|kvm)_(put|get|hold|unhold|release|ref|unref)$|^(put|get)_(device|pid|cred|task_struct|net|page|nsproxy|user_ns|mnt_ns|ipc_ns|uts_ns|cgroup_ns|time_ns|fs_context)\w*$|_ref_(put|get|inc|dec|sub|add|zero|or_null)\w*$|^req_ref_\w+$|^(__)?put_\w+_ref$|^kobject_(put|release|cleanup)$|^kref_put\w*$|^of_node_(put|get|release)$/;
/** A subsystem's wrapper around a lock primitive (`f2fs_down_write`, `lock_sock_fast`): lockdep blames its caller. */
const LOCK_WRAPPERS = /^\w+_(down|up)_(read|write)(_\w+)?$|^(__)?lock_sock(_nested|_fast)?$|^(__)?release_sock$|^unlock_sock_fast$|^\w+_(mutex|spin|rwsem|rw|read|write)_(lock|unlock|trylock)(_\w+)?$|^(mmap|i_mmap|anon_vma|inode|filemap_invalidate|xa|rtnl)_(read_|write_)?(lock|unlock)(_\w+)?$|^mnt_want_write(_file)?$|^__mnt_want_write(_file)?$|^(__)?sb_start_(write|intwrite|pagefault)(_trylock)?$|^file_start_write$|^clk_(prepare|enable)_lock$/;

/** Lock primitives, lockdep and allocators stay blamable in lockdep reports: the function taking the lock is the answer. */
const LOCKDEP_KEEP = ['alloc', 'page-free', 'wait', 'list', 'refcount', 'debugobjects', 'irq', 'entry'];
/** A task hung in one of these names the mechanism it waits for, which is what a reader wants to know. */
const HUNG_KEEP_RE = /^(synchronize_rcu(_expedited)?|synchronize_srcu|__synchronize_srcu|rcu_barrier\w*|flush_work|__flush_work|flush_workqueue|__flush_workqueue|drain_workqueue|flush_delayed_work|cancel_work_sync|__cancel_work_timer|cancel_delayed_work_sync|kthread_flush_work|blk_mq_freeze_queue_wait|blk_mq_freeze_queue|del_gendisk|wait_for_device_probe|rtnl_lock|rtnl_lock_killable|rtnl_lock_interruptible|lock_sock_nested|__lock_sock|lock_sock|sk_wait_data|inode_lock|inode_lock_shared|filemap_fdatawait\w*|__filemap_fdatawait_range|wb_wait_for_completion|jbd2_log_wait_commit|jbd2_journal_commit_transaction|xlog_wait)$/

/** A lockdep report type whose title is fixed: lock primitives and their subsystem wrappers skipped, allocators kept. */
function lockdepRow(id: string, title: RegExp, name: string, from: FrameSource[], sample: string): ReportType {
  return { id, match: lockdep(title), title: () => name, from, keep: LOCKDEP_KEEP, skip: LOCK_WRAPPERS, sample };
}

/** A report type that is one event kind with a fixed title. */
function byKind(kind: LogEvent['kind'], title: string, from: FrameSource[], sample: string): ReportType {
  return { id: kind, match: (e) => e.kind === kind, title: () => title, from, sample };
}

export const REPORT_TYPES: ReportType[] = [
  // --- memory-safety sanitizers --------------------------------------------------------------
  {
    id: 'kasan-free',
    match: (e) => e.kind === 'kasan' && /free/.test(e.details.bugType ?? '') && !/use-after-free/.test(e.details.bugType ?? ''),
    // `double-free or invalid-free` and `double-free` are one title: the free was invalid
    title: () => 'KASAN: invalid-free',
    // newer kernels name the freeing caller in the header, older ones kfree
    from: ['header', 'trace'],
    sample: 'BUG: KASAN: double-free in kfree+0x1d/0x40',
  },
  {
    id: 'kasan',
    match: (e) => e.kind === 'kasan',
    title: (e) => `KASAN: ${e.details.bugType ?? 'invalid-access'}${e.details.access ? ` ${e.details.access}` : ''}`,
    from: ['header', 'trace'],
    headerFamilies: ACCESS_HELPERS,
    sample: 'BUG: KASAN: slab-use-after-free in ext4_search_dir+0x2b5/0x300',
  },
  {
    id: 'kfence',
    match: (e) => e.kind === 'kfence',
    title: (e) => `KFENCE: ${(e.details.bugType ?? 'invalid access').replace(/ (read|write)$/, '')}`,
    from: ['header', 'trace'],
    headerFamilies: ACCESS_HELPERS,
    sample: 'BUG: KFENCE: use-after-free read in test_use_after_free_read+0xb3/0x143',
  },
  {
    id: 'kmsan',
    match: (e) => e.kind === 'kmsan',
    title: (e) => `KMSAN: ${e.details.bugType ?? 'uninit-value'}`,
    from: ['header', 'trace'],
    headerFamilies: ACCESS_HELPERS,
    sample: 'BUG: KMSAN: uninit-value in __crc32c_le_base+0x1b2/0x200',
  },
  {
    id: 'kcsan',
    match: (e) => e.kind === 'kcsan',
    title: (e) => `KCSAN: ${e.details.bugType ?? 'data-race'}`,
    from: ['racing', 'trace'],
    sample: 'BUG: KCSAN: data-race in __fsnotify_parent / __fsnotify_recalc_mask',
  },
  {
    id: 'ubsan',
    match: (e) => e.kind === 'ubsan',
    title: (e) => `UBSAN: ${e.details.bugType ?? 'undefined-behaviour'}`,
    from: ['trace'],
    sample: 'UBSAN: shift-out-of-bounds in lib/test_ubsan.c:17:5',
  },
  byKind('memory-leak', 'memory leak', ['trace'], 'unreferenced object 0xffff888109e3fc00 (size 1024):'),
  // --- lockdep -------------------------------------------------------------------------------
  {
    id: 'lockdep-returning',
    match: lockdep(/lock held when returning to user space|still has locks held|lock held at task exit/),
    title: (e) => `WARNING: ${/lock held when returning/.test(e.details.lockdepTitle ?? '') ? 'lock held when returning to user space' : 'lock held at task exit time'}`,
    from: ['lock-site', 'trace'],
    keep: LOCKDEP_KEEP,
    skip: LOCK_WRAPPERS,
    sample: 'WARNING: lock held when returning to user space!',
  },
  lockdepRow('lockdep-deadlock', /possible (recursive|circular)|possible deadlock|irq lock inversion|-> (HARD|SOFT)IRQ-unsafe|circular locking deadlock/, 'possible deadlock', ['trace'], 'WARNING: possible circular locking dependency detected'),
  lockdepRow('lockdep-inconsistent', /inconsistent/, 'inconsistent lock state', ['trace', 'named'], 'WARNING: inconsistent lock state'),
  lockdepRow('lockdep-unlock', /bad unlock balance/, 'WARNING: bad unlock balance', ['trace'], 'WARNING: bad unlock balance detected!'),
  {
    id: 'lockdep-freed',
    match: lockdep(/held lock freed|lock held by \S+ freed/),
    title: () => 'WARNING: held lock freed',
    // the lock still held where the memory is freed was taken at the site lockdep lists
    from: ['lock-site', 'trace'],
    keep: ['wakeup', 'wait', 'list', 'refcount'],
    sample: 'WARNING: held lock freed!',
  },
  {
    id: 'lockdep-rcu',
    match: lockdep(/suspicious (RCU|rcu_dereference)/),
    title: () => 'WARNING: suspicious RCU usage',
    from: ['trace'],
    keep: LOCKDEP_KEEP,
    sample: 'WARNING: suspicious RCU usage',
  },
  {
    id: 'lockdep-nonstatic-key',
    match: lockdep(/non-static key/),
    title: () => 'INFO: trying to register non-static key',
    from: ['trace'],
    skip: LOCK_WRAPPERS,
    sample: 'INFO: trying to register non-static key.',
  },
  {
    id: 'lockdep-other',
    match: (e) => e.kind === 'lockdep',
    title: (e) => `WARNING: ${(e.details.lockdepTitle ?? 'locking bug').replace(/[.!]+$/, '').replace(/ detected$/, '')}`,
    from: ['trace'],
    keep: LOCKDEP_KEEP,
    skip: LOCK_WRAPPERS,
    sample: 'WARNING: Nested lock was not taken',
  },
  // --- WARN_ON() of a debug facility: named after the facility, blamed on its caller --------------------------
  {
    id: 'warning-refcount',
    match: (e) => e.kind === 'warning' && (/lib\/refcount\.c/.test(loc(e)) || /^refcount_/.test(headerFn(e))),
    title: () => 'WARNING: refcount bug',
    from: ['trace'],
    // a subsystem's get/put wrapper around the refcount only passed the bad count on
    skip: PUT_WRAPPERS,
    sample: 'WARNING: CPU: 0 PID: 3605 at lib/refcount.c:28 refcount_warn_saturate+0x144/0x1b0',
  },
  {
    id: 'warning-odebug',
    match: (e) => e.kind === 'warning' && (/lib\/debugobjects\.c/.test(loc(e)) || /^debug_print_object/.test(headerFn(e))),
    title: () => 'WARNING: ODEBUG bug',
    from: ['trace'],
    skip: PUT_WRAPPERS,
    sample: 'WARNING: CPU: 1 PID: 9 at lib/debugobjects.c:509 debug_print_object+0x16e/0x250',
  },
  {
    id: 'warning-list',
    match: (e) => (e.kind === 'warning' || e.kind === 'bug') && /lib\/list_debug\.c/.test(loc(e)),
    title: () => 'BUG: corrupted list',
    from: ['trace'],
    sample: 'kernel BUG at lib/list_debug.c:62!',
  },
  {
    id: 'usercopy',
    match: (e) => (e.kind === 'warning' || e.kind === 'bug') && /mm\/usercopy\.c/.test(loc(e)),
    title: () => 'BUG: bad usercopy',
    from: ['trace'],
    sample: 'kernel BUG at mm/usercopy.c:102!',
  },
  {
    id: 'warning-kmalloc',
    match: (e) => e.kind === 'warning' && /mm\/(page_alloc|util|vmalloc)\.c/.test(loc(e)),
    title: () => 'WARNING: kmalloc bug',
    from: ['trace'],
    sample: 'WARNING: CPU: 1 PID: 5041 at mm/util.c:632 kvmalloc_node+0x18c/0x1a0',
  },
  {
    id: 'warning-locking',
    match: (e) => e.kind === 'warning' && /kernel\/locking\/(lockdep|mutex|rwsem|spinlock|rtmutex)/.test(loc(e)),
    title: () => 'WARNING: locking bug',
    from: ['trace'],
    keep: ['alloc', 'wakeup', 'wait'],
    skip: LOCK_WRAPPERS,
    sample: 'WARNING: CPU: 0 PID: 2 at kernel/locking/lockdep.c:231 __lock_acquire+0x1e0b/0x5c70',
  },
  {
    id: 'warning-api',
    match: (e) => e.kind === 'warning' && API_CHECKS.test(headerFn(e)),
    title: () => 'WARNING',
    from: ['trace'],
    skip: /^usb_(start_wait_urb|internal_control_msg|control_msg(_send|_recv)?|bulk_msg|interrupt_msg)$/,
    sample: 'WARNING: CPU: 0 PID: 4077 at drivers/usb/core/urb.c:504 usb_submit_urb+0xed2/0x18a0',
  },
  byKind('warning', 'WARNING', ['header', 'trace'], 'WARNING: CPU: 1 PID: 2 at fs/ext4/inode.c:3650 ext4_set_page_dirty+0x35/0x50'),
  // --- BUG: lines ----------------------------------------------------------------------------
  {
    id: 'bug-sleeping',
    match: (e) => e.kind === 'bug' && /sleeping function called from invalid context/.test(e.title),
    title: () => 'BUG: sleeping function called from invalid context',
    from: ['trace'],
    skip: LOCK_WRAPPERS,
    // a copy that may fault is where the sleep happens: it is named, as the kernel's might_fault() check names it
    keep: ['usercopy', 'exception'],
    sample: 'BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580',
  },
  {
    id: 'bug-atomic',
    match: (e) => e.kind === 'bug' && /scheduling while atomic/.test(e.title),
    title: () => 'BUG: scheduling while atomic',
    from: ['trace'],
    skip: LOCK_WRAPPERS,
    sample: 'BUG: scheduling while atomic: swapper/0/0/0x00000002',
  },
  {
    id: 'bug-preemptible',
    match: (e) => e.kind === 'bug' && /in preemptible \[/.test(e.title),
    title: (e) => `BUG: using ${/using (\S+) in preemptible/.exec(e.title)?.[1] ?? 'smp_processor_id()'} in preemptible code`,
    from: ['named', 'trace'],
    sample: 'BUG: using smp_processor_id() in preemptible [00000000] code: syz-executor/1234',
  },
  {
    id: 'bug-workqueue-leak',
    match: (e) => e.kind === 'bug' && /workqueue leaked lock or atomic/.test(e.title),
    title: () => 'BUG: workqueue leaked lock or atomic',
    from: ['named', 'trace'],
    sample: 'BUG: workqueue leaked lock or atomic: kworker/0:1/0x00000000/12',
  },
  {
    id: 'bug-bad-page',
    match: (e) => e.kind === 'bug' && /Bad page (state|map)/.test(e.title),
    title: (e) => `BUG: Bad page ${/Bad page map/.test(e.title) ? 'map' : 'state'}`,
    // the page's owner, who allocated it, left it in that state; without page_owner the freeing path is what is known
    from: ['alloc-site', 'trace'],
    sample: 'BUG: Bad page state in process swapper/0  pfn:02a5c',
  },
  {
    id: 'bug-stack-guard',
    match: (e) => e.kind === 'bug' && /stack guard page was hit|stack-protector|corrupted stack end/.test(e.title),
    title: () => 'BUG: stack guard page was hit',
    from: ['pc', 'trace'],
    sample: 'BUG: stack guard page was hit at ffffc90000b17f58 (stack is ffffc90000b18000..ffffc90000b1ffff)',
  },
  {
    id: 'bug-spinlock',
    match: (e) => e.kind === 'bug' && e.details.spinlockDebug !== undefined,
    title: (e) => `BUG: ${e.details.spinlockDebug!.what}`,
    from: ['trace'],
    sample: 'BUG: spinlock recursion on CPU#0, swapper/0/1',
  },
  {
    id: 'kernel-bug',
    match: (e) => (e.kind === 'bug' && /kernel BUG at|Assertion failed/i.test(e.title)) || ((e.kind === 'oops' || e.kind === 'bug') && /Oops - BUG|invalid opcode/.test(e.details.oopsText ?? e.title) && !/lib\/list_debug|mm\/usercopy/.test(loc(e))),
    title: () => 'kernel BUG',
    from: ['pc', 'trace'],
    sample: 'kernel BUG at mm/slub.c:3881!',
  },
  {
    id: 'bug-other',
    match: (e) => e.kind === 'bug',
    title: (e) => e.title.replace(/^BUG:\s*/, 'BUG: ').replace(/[:,].*$/, '').replace(/ (in process|on CPU#?\d+|at \S+).*$/, '').trim(),
    from: ['trace'],
    sample: 'BUG: Dentry ffff88807b6e3f20{i=0,n=bus}  still in use (1) [unmount of ext4 sda1]',
  },
  // --- faults --------------------------------------------------------------------------------
  byKind('null-deref', 'BUG: unable to handle kernel NULL pointer dereference', ['pc', 'trace'], 'BUG: kernel NULL pointer dereference, address: 0000000000000008'),
  byKind('paging-request', 'BUG: unable to handle kernel paging request', ['pc', 'trace'], 'BUG: unable to handle page fault for address: ffffffffff600000'),
  byKind('gpf', 'general protection fault', ['pc', 'trace'], 'general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN'),
  {
    id: 'unhandled-fault',
    match: (e) => e.kind === 'oops' && /^Unhandled fault/.test(e.title),
    title: () => 'Unhandled fault',
    from: ['pc', 'trace'],
    sample: 'Unhandled fault: imprecise external abort (0x1406) at 0x00000000',
  },
  {
    id: 'oops',
    match: (e) => e.kind === 'oops',
    title: (e) => (/divide error/.test(e.details.oopsText ?? e.title) ? 'divide error' : /stack segment/.test(e.details.oopsText ?? e.title) ? 'stack segment fault' : 'BUG: unable to handle kernel paging request'),
    from: ['pc', 'trace'],
    sample: 'Oops: 0000 [#1] PREEMPT SMP NOPTI',
  },
  // --- hangs ---------------------------------------------------------------------------------
  {
    id: 'hung-task',
    match: (e) => e.kind === 'hung-task',
    title: () => 'INFO: task hung',
    from: ['trace'],
    // a subsystem's own wait helper (`fuse_wait_on_page_writeback`) waits for its caller
    skip: /^\w+_wait_(on|for)_\w+$|^(__)?wait_event\w*$|^\w+_wait_event\w*$/,
    sample: 'INFO: task kworker/u8:2:117 blocked for more than 122 seconds.',
  },
  byKind('rcu-stall', 'INFO: rcu detected stall', ['related', 'pc', 'trace'], 'rcu: INFO: rcu_preempt self-detected stall on CPU'),
  byKind('soft-lockup', 'BUG: soft lockup', ['pc', 'trace'], 'watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [mapper:127]'),
  byKind('hard-lockup', 'BUG: hard lockup', ['related', 'pc', 'trace'], 'NMI watchdog: Watchdog detected hard LOCKUP on cpu 3'),
  byKind('csd-lock', 'INFO: csd lock timeout', ['trace'], 'smp: csd: Detected non-responsive CSD lock (#1) on CPU#1, waiting 5000000032 ns for CPU#06 do_flush_tlb_all+0x0/0x30(0x0).'),
  {
    id: 'workqueue-lockup',
    match: (e) => e.kind === 'workqueue-lockup',
    title: () => 'BUG: workqueue lockup',
    // the work item in flight on the stuck pool is what keeps it busy
    from: ['in-flight', 'trace'],
    sample: 'BUG: workqueue lockup - pool cpus=70 node=0 flags=0x0 nice=0 stuck for 3720s!',
  },
  {
    id: 'panic',
    match: (e) => e.kind === 'panic',
    title: (e) => `kernel panic: ${(e.details.panicReason ?? '').replace(/\s+/g, ' ').trim() || 'not syncing'}`,
    // the panic's title names no function, but the interrupted code it shows is blamed
    from: ['pc', 'trace'],
    sample: 'Kernel panic - not syncing: VFS: Unable to mount root fs on unknown-block(0,0)',
  },
];


/** The report type of an event, or undefined for events that are not reports (OOM, I/O errors, NMI backtraces, ...). */
export function reportTypeOf(e: LogEvent): ReportType | undefined {
  return REPORT_TYPES.find((t) => t.match(e));
}

/** True when `fn` is generic for this report type: a skip-table row not kept by the type, or the type's own skips. */
export function isGenericFor(type: ReportType | undefined, fn: string): boolean {
  const base = baseName(fn);
  if (type?.id === 'hung-task' && HUNG_KEEP_RE.test(base)) return false;
  if (type?.skip?.test(base)) return true;
  for (const r of SKIP_FRAMES) {
    if (type?.keep?.includes(r.family)) continue;
    if (r.pattern.test(base)) return true;
  }
  return false;
}

/** True when `fn` matches a skip-table row of one of `families`. */
function inFamilies(fn: string, families: string[]): boolean {
  const base = baseName(fn);
  return SKIP_FRAMES.some((r) => families.includes(r.family) && r.pattern.test(base));
}

type Blamed = { function: string; module?: string };

/** A JIT-compiled BPF program's symbol carries its tag (`bpf_prog_82ec301e76077160`): one name for all of them. */
const jitName = (fn: string) => fn.replace(/^bpf_prog_[0-9a-f]{16}(_\w+)?$/, 'bpf_prog_ADDR');
const blamed = (f: Pick<Frame, 'function' | 'module'>): Blamed => (f.module ? { function: jitName(f.function), module: f.module } : { function: jitName(f.function) });


/**
 * The guilty frame of a report, or undefined when no frame can be blamed. `headerSym` is the function the header
 * names, `ipSym` the PC of an `IP:`/`RIP:` line seen without a register dump.
 */
export function guiltyFrame(e: LogEvent, type: ReportType | undefined, headerSym?: Blamed, ipSym?: Blamed): Blamed | undefined {
  const generic = (fn: string) => fn.startsWith('0x') || isGenericFor(type, fn);
  const genericFrame = (f: Frame) => generic(f.function);
  // A symbolized trace prints the functions inlined into a frame before it (`io_worker_exit fs/io-wq.c:183 [inline]`,
  // then `io_wqe_worker+0x66d/0xc40`): they share one frame, which is named after the function that holds the code.
  // A stall or lockup is the task context's loop: a hard interrupt that happened to be running when the report was
  // taken (a timer callback) is not it, unless nothing else is there.
  const stall = type?.id === 'rcu-stall' || type?.id === 'soft-lockup';
  const all = physicalFrames(usableFrames(e));
  const frames = stall && all.some((f) => f.stack !== 'irq' && !genericFrame(f)) ? all.filter((f) => f.stack !== 'irq') : all;
  // A hard lockup shown only from the CPU that detected it: its trace and registers are the detector's, not the stuck CPU's.
  const detectorOnly = e.kind === 'hard-lockup' && e.details.detectedBy !== undefined && e.details.detectedBy !== e.cpu;
  const from = detectorOnly ? (['related'] as FrameSource[]) : (type?.from ?? ['trace']);
  for (const src of from) {
    if (src === 'header') {
      const h = headerSym ?? (e.details.racing?.[0] ? { function: e.details.racing[0] } : undefined);
      const helper = (fn: string) => fn.startsWith('0x') || (type?.headerFamilies ? inFamilies(fn, type.headerFamilies) : generic(fn));
      if (h && !helper(h.function)) return blamed(h);
    } else if (src === 'alloc-site') {
      const f = physicalFrames(e.details.allocatedBy ?? []).find((x) => !genericFrame(x));
      if (f) return blamed(f);
    } else if (src === 'in-flight') {
      const w = e.details.inFlight?.find((x) => !generic(x.func));
      if (w) return { function: w.func };
    } else if (src === 'racing') {
      const r = e.details.racing?.[0];
      if (r) return { function: r };
    } else if (src === 'named') {
      const n = e.details.namedFunction;
      if (n && !generic(n)) return { function: n };
    } else if (src === 'lock-site') {
      const s = e.details.lockSites?.find((x) => !inFamilies(x, LOCK_FAMILIES) && !LOCK_WRAPPERS.test(baseName(x)));
      if (s) return { function: s };
    } else if (src === 'related') {
      if (e.culprit && (e.kind === 'rcu-stall' || e.kind === 'hard-lockup')) return e.culprit;
    } else if (src === 'pc') {
      // A call through a NULL function pointer: the PC is 0 and the frame that made the call is the one to blame,
      // even when the unwinder could only guess it (s390 prints it in parentheses, x86 with `?`).
      const zero = e.trace.findIndex((f) => /^0x0+$/.test(f.function));
      if (zero >= 0 && zero < 2) {
        const caller = e.trace.slice(zero + 1).find((f) => f.stack !== 'user' && !f.function.startsWith('0x') && !generic(f.function));
        if (caller) return blamed(caller);
      }
      const pc = e.registers.find((r) => r.mode !== 'user' && r.pcSymbol)?.pcSymbol ?? ipSym;
      if (pc && !generic(pc.function)) return blamed(pc);
      if (pc) {
        // The PC is in a generic helper: blame the first blamable frame below it.
        const i = frames.findIndex((f) => baseName(f.function) === baseName(pc.function));
        const f = (i >= 0 ? frames.slice(i + 1) : frames).find((x) => !genericFrame(x));
        if (f) return blamed(f);
      }
    } else {
      // The frames below the header's function (a KASAN report's access site is a helper's caller), else all of them.
      const h = headerSym?.function;
      const i = h ? frames.findIndex((f) => baseName(f.function) === baseName(h)) : -1;
      const f = (i >= 0 ? frames.slice(i + 1) : frames).find((x) => !genericFrame(x));
      if (f) return blamed(f);
    }
  }
  // Every frame shown is generic (a trimmed trace, a crash inside a helper): the function the report points at is
  // all there is, unless it is the reporting machinery itself.
  if (from.includes('pc') || from.includes('header')) {
    const at = (from.includes('pc') ? e.registers.find((r) => r.mode !== 'user' && r.pcSymbol)?.pcSymbol ?? ipSym : undefined) ?? headerSym;
    if (at && !at.function.startsWith('0x') && !inFamilies(at.function, MACHINERY)) return blamed(at);
  }
  return undefined;
}

/** Frames with the inlined functions folded into the frame that holds them (an inline run at the end stays as printed). */
function physicalFrames(frames: Frame[], syscallNames = true): Frame[] {
  const out: Frame[] = [];
  let run: Frame[] = [];
  for (const f of frames) {
    if (f.inline) run.push(f);
    else {
      // A syscall's body inlined into its entry wrapper (`__do_sys_memfd_secret` in `__se_sys_memfd_secret`) is the syscall.
      const body = syscallNames && SYSCALL_WRAPPER.test(f.function) ? run.find((x) => /^__do_(compat_)?sys_/.test(x.function)) : undefined;
      out.push(body ? { ...f, function: body.function.replace(/^__do_(compat_)?sys_/, '') } : f);
      run = [];
    }
  }
  return out.concat(run);
}

const SYSCALL_WRAPPER = /^__(se|x64|ia32|arm64|riscv|s390x?|powerpc)_(compat_)?sys_\w+$/;

/** Frames to read for blame: reliable kernel frames (all of them when the unwinder left only `?` guesses). */
function usableFrames(e: LogEvent): Frame[] {
  const kernel = e.trace.filter((f) => f.stack !== 'user');
  const reliable = kernel.filter((f) => f.reliable);
  if (reliable.length) return reliable;
  // With only `?` frames (old unwinders), the NMI-stack ones are the reporting machinery.
  return kernel.some((f) => f.stack !== 'nmi') ? kernel.filter((f) => f.stack !== 'nmi') : kernel;
}

/** The title of a report with its guilty frame, in the kernel-community convention. */
export function reportTitle(type: ReportType, e: LogEvent, guilty: Blamed | undefined): string {
  const prefix = type.title(e);
  if (type.id === 'kcsan' && e.details.racing?.length) return `${prefix} in ${e.details.racing.join(' / ')}`;
  if (type.id === 'panic' || type.id === 'workqueue-lockup') return prefix;
  if (type.id === 'warning-api' && guilty && headerFn(e) === 'usb_submit_urb') return `${prefix} in ${baseName(guilty.function)}/usb_submit_urb`;
  return guilty ? `${prefix} in ${baseName(guilty.function)}` : prefix;
}

/**
 * The report as the kernel community titles it. A stall or soft lockup is named after the activity that kept the CPU
 * (the syscall, work item, kthread or softirq handler), read from the outside in: the stuck loop may be deep in
 * common code any activity reaches, the activity is what tells one bug from another. The culprit (the loop's own
 * frame) stays what the diagnosis reads.
 */
export function describeReport(type: ReportType, e: LogEvent, culprit: Blamed | undefined): NonNullable<LogEvent['details']['report']> {
  const activity = type.id === 'rcu-stall' || type.id === 'soft-lockup' ? activityFrame(e.trace, type) : undefined;
  const guilty = activity ?? culprit;
  const corrupted = e.details.garbledLine !== undefined ? `console output lost or run together at line ${e.details.garbledLine}: the trace cannot be trusted` : undefined;
  return {
    type: type.id,
    title: reportTitle(type, e, guilty),
    ...(activity && activity.function !== culprit?.function ? { guilty: activity } : {}),
    ...(corrupted ? { corrupted } : {}),
  };
}

/** Common code by source path: the kernel core, mm, the VFS's own files, architecture and library code. */
const CORE_SOURCE = /^(kernel|mm|lib|arch|init|ipc|security|block|include|virt)\/|^fs\/(read_write|namei|open|splice|exec|file_table|file|super|namespace|xattr|inode|dcache|buffer|mpage|direct-io|sync|ioctl|select|pipe|stat|attr|fs-writeback|libfs|seq_file|fcntl|locks|pnode|d_path|char_dev|block_dev|readdir|fs_context|fsopen|mount|internal|filesystems|bad_inode|iomap\/\w+)\.c$|^net\/(core\/\w+|socket|netlink\/af_netlink|netlink\/genetlink)\.c$/;
const ACTIVITY_SYSCALL = /^(?:__(?:x64|ia32|arm64|riscv|s390x?|powerpc|se|do)_)(?:compat_)?sys_(\w+)$/;
/** The frames that only hand control to an activity: entry, threads, work items, idle and interrupt plumbing. */
const ACTIVITY_INFRA = /^(entry_\w+|do_syscall_\w+|__do_fast_syscall_32|do_fast_syscall_32|do_int80_syscall_32|x64_sys_call|ret_from_fork\w*|ret_from_kernel_thread|kthread|worker_thread|process_one_work|process_scheduled_works|smpboot_thread_fn|el0\w*|do_el0_svc|el0_svc_common|invoke_syscall|__invoke_syscall|secondary_startup\w*|start_secondary|cpu_startup_entry|do_idle|common_startup_64|start_kernel|rest_init|cpu_bringup_and_idle|system_call\w*|handle_softirqs|__do_softirq|do_softirq\w*|run_ksoftirqd|irq_exit\w*|__irq_exit_rcu)$/;

/** A symbolized stall trace's activity: outermost first, the first frame outside common code, else the outermost one. */
export function activityFrame(trace: Frame[], type: ReportType): Blamed | undefined {
  const kernel = trace.filter((f) => f.reliable && f.stack !== 'irq' && f.stack !== 'nmi' && f.stack !== 'user');
  if (!kernel.some((f) => f.source)) return undefined;
  const generic = (f: Frame) => isGenericFor(type, f.function) || f.function.startsWith('0x');
  // A softirq that ran on the way is the activity only when the task itself does nothing of its own (idle).
  const task = physicalFrames(kernel.filter((f) => f.stack !== 'softirq'), false);
  const frames = task.some((f) => !generic(f) && !ACTIVITY_INFRA.test(baseName(f.function))) ? task : physicalFrames(kernel, false);
  let outermost: Blamed | undefined;
  for (let i = frames.length - 1; i >= 0; i--) {
    const f = frames[i];
    const base = baseName(f.function);
    const sys = ACTIVITY_SYSCALL.exec(base);
    if (sys) {
      outermost ??= { function: `sys_${sys[1]}` };
      continue;
    }
    if (ACTIVITY_INFRA.test(base) || generic(f)) continue;
    outermost ??= blamed(f);
    if (f.source && !CORE_SOURCE.test(f.source.replace(/:\d+$/, ''))) return blamed(f);
  }
  return outermost;
}
