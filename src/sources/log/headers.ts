/**
 * Report headers: the first line of every kernel report Coroner knows, across kernel versions 2.6 .. 6.x and archs.
 * Data, one row a format; each row has a real-looking `sample` (checked by a test) and the `needle` the fast
 * scanner searches for (a substring every line the row matches contains).
 *
 * `mode`: `start` opens a new event; `attach` adds to the open event of the same kind (else ignored);
 * `attach-or-start` adds to an open event of the same kind or starts one.
 */
import type { EventDetails, EventKind, TaskRef } from '../../model/event.ts';
import { parseSymbol, type Symbol } from './frames.ts';

export interface HeaderInfo {
  cpu?: number;
  task?: TaskRef;
  details: EventDetails;
  /** The function named in the header (`WARNING: ... at file:line func+0x1/0x2`, `BUG: KASAN: ... in func`). */
  symbol?: Symbol;
}

export interface HeaderRow {
  id: string;
  kind: EventKind;
  re: RegExp;
  /** Substring(s) of which every matching line contains at least one. */
  needle: string | string[];
  sample: string;
  mode?: 'start' | 'attach' | 'attach-or-start';
  /** For `attach` rows: kinds of open event this line belongs to. */
  attachTo?: EventKind[];
  build?: (m: RegExpExecArray) => HeaderInfo;
}

const task = (comm: string | undefined, pid: string | undefined): TaskRef | undefined =>
  comm !== undefined && pid !== undefined ? { comm, pid: Number(pid) } : undefined;

/** `0-3,5` -> [0,1,2,3,5]. */
export function cpuList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(part);
    if (!m) continue;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    for (let i = a; i <= b && out.length < 4096; i++) out.push(i);
  }
  return out;
}

/** CPUs inside `{ 1-.... 3-...D }` or `{ 3}` or `{ 0 1 }`. */
export function bracedCpus(s: string): number[] {
  const m = /\{([^}]*)\}/.exec(s);
  if (!m) return [];
  return [...m[1].matchAll(/(?:^|\s)(\d+)(?=[-\s]|$)/g)].map((x) => Number(x[1]));
}

const LOCKDEP_TITLES = String.raw`possible recursive locking detected|possible circular locking dependency detected|inconsistent lock state|suspicious RCU usage\.?|suspicious rcu_dereference_check\(\) usage\.?|possible irq lock inversion dependency detected|(?:HARD|SOFT)IRQ-safe -> (?:HARD|SOFT)IRQ-unsafe lock order detected|bad unlock balance detected!|lock held when returning to user space!|held lock freed!|still has locks held!|Nested lock was not taken|lock held by \S+ freed!|possible deadlock|circular locking deadlock detected!|lock held at task exit time!|inconsistent \{[^}]*\} state|trying to register non-static key\.?`;

export const HEADERS: HeaderRow[] = [
  // --- lockups -------------------------------------------------------------------------------
  {
    id: 'soft-lockup',
    kind: 'soft-lockup',
    needle: 'BUG',
    re: /^(?:watchdog: |NMI watchdog: )?BUG: soft lockup - CPU#(\d+) stuck for (\d+) ?s(?:econds)?! \[(.+):(\d+)\]/,
    sample: 'watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [mapper:127]',
    build: (m) => ({ cpu: Number(m[1]), task: task(m[3], m[4]), details: { seconds: Number(m[2]) } }),
  },
  {
    id: 'soft-lockup-2.6',
    kind: 'soft-lockup',
    needle: 'BUG',
    re: /^BUG: soft lockup detected on CPU#(\d+)!/,
    sample: 'BUG: soft lockup detected on CPU#1!',
    build: (m) => ({ cpu: Number(m[1]), details: {} }),
  },
  {
    id: 'hard-lockup',
    kind: 'hard-lockup',
    needle: 'LOCKUP',
    // perf: `NMI watchdog: Watchdog detected hard LOCKUP on cpu 3`; 6.x `watchdog: ...`; buddy `watchdog: CPU2: Watchdog ... cpu 3`
    re: /^(?:NMI watchdog: |watchdog: )?(?:CPU(\d+): )?Watchdog detected hard LOCKUP on cpu (\d+)/,
    sample: 'watchdog: CPU2: Watchdog detected hard LOCKUP on cpu 3',
    build: (m) => ({ cpu: Number(m[2]), details: m[1] !== undefined ? { detectedBy: Number(m[1]) } : {} }),
  },
  {
    id: 'hard-lockup-2.6',
    kind: 'hard-lockup',
    needle: 'LOCKUP',
    re: /^NMI Watchdog detected LOCKUP on CPU ?(\d+)/,
    sample: 'NMI Watchdog detected LOCKUP on CPU 1, ip ffffffff8103a4d2, registers:',
    build: (m) => ({ cpu: Number(m[1]), details: {} }),
  },
  {
    id: 'hard-lockup-panic',
    kind: 'hard-lockup',
    needle: 'LOCKUP',
    re: /^Kernel panic - not syncing: (Watchdog detected hard LOCKUP on cpu (\d+))/,
    sample: 'Kernel panic - not syncing: Watchdog detected hard LOCKUP on cpu 2',
    build: (m) => ({ cpu: Number(m[2]), details: { panicReason: m[1], panicCause: 'hardlockup' } }),
  },
  // --- hung tasks ----------------------------------------------------------------------------
  {
    id: 'hung-task',
    kind: 'hung-task',
    needle: 'INFO: ',
    re: /^INFO: task (.+):(\d+) blocked for more than (\d+) seconds\./,
    sample: 'INFO: task blk-flush:161 blocked for more than 120 seconds.',
    build: (m) => ({ task: task(m[1], m[2]), details: { seconds: Number(m[3]) } }),
  },
  {
    id: 'hung-task-mutex-owner',
    kind: 'hung-task',
    needle: 'INFO: ',
    mode: 'attach',
    attachTo: ['hung-task'],
    re: /^INFO: task (.+):(\d+) is blocked on a mutex likely owned by task (.+):(\d+)\.?$/,
    sample: 'INFO: task kworker/0:1:12 is blocked on a mutex likely owned by task modprobe:345.',
    build: (m) => ({ task: task(m[1], m[2]), details: { blockers: [{ kind: 'mutex', owner: task(m[3], m[4]), line: 0 }] } }),
  },
  {
    id: 'hung-task-sem-owner',
    kind: 'hung-task',
    needle: 'INFO: ',
    mode: 'attach',
    attachTo: ['hung-task'],
    re: /^INFO: task (.+):(\d+) blocked on a semaphore likely last held by task (.+):(\d+)$/,
    sample: 'INFO: task cat:1803 blocked on a semaphore likely last held by task cat:1802',
    build: (m) => ({ task: task(m[1], m[2]), details: { blockers: [{ kind: 'semaphore', owner: task(m[3], m[4]), line: 0 }] } }),
  },
  {
    id: 'hung-task-rwsem-owner',
    kind: 'hung-task',
    needle: 'INFO: ',
    mode: 'attach',
    attachTo: ['hung-task'],
    re: /^INFO: task (.+):(\d+) <(reader|writer)> blocked on an rw-semaphore likely owned by task (.+):(\d+) <(reader|writer)>$/,
    sample: 'INFO: task modprobe:31634 <writer> blocked on an rw-semaphore likely owned by task kworker/u16:0:12 <reader>',
    build: (m) => ({
      task: task(m[1], m[2]),
      details: { blockers: [{ kind: m[3] === 'reader' ? 'rwsem-reader' : 'rwsem-writer', owner: task(m[4], m[5]), line: 0 }] },
    }),
  },
  {
    id: 'hung-task-owner-unknown',
    kind: 'hung-task',
    needle: 'INFO: ',
    mode: 'attach',
    attachTo: ['hung-task'],
    re: /^INFO: task (.+):(\d+) is blocked on an? (mutex|semaphore|rw-semaphore), but the owner is not found\.$/,
    sample: 'INFO: task modprobe:2342 is blocked on an rw-semaphore, but the owner is not found.',
    build: (m) => ({
      task: task(m[1], m[2]),
      details: { blockers: [{ kind: m[3] === 'mutex' ? 'mutex' : m[3] === 'semaphore' ? 'semaphore' : 'rwsem', line: 0 }] },
    }),
  },
  // --- RCU stalls ----------------------------------------------------------------------------
  {
    id: 'rcu-stall-self',
    kind: 'rcu-stall',
    needle: 'INFO: ',
    re: /^(?:rcu: )?INFO: (\w+) self-detected stall on CPU(.*)$/,
    sample: 'rcu: INFO: rcu_sched self-detected stall on CPU',
    build: (m) => {
      const cpus = bracedCpus(m[2]);
      return { cpu: cpus[0], details: { rcuFlavor: m[1], selfDetected: true, stalledCpus: cpus.length ? cpus : undefined } };
    },
  },
  {
    id: 'rcu-stall-others',
    kind: 'rcu-stall',
    needle: 'INFO: ',
    re: /^(?:rcu: )?INFO: (\w+) detected (expedited )?stalls? on (?:CPUs\/tasks|CPUs|tasks):?(.*)$/,
    sample: 'rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:',
    build: (m) => {
      const cpus = bracedCpus(m[3]);
      const by = /detected by (\d+)/.exec(m[3]);
      const d: EventDetails = { rcuFlavor: m[1], selfDetected: false, expedited: m[2] ? true : undefined };
      if (cpus.length) d.stalledCpus = cpus;
      if (by) d.detectedBy = Number(by[1]);
      return { details: d };
    },
  },
  {
    id: 'rcu-stall-2.6',
    kind: 'rcu-stall',
    needle: 'INFO: ',
    re: /^INFO: (\w+) detected stall on CPU (\d+)/,
    sample: 'INFO: rcu_sched_state detected stall on CPU 1 (t=15000 jiffies)',
    build: (m) => ({ cpu: Number(m[2]), details: { rcuFlavor: m[1], selfDetected: true, stalledCpus: [Number(m[2])] } }),
  },
  {
    id: 'rcu-kthread-starved',
    kind: 'rcu-stall',
    needle: 'starved',
    mode: 'attach-or-start',
    attachTo: ['rcu-stall'],
    re: /^(?:rcu: )?(\w+) kthread (?:timer wakeup didn't happen|starved) for (\d+) jiffies!(?:.*?->state=(0x[0-9a-f]+))?(?:.*?->cpu=(\d+))?/,
    sample: 'rcu: rcu_preempt kthread starved for 5255 jiffies! g-307 f0x0 RCU_GP_WAIT_FQS(5) ->state=0x0 ->cpu=0',
    build: (m) => ({
      details: {
        rcuFlavor: m[1],
        kthreadStarved: true,
        starvedKthread: { name: `${m[1]} kthread`, jiffies: Number(m[2]), ...(m[3] ? { state: m[3] } : {}), ...(m[4] !== undefined ? { cpu: Number(m[4]) } : {}) },
      },
    }),
  },
  // --- CSD lock ------------------------------------------------------------------------------
  {
    id: 'csd-lock',
    kind: 'csd-lock',
    needle: 'CSD lock',
    re: /^(?:smp: )?csd: (?:Detected|Continued) non-responsive CSD lock \(#\d+\) on CPU#(\d+), waiting (\d+) ns for CPU#(\d+) ([^\s(]+)\(([^)]*)\)\./,
    sample: 'csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5000000002 ns for CPU#01 flush_tlb_func(0xffffa1b2c3d4e5f0).',
    build: (m) => ({
      cpu: Number(m[1]),
      details: { csdTargetCpu: Number(m[3]), csdFunction: m[4], csdWaitSeconds: Number(m[2]) / 1e9 },
    }),
  },
  {
    id: 'csd-lock-more',
    kind: 'csd-lock',
    needle: 'CSD lock',
    mode: 'attach-or-start',
    attachTo: ['csd-lock'],
    re: /^(?:smp: )?csd: (?:CSD lock \(#\d+\) (?:unresponsive|handling|got unstuck)|Re-sending CSD lock \(#\d+\) IPI from CPU#(\d+) to CPU#(\d+))/,
    sample: 'csd: Re-sending CSD lock (#1) IPI from CPU#00 to CPU#01',
    build: (m) => ({ cpu: m[1] !== undefined ? Number(m[1]) : undefined, details: m[2] !== undefined ? { csdTargetCpu: Number(m[2]) } : {} }),
  },
  // --- faults ------------------------------------------------------------------------------
  {
    id: 'null-deref',
    kind: 'null-deref',
    needle: 'BUG',
    re: /^BUG: kernel NULL pointer dereference, address: ([0-9a-fx]+)/,
    sample: 'BUG: kernel NULL pointer dereference, address: 0000000000000000',
    build: (m) => ({ details: { address: m[1].replace(/^0x/, '') } }),
  },
  {
    id: 'null-deref-old',
    kind: 'null-deref',
    needle: 'BUG',
    re: /^BUG: unable to handle kernel NULL pointer dereference at\s+(?:virtual address )?(\S+)/,
    sample: 'BUG: unable to handle kernel NULL pointer dereference at 0000000000000008',
    build: (m) => ({ details: { address: m[1] === '(null)' ? '0' : m[1].replace(/^0x/, '') } }),
  },
  {
    id: 'null-deref-arm',
    kind: 'null-deref',
    needle: 'Unable to handle',
    re: /^Unable to handle kernel NULL pointer dereference at virtual address ([0-9a-fx]+)/,
    sample: 'Unable to handle kernel NULL pointer dereference at virtual address 0000000000000000',
    build: (m) => ({ details: { address: m[1].replace(/^0x/, '') } }),
  },
  {
    id: 'null-deref-ppc',
    kind: 'null-deref',
    needle: 'BUG',
    re: /^BUG: Kernel NULL pointer dereference (?:on (?:read|write) )?at 0x([0-9a-f]+)/,
    sample: 'BUG: Kernel NULL pointer dereference on read at 0x00000000',
    build: (m) => ({ details: { address: m[1] } }),
  },
  {
    id: 'paging-request',
    kind: 'paging-request',
    needle: 'BUG',
    re: /^BUG: unable to handle (?:page fault for address:|kernel paging request at)\s*([0-9a-fx]+)/,
    sample: 'BUG: unable to handle page fault for address: ffffc90000a3f000',
    build: (m) => ({ details: { address: m[1].replace(/^0x/, '') } }),
  },
  {
    id: 'paging-request-arm',
    kind: 'paging-request',
    needle: 'Unable to handle',
    re: /^Unable to handle kernel (paging request|execute from non-executable memory|write to read-only memory|read from unreadable memory|access to user memory[\w ]*?) at virtual address ([0-9a-fx]+)/,
    sample: 'Unable to handle kernel paging request at virtual address ffff800012345678',
    build: (m) => ({ details: { address: m[2].replace(/^0x/, ''), accessText: m[1] } }),
  },
  {
    id: 'paging-request-ppc',
    kind: 'paging-request',
    needle: 'Unable to handle',
    re: /^(?:BUG: )?Unable to handle kernel (?:paging request for|data access|instruction fetch)(?: (?:on (?:read|write)|data|instruction fetch|unknown fault))?(?: at address| at) 0x([0-9a-f]+)/,
    sample: 'Unable to handle kernel paging request for data at address 0x00000008',
    build: (m) => ({ details: { address: m[1] } }),
  },
  {
    id: 'paging-request-s390',
    kind: 'paging-request',
    needle: 'Unable to handle',
    re: /^Unable to handle kernel (pointer dereference|paging request) in virtual (kernel|user) address space/,
    sample: 'Unable to handle kernel pointer dereference in virtual kernel address space',
    build: (m) => ({ details: { accessText: `${m[1]} in virtual ${m[2]} address space` } }),
  },
  {
    id: 'gpf',
    kind: 'gpf',
    needle: '[#',
    re: /^(?:Oops: )?general protection fault(?:, (?:probably|maybe) for (?:non-canonical )?address (0x[0-9a-f]+))?: ([0-9a-f]{4}) \[#(\d+)\](.*)$/,
    sample: 'general protection fault, probably for non-canonical address 0xdead000000000122: 0000 [#1] PREEMPT SMP NOPTI',
    build: (m) => ({ details: { address: m[1]?.replace(/^0x/, ''), oopsText: m[0], oopsNumber: Number(m[3]) } }),
  },
  // --- oops lines (attach to the fault header before them, else a bare oops) -----------------
  {
    id: 'oops',
    kind: 'oops',
    needle: '[#',
    mode: 'attach-or-start',
    attachTo: ['null-deref', 'paging-request', 'gpf', 'bug', 'kasan', 'oops'],
    re: /^(?:Internal error: )?(?:Oops|invalid opcode|divide error|stack segment|double fault|int3|alignment check|segment not present|invalid TSS|bounds|overflow|illegal operation|specification exception|operand exception|privileged operation|data exception|translation specification exception|special operation exception|Accessing user space memory outside uaccess\.h routines)(?:[:,-][^[]*?)? ?\[#(\d+)\]/,
    sample: 'Oops: 0000 [#1] PREEMPT SMP NOPTI',
    build: (m) => ({ details: { oopsText: m[0].length < 200 ? m.input.trim() : m[0], oopsNumber: Number(m[1]) } }),
  },
  // --- BUG / WARNING ------------------------------------------------------------------------
  {
    id: 'kernel-bug',
    kind: 'bug',
    needle: 'BUG',
    re: /^kernel BUG at (\S+?)!?(?: \[verbose debug info unavailable\])?$/,
    sample: 'kernel BUG at mm/slub.c:3881!',
    build: (m) => ({ details: { location: m[1] } }),
  },
  {
    id: 'kasan',
    kind: 'kasan',
    needle: 'BUG',
    re: /^BUG: KASAN: (.+?) in (\S+)/,
    sample: 'BUG: KASAN: slab-use-after-free in ext4_search_dir+0x2b5/0x300',
    build: (m) => ({ details: { bugType: m[1] }, symbol: parseSymbol(m[2]) ?? { function: m[2] } }),
  },
  {
    id: 'kasan-range',
    kind: 'kasan',
    needle: 'KASAN',
    mode: 'attach',
    attachTo: ['gpf', 'null-deref', 'paging-request', 'oops'],
    re: /^KASAN: ([\w-]+(?: [\w-]+)*?) in range \[/,
    sample: 'KASAN: null-ptr-deref in range [0x0000000000000008-0x000000000000000f]',
    build: (m) => ({ details: { bugType: m[1] } }),
  },
  {
    id: 'kfence',
    kind: 'kfence',
    needle: 'BUG',
    re: /^BUG: KFENCE: (.+?) in (\S+)/,
    sample: 'BUG: KFENCE: use-after-free read in test_use_after_free_read+0xb3/0x143',
    build: (m) => ({ details: { bugType: m[1] }, symbol: parseSymbol(m[2]) ?? { function: m[2] } }),
  },
  {
    id: 'lockdep',
    kind: 'lockdep',
    needle: 'WARNING:',
    re: new RegExp(String.raw`^WARNING: (${LOCKDEP_TITLES})`),
    sample: 'WARNING: possible circular locking dependency detected',
    build: (m) => ({ details: { lockdepTitle: m[1] } }),
  },
  {
    id: 'lockdep-old',
    kind: 'lockdep',
    needle: ['INFO: ', 'BUG'],
    re: new RegExp(String.raw`^\[? ?(?:INFO|BUG): (${LOCKDEP_TITLES}) ?\]?$`),
    sample: '[ INFO: possible recursive locking detected ]',
    build: (m) => ({ details: { lockdepTitle: m[1] } }),
  },
  {
    id: 'bug-sleeping',
    kind: 'bug',
    needle: 'BUG',
    re: /^BUG: sleeping function called from invalid context at (\S+)/,
    sample: 'BUG: sleeping function called from invalid context at kernel/locking/mutex.c:580',
    build: (m) => ({ details: { location: m[1] } }),
  },
  {
    id: 'bug-task',
    kind: 'bug',
    needle: 'BUG',
    re: /^BUG: (?:scheduling while atomic|using \w+\(\) in preemptible \[[0-9a-f]+\] code|workqueue leaked lock or atomic|[\w ]+? on CPU#(\d+)): (?:(.+)\/(\d+)(?:\/0x[0-9a-f]+)?\s*$)?/,
    sample: 'BUG: scheduling while atomic: swapper/0/0/0x00000002',
    build: (m) => ({ cpu: m[1] !== undefined ? Number(m[1]) : undefined, task: task(m[2], m[3]), details: {} }),
  },
  {
    id: 'bug-spinlock',
    kind: 'bug',
    needle: 'BUG',
    re: /^BUG: ((?:spinlock|rwlock) [\w ]+?) on CPU#(\d+), (.+)\/(\d+)/,
    sample: 'BUG: spinlock recursion on CPU#0, swapper/0/1',
    build: (m) => ({ cpu: Number(m[2]), task: task(m[3], m[4]), details: { spinlockDebug: { what: m[1] } } }),
  },
  {
    id: 'bug-slub',
    kind: 'bug',
    needle: 'BUG',
    re: /^BUG ([\w-]+)(?: \((?:Not tainted|Tainted: [^)]*)\))?: (.+)$/,
    sample: 'BUG kmalloc-64 (Not tainted): Poison overwritten',
    build: () => ({ details: {} }),
  },
  {
    id: 'fs-assert',
    kind: 'bug',
    needle: 'Assertion failed',
    re: /^(?:XFS|BTRFS|assertion)[^:]*: [Aa]ssertion failed: (.*?),? (?:file|in): (\S+?),? line:? (\d+)/,
    sample: 'XFS: Assertion failed: cur->bc_btnum != XFS_BTNUM_BMAP || cur->bc_private.b.allocated == 0, file: fs/xfs/libxfs/xfs_btree.c, line: 380',
    build: (m) => ({ details: { location: `${m[2]}:${m[3]}` } }),
  },
  {
    id: 'workqueue-lockup',
    kind: 'workqueue-lockup',
    needle: 'workqueue lockup',
    re: /^BUG: workqueue lockup - pool (cpus=[\d,-]+(?: node=\d+)?(?: flags=0x[0-9a-f]+)?(?: nice=-?\d+)?) stuck for (\d+)s!/,
    sample: 'BUG: workqueue lockup - pool cpus=70 node=0 flags=0x0 nice=0 stuck for 3720s!',
    build: (m) => {
      const c = /cpus=(\d+)(?:[,\s]|$)/.exec(m[1]);
      return { cpu: c ? Number(c[1]) : undefined, details: { pool: m[1], seconds: Number(m[2]) } };
    },
  },
  {
    id: 'kmsan',
    kind: 'kmsan',
    needle: 'KMSAN',
    re: /^BUG: KMSAN: (\S+) in (\S+)/,
    sample: 'BUG: KMSAN: uninit-value in __crc32c_le_base+0x1b2/0x200',
    build: (m) => ({ details: { bugType: m[1] }, symbol: parseSymbol(m[2]) ?? { function: m[2] } }),
  },
  {
    id: 'kcsan',
    kind: 'kcsan',
    needle: 'KCSAN',
    re: /^BUG: KCSAN: (\S+) in (\S+)(?: \/ (\S+))?/,
    sample: 'BUG: KCSAN: data-race in __fsnotify_parent / __fsnotify_recalc_mask',
    build: (m) => ({ details: { bugType: m[1], racing: [m[2], ...(m[3] ? [m[3]] : [])].map((x) => parseSymbol(x)?.function ?? x) } }),
  },
  {
    id: 'memory-leak',
    kind: 'memory-leak',
    needle: 'memory leak',
    re: /^BUG: memory leak$/,
    sample: 'BUG: memory leak',
    build: () => ({ details: {} }),
  },
  {
    id: 'kmemleak-object',
    kind: 'memory-leak',
    needle: 'unreferenced object',
    mode: 'attach-or-start',
    attachTo: ['memory-leak'],
    re: /^unreferenced object 0x([0-9a-f]+) \(size (\d+)\):/,
    sample: 'unreferenced object 0xffff888109e3fc00 (size 1024):',
    build: (m) => ({ details: { address: m[1] } }),
  },
  {
    id: 'unhandled-fault-arm',
    kind: 'oops',
    needle: 'Unhandled fault',
    re: /^Unhandled fault: (.+?) \((0x[0-9a-f]+)\) at (0x[0-9a-f]+)/,
    sample: 'Unhandled fault: imprecise external abort (0x1406) at 0x00000000',
    build: (m) => ({ details: { accessText: m[1], address: m[3].replace(/^0x/, '') } }),
  },
  {
    id: 'bug-generic',
    kind: 'bug',
    needle: 'BUG',
    re: /^BUG: (?!KASAN|KFENCE|KMSAN|KCSAN|memory leak$)(\S.*)$/,
    sample: 'BUG: Bad page state in process swapper/0  pfn:02a5c',
    build: () => ({ details: {} }),
  },
  {
    id: 'warning',
    kind: 'warning',
    needle: 'WARNING:',
    re: /^WARNING: CPU: (\d+) PID: (\d+) at (\S+) (\S+(?: \[[\w-]+\])?)/,
    sample: 'WARNING: CPU: 1 PID: 2 at fs/inode.c:336 drop_nlink+0x35/0x50',
    build: (m) => ({ cpu: Number(m[1]), details: { location: m[3] }, symbol: parseSymbol(m[4]) ?? (/^[A-Za-z_][\w.]*$/.test(m[4]) ? { function: m[4] } : undefined) }),
  },
  {
    id: 'warning-6.x',
    kind: 'warning',
    needle: 'WARNING:',
    re: /^WARNING: (\S+:\d+) at (\S+)(?: \S+:\d+)?, CPU#(\d+): (.+)\/(\d+)/,
    sample: 'WARNING: fs/inode.c:336 at drop_nlink+0x35/0x50, CPU#1: rm/2345',
    build: (m) => ({ cpu: Number(m[3]), task: task(m[4], m[5]), details: { location: m[1] }, symbol: parseSymbol(m[2]) }),
  },
  {
    id: 'warning-old',
    kind: 'warning',
    needle: 'WARNING:',
    re: /^WARNING: at ?(\S+)(?: (\S+?)(?:\(\))?)?(?: \[[\w-]+\](?:\(\))?)?$/,
    sample: 'WARNING: at net/ipv4/tcp_input.c:2776 tcp_fastretrans_alert+0xc7a/0xd10()',
    build: (m) => ({ details: { location: m[1] }, symbol: m[2] ? parseSymbol(m[0].slice(m[0].indexOf(m[2]))) : undefined }),
  },
  {
    id: 'page-allocation-failure',
    kind: 'warning',
    needle: 'page allocation failure',
    re: /^(\S.*?): page allocation failure: order:(\d+)/,
    sample: 'chrome: page allocation failure: order:5, mode:0x24040c0(GFP_KERNEL|__GFP_COMP)',
    build: () => ({ details: {} }),
  },
  {
    id: 'ubsan',
    kind: 'ubsan',
    needle: 'UBSAN:',
    // a mail client may wrap the location onto the next line: `UBSAN: array-index-out-of-bounds in`
    re: /^UBSAN: (.+?) in(?: (\S+)|$)/,
    sample: 'UBSAN: shift-out-of-bounds in lib/test_ubsan.c:17:5',
    build: (m) => ({ details: { bugType: m[1] === 'Undefined behaviour' ? 'undefined-behaviour' : m[1], location: m[2] } }),
  },
  // --- panic ---------------------------------------------------------------------------------
  {
    id: 'panic',
    kind: 'panic',
    needle: 'Kernel panic',
    re: /^Kernel panic - not syncing:? ?(.*?)\s*$/,
    sample: 'Kernel panic - not syncing: softlockup: hung tasks',
    build: (m) => ({ details: { panicReason: m[1] } }),
  },
  // --- NMI -----------------------------------------------------------------------------------
  {
    id: 'nmi-backtrace',
    kind: 'nmi-backtrace',
    needle: 'NMI ',
    re: /^NMI backtrace for cpu (\d+)(?: skipped: idling at (\S+))?/,
    sample: 'NMI backtrace for cpu 1',
    build: (m) => ({ cpu: Number(m[1]), details: m[2] ? { idle: true } : {}, symbol: m[2] ? parseSymbol(m[2]) : undefined }),
  },
  {
    id: 'unknown-nmi',
    kind: 'unknown-nmi',
    needle: 'NMI ',
    re: /^Uhhuh\. NMI received for unknown reason ([0-9a-f]+) on CPU (\d+)\./,
    sample: 'Uhhuh. NMI received for unknown reason 21 on CPU 0.',
    build: (m) => ({ cpu: Number(m[2]), details: { nmiReason: m[1] } }),
  },
  {
    id: 'nmi-serr-iock',
    kind: 'unknown-nmi',
    needle: 'NMI: ',
    re: /^NMI: (PCI system error \(SERR\)|IOCK error \(debug interrupt\?\)) for reason ([0-9a-f]+) on CPU (\d+)\./,
    sample: 'NMI: PCI system error (SERR) for reason a1 on CPU 0.',
    build: (m) => ({ cpu: Number(m[3]), details: { nmiReason: `${m[2]} (${m[1]})` } }),
  },
  // --- sysrq -------------------------------------------------------------------------------
  {
    id: 'sysrq-blocked',
    kind: 'sysrq-blocked',
    needle: 'Show Blocked State',
    re: /^(?:sysrq: )?(?:SysRq : )?Show Blocked State/,
    sample: 'sysrq: Show Blocked State',
    build: () => ({ details: { tasks: [] } }),
  },
  {
    id: 'sysrq-tasks',
    kind: 'sysrq-tasks',
    needle: 'Show State',
    re: /^(?:sysrq: )?(?:SysRq : )?Show State/,
    sample: 'sysrq: Show State',
    build: () => ({ details: { tasks: [] } }),
  },
  // --- machine check, OOM ----------------------------------------------------------------------
  {
    id: 'mce',
    kind: 'mce',
    needle: 'Hardware Error',
    mode: 'attach-or-start',
    attachTo: ['mce'],
    re: /^(?:mce: )?\[Hardware Error\]: (.*)$/,
    sample: 'mce: [Hardware Error]: CPU 0: Machine Check Exception: 5 Bank 1: b200000000070005',
    build: (m) => {
      const c = /^CPU (\d+): Machine Check/.exec(m[1]);
      return { cpu: c ? Number(c[1]) : undefined, details: { mceText: m[1] } };
    },
  },
  {
    id: 'mce-old',
    kind: 'mce',
    needle: ['achine ', 'Uncorrected hardware'],
    mode: 'attach-or-start',
    attachTo: ['mce'],
    re: /^(?:mce: |MCE: )?(?:CPU (\d+): Machine Check Exception: (.*)|Machine check events logged|(Uncorrected hardware memory error.*))$/,
    sample: 'CPU 0: Machine Check Exception: 0000000000000007',
    build: (m) => ({ cpu: m[1] !== undefined ? Number(m[1]) : undefined, details: { mceText: m[0] } }),
  },
  {
    id: 'oom-invoked',
    kind: 'oom',
    needle: 'oom-killer',
    re: /^(.+?) invoked oom-killer: (.*)$/,
    sample: 'stress invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0',
    build: () => ({ details: {} }),
  },
  {
    id: 'oom-killed',
    kind: 'oom',
    needle: 'Out of memory',
    mode: 'attach-or-start',
    attachTo: ['oom'],
    re: /^(?:Memory cgroup )?Out of memory(?: \(oom_kill_allocating_task\))?: (?:Killed|Kill) process (\d+) \((.+?)\)/,
    sample: 'Out of memory: Killed process 1234 (stress) total-vm:1056000kB, anon-rss:240000kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:520kB oom_score_adj:0',
    build: (m) => ({ details: { oomVictim: { comm: m[2], pid: Number(m[1]) }, ...(/^Memory cgroup/.test(m[0]) ? { oomConstraint: 'CONSTRAINT_MEMCG' } : {}) } }),
  },
  // --- storage: I/O errors, command timeouts, controller resets; filesystems giving up ------------------------------
  {
    id: 'io-blk',
    kind: 'io-error',
    needle: 'I/O error, dev ',
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^(?:(?:blk_update_request|print_req_error|end_request|blk_print_req_error): )?(?:[\w ]+ )?I\/O error,? dev (\S+?),? sector (\d+)/,
    sample: 'blk_update_request: I/O error, dev sda, sector 2048 op 0x1:(WRITE) flags 0x800 phys_seg 1 prio class 0',
    build: (m) => io(m[1]),
  },
  {
    id: 'io-buffer',
    kind: 'io-error',
    needle: 'Buffer I/O error',
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^Buffer I\/O error on dev(?:ice)? (\S+?),/,
    sample: 'Buffer I/O error on dev dm-1, logical block 0, lost sync page write',
    build: (m) => io(m[1]),
  },
  {
    id: 'io-scsi',
    kind: 'io-error',
    needle: ['timing out command', 'FAILED Result', 'rejecting I/O', 'Medium Error', 'Unrecovered read error', 'task abort', 'Device offlined', 'hostbyte=DID_'],
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^(?:sd|scsi|sr|st) (\d+:\d+:\d+:\d+): (?:\[(\w+)\] )?(?:tag#\d+ )?(.*(?:timing out command|FAILED Result|rejecting I\/O|Medium Error|Unrecovered read error|task abort|Device offlined|hostbyte=DID_(?!OK)).*)$/,
    sample: 'sd 0:0:0:0: [sda] tag#12 timing out command, waited 180s',
    build: (m) => io(m[2] ?? m[1]),
  },
  {
    id: 'io-nvme',
    kind: 'io-error',
    needle: 'nvme nvme',
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^nvme (nvme\d+): (.*(?:timeout|failed|error|controller is down|Removing|not ready|abort|reset|Reconnecting|Disabling).*)$/,
    sample: 'nvme nvme0: I/O 17 QID 1 timeout, aborting',
    build: (m) => io(m[1]),
  },
  {
    id: 'io-block',
    kind: 'io-error',
    needle: 'block ',
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^block (\S+?): (.*(?:no usable path|error|timeout|failed).*)$/,
    sample: 'block nvme2n2: no usable path - requeuing I/O',
    build: (m) => io(m[1]),
  },
  {
    id: 'io-ata',
    kind: 'io-error',
    needle: ['failed command', 'exception Emask', 'COMRESET failed', 'hard resetting link', 'DRDY ERR'],
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^(ata\d+)(?:\.\d+)?: (.*(?:failed command|exception Emask|COMRESET failed|hard resetting link|DRDY ERR).*)$/,
    sample: 'ata1.00: exception Emask 0x0 SAct 0x0 SErr 0x0 action 0x6 frozen',
    build: (m) => io(m[1]),
  },
  {
    id: 'io-md',
    kind: 'io-error',
    needle: 'Disk failure on',
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^md\/raid\d*:(md\d+): Disk failure on (\S+?), disabling device/,
    sample: 'md/raid1:md0: Disk failure on sdb1, disabling device.',
    build: (m) => io(m[2]),
  },
  {
    id: 'io-hba',
    kind: 'io-error',
    needle: ['reset', 'SCSI hang', 'timeout', 'timed out', 'fault', 'offline'],
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^(aacraid|megaraid_sas|mpt[23]sas_cm\d+|mpi3mr\d*|hpsa|smartpqi|qla2xxx|lpfc|mptbase|be2iscsi|bnx2fc|ibmvscsi|ibmvfc|virtio_blk|xen-blkfront|mmc\d+)(?: (\S+?))?: (.*(?:reset request|SCSI hang|timeout|timed out|firmware fault|FW fault|controller (?:is )?(?:dead|offline|fault)|adapter (?:is )?(?:dead|offline)).*)$/,
    sample: 'aacraid: Host bus reset request. SCSI hang ?',
    build: (m) => io(m[2] ? `${m[1]} ${m[2]}` : m[1]),
  },
  {
    id: 'io-bcache',
    kind: 'io-error',
    needle: 'bcache: ',
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^bcache: \w+\(\) (\S+?): (IO error.*|error.*)$/,
    sample: 'bcache: bch_count_io_errors() nvme0n1p56: IO error on writing btree.',
    build: (m) => io(m[1]),
  },
  {
    id: 'io-nfs',
    kind: 'io-error',
    needle: 'not responding',
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^nfs: server (\S+) not responding/,
    sample: 'nfs: server 10.2.80.41 not responding, still trying',
    build: (m) => io(`nfs:${m[1]}`),
  },
  {
    id: 'io-netdev',
    kind: 'io-error',
    needle: ['bad gso', 'imeout', 'timed out', 'Reset adapter', 'Unit Hang', 'Link is Down'],
    mode: 'attach-or-start',
    attachTo: ['io-error', 'fs-error'],
    re: /^(eth\d+|en[a-z0-9]+|wl[a-z0-9]+|ib[a-z0-9]+|bond\d+|br\d+): (bad gso.*|.*(?:TX timeout|tx timeout|transmit timed out|Reset adapter|adapter reset|Detected Hardware Unit Hang|NIC Link is Down).*)$/,
    sample: 'eth0: bad gso: type: 1, size: 1440',
    build: (m) => io(m[1]),
  },
  {
    id: 'fs-ext4-error',
    kind: 'fs-error',
    needle: 'EXT4-fs',
    mode: 'attach-or-start',
    attachTo: ['fs-error', 'io-error'],
    re: /^EXT4-fs (?:error|critical) \(device (\S+?)\): (.*)$/,
    sample: 'EXT4-fs error (device dm-1): ext4_journal_check_start:61: Detected aborted journal',
    build: (m) => fs('ext4', m[1], /aborted journal/.test(m[2]) ? 'journal aborted' : 'error'),
  },
  {
    id: 'fs-ext4-ro',
    kind: 'fs-error',
    needle: 'EXT4-fs',
    mode: 'attach-or-start',
    attachTo: ['fs-error', 'io-error'],
    re: /^EXT4-fs \((\S+?)\): (Remounting filesystem read-only|I\/O error while writing superblock|.*aborted.*)/,
    sample: 'EXT4-fs (dm-1): Remounting filesystem read-only',
    build: (m) => fs('ext4', m[1], /read-only/.test(m[2]) ? 'remounted read-only' : 'error'),
  },
  {
    id: 'fs-jbd2',
    kind: 'fs-error',
    needle: ['Aborting journal', 'JBD2: '],
    mode: 'attach-or-start',
    attachTo: ['fs-error', 'io-error'],
    re: /^(?:Aborting journal on device (\S+?)(?:-\d+)?\.|JBD2: (?:Error -?\d+ detected when updating journal superblock for|.*(?:[Ee]rror|IO errors).*? on) (\S+?)(?:-\d+)?\.?)$/,
    sample: 'Aborting journal on device dm-1-8.',
    build: (m) => fs('jbd2', m[1] ?? m[2], 'journal aborted'),
  },
  {
    id: 'fs-xfs',
    kind: 'fs-error',
    needle: 'XFS (',
    mode: 'attach-or-start',
    attachTo: ['fs-error', 'io-error'],
    re: /^XFS \((\S+?)\): (.*(?:[Ss]hutting down|Log I\/O [Ee]rror|metadata I\/O error|[Cc]orruption|log error|has been shut down|Internal error|xfs_do_force_shutdown).*)$/,
    sample: 'XFS (sda1): Log I/O Error Detected. Shutting down filesystem',
    build: (m) => fs('xfs', m[1], /shut/i.test(m[2]) ? 'shut down' : 'error'),
  },
  {
    id: 'fs-btrfs',
    kind: 'fs-error',
    needle: 'BTRFS',
    mode: 'attach-or-start',
    attachTo: ['fs-error', 'io-error'],
    re: /^BTRFS(?: (?:error|critical|warning|info))?:? \(device (\S+?)(?:: state \S+)?\)[:]? (.*(?:forced readonly|errno=-?\d+|IO failure|corrupt|error).*)$/,
    sample: 'BTRFS error (device sda): bdev /dev/sda errs: wr 1, rd 0, flush 0, corrupt 0, gen 0',
    build: (m) => fs('btrfs', m[1], /readonly/.test(m[2]) ? 'forced read-only' : 'error'),
  },
];

/** The disk a device name belongs to: `sda1` -> `sda`, `nvme0n1p2` -> `nvme0n1`, `mmcblk0p1` -> `mmcblk0`, `dm-1-8` -> `dm-1`. */
export function diskOf(dev: string): string {
  const d = dev.replace(/^\/dev\//, '').replace(/[,:]$/, '');
  let m: RegExpExecArray | null;
  if ((m = /^(nvme\d+n\d+)(?:p\d+)?$/.exec(d))) return m[1];
  if ((m = /^(mmcblk\d+)(?:p\d+)?$/.exec(d))) return m[1];
  if ((m = /^(dm-\d+)(?:-\d+)?$/.exec(d))) return m[1];
  if ((m = /^((?:sd|vd|xvd|hd)[a-z]+)\d*$/.exec(d))) return m[1];
  return d;
}

function io(device: string): HeaderInfo {
  return { details: { device: diskOf(device), devices: [device], count: 1 } };
}

function fs(fsType: string, device: string, action: string): HeaderInfo {
  return { details: { fsType, fsAction: action, device: diskOf(device), devices: [device], count: 1 } };
}

/** Every needle the fast scanner must look for: one per header row, plus preambles and system facts. */
export const EXTRA_NEEDLES = ['NMI: ', 'cut here', '=====', 'Linux version ', 'Command line: ', 'command line: ', 'DMI: ', 'Machine model: ', 'Brought up ', 'Sending NMI', 'sending NMI'];

/** Panic reason -> cause, first match wins. Data; each row has a sample. */
export const PANIC_CAUSES: Array<{ cause: string; re: RegExp; sample: string }> = [
  { cause: 'hung_task', re: /hung_task: blocked tasks|hung_task/i, sample: 'hung_task: blocked tasks' },
  { cause: 'softlockup', re: /softlockup: hung tasks|soft ?lockup/i, sample: 'softlockup: hung tasks' },
  { cause: 'hardlockup', re: /hard LOCKUP|Watchdog detected hard|NMI watchdog/i, sample: 'Hard LOCKUP' },
  { cause: 'rcu-stall', re: /^RCU Stall/i, sample: 'RCU Stall' },
  { cause: 'oops-in-interrupt', re: /Fatal exception in interrupt|Aiee, killing interrupt handler/, sample: 'Fatal exception in interrupt' },
  { cause: 'oops', re: /^Fatal exception|^Oops|^Fatal (?:trap|exception)|Attempted to kill the idle task/, sample: 'Fatal exception' },
  { cause: 'nmi', re: /^NMI: Not continuing|Not continuing|NMI IOCK error|unknown_nmi_panic|NMI: PCI system error/, sample: 'NMI: Not continuing' },
  { cause: 'mce', re: /Machine check|MCE|Fatal machine check|Fatal local machine check|Unable to continue/i, sample: 'Fatal machine check' },
  { cause: 'oom', re: /Out of memory|System is deadlocked on memory|out of memory and no killable processes/i, sample: 'System is deadlocked on memory' },
  { cause: 'vfs-root-mount', re: /VFS: Unable to mount root fs|Unable to mount root fs/, sample: 'VFS: Unable to mount root fs on unknown-block(0,0)' },
  { cause: 'kill-init', re: /Attempted to kill init/, sample: 'Attempted to kill init! exitcode=0x0000000b' },
  { cause: 'no-init', re: /No working init found|Requested init \S+ failed/, sample: 'No working init found.  Try passing init= option to kernel.' },
  { cause: 'warning', re: /panic_on_warn set/, sample: 'kernel: panic_on_warn set ...' },
  { cause: 'stack-protector', re: /stack-protector: Kernel stack is corrupted/, sample: 'stack-protector: Kernel stack is corrupted in: foo+0x1/0x2' },
  { cause: 'stack-corruption', re: /corrupted stack end detected/, sample: 'corrupted stack end detected inside scheduler' },
  { cause: 'sysrq', re: /sysrq triggered crash/, sample: 'sysrq triggered crash' },
  { cause: 'kasan', re: /KASAN/, sample: 'KASAN: panic_on_error set ...' },
];

export function panicCauseOf(reason: string): string {
  return PANIC_CAUSES.find((r) => r.re.test(reason))?.cause ?? 'other';
}
