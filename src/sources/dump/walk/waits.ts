/**
 * What a sleeping task waits on, found on its own stack: the wait entry it queued on a wait queue (its `private` is
 * the task, its `func` a wake function) or the swait entry of a completion (its `task` is the task), validated by the
 * list links around it, followed to the head of the list — the wait queue, the completion, the bit it waits for —
 * and, for `flush_work`, the barrier work whose completion it sleeps on. Workers (kworkers) and the work they run.
 * Every read is guarded; a list that does not validate is not a wait.
 */
import { attempt } from '../kernel/errors.ts';
import type { Kernel } from '../kernel/value.ts';
import type { TaskInfo } from './sched.ts';

export type WaitObjectKind = 'completion' | 'waitqueue' | 'bit' | 'flush';

export interface WaitObject {
  kind: WaitObjectKind;
  /** The completion, wait_queue_head, or word with the bit; for `flush`, the wq_barrier. */
  address: bigint;
  /** `flush`: the barrier's work item (to find the worker that runs the work being flushed). */
  barrierWork?: bigint;
  /** `bit`: the bit number waited on. */
  bit?: number;
  /** How it was found, in words. */
  how: string;
}

/** Words of a stack, from its saved pointer to its top. */
export interface StackWords {
  base: bigint;
  words: BigUint64Array;
}

const WAKE_FUNCS = ['default_wake_function', 'autoremove_wake_function', 'woken_wake_function', 'wake_bit_function', 'var_wake_function', 'wake_page_function', 'ep_autoremove_wake_function', 'pollwake', 'synchronous_wake_function'];

export interface WaitLayout {
  wakeFuncs: Map<bigint, string>;
  wqeFunc: bigint;
  wqePrivate: bigint;
  wqeEntry: bigint;
  wqHeadHead: bigint;
  swqTaskList: bigint;
  swqHeadTaskList: bigint;
  completionWait: bigint;
  barrierDone: bigint;
  barrierWork: bigint;
  workFunc: bigint;
  barrierFunc?: bigint;
  bitEntryWq?: bigint;
  bitKeyFlags?: bigint;
  bitKeyNr?: bigint;
  /** struct wait_page_queue (folio lock / writeback waits). */
  pageWait?: bigint;
  pageFolio?: bigint;
  pageBit?: bigint;
}

/** Offsets and wake functions from BTF and the symbols: read once per dump. */
export function waitLayout(k: Kernel, addressOf: (name: string) => bigint | undefined): WaitLayout | undefined {
  const r = attempt(() => {
    const off = (t: string, m: string) => BigInt(k.type(t).offsetOf(m));
    const wakeFuncs = new Map<bigint, string>();
    for (const n of WAKE_FUNCS) {
      const a = addressOf(n);
      if (a !== undefined) wakeFuncs.set(a, n);
    }
    const bit = attempt(() => ({ wq: off('struct wait_bit_queue_entry', 'wq_entry'), flags: off('struct wait_bit_queue_entry', 'key.flags'), nr: off('struct wait_bit_queue_entry', 'key.bit_nr') }));
    const layout: WaitLayout = {
      wakeFuncs,
      wqeFunc: off('struct wait_queue_entry', 'func'),
      wqePrivate: off('struct wait_queue_entry', 'private'),
      wqeEntry: off('struct wait_queue_entry', 'entry'),
      wqHeadHead: off('struct wait_queue_head', 'head'),
      swqTaskList: off('struct swait_queue', 'task_list'),
      swqHeadTaskList: off('struct swait_queue_head', 'task_list'),
      completionWait: off('struct completion', 'wait'),
      barrierDone: off('struct wq_barrier', 'done'),
      barrierWork: off('struct wq_barrier', 'work'),
      workFunc: off('struct work_struct', 'func'),
      ...(bit.ok ? { bitEntryWq: bit.value.wq, bitKeyFlags: bit.value.flags, bitKeyNr: bit.value.nr } : {}),
    };
    const pq = attempt(() => ({ wait: off('struct wait_page_queue', 'wait'), folio: off('struct wait_page_queue', 'folio'), bit: off('struct wait_page_queue', 'bit_nr') }));
    if (pq.ok) Object.assign(layout, { pageWait: pq.value.wait, pageFolio: pq.value.folio, pageBit: pq.value.bit });
    const bf = addressOf('wq_barrier_func');
    if (bf !== undefined) layout.barrierFunc = bf;
    return layout;
  });
  return r.ok ? r.value : undefined;
}

/** The head of the circular list `node` is on: the one node that is not an entry (bounded walk, links validated). */
function headOf(k: Kernel, node: bigint, isEntry: (n: bigint) => boolean): bigint | undefined {
  const u64 = (a: bigint) => k.read(a, 8, 'list link').readBigUInt64LE(0);
  const r = attempt(() => {
    const next = u64(node);
    const prev = u64(node + 8n);
    if (u64(next + 8n) !== node || u64(prev) !== node) return undefined;
    let p = next;
    for (let n = 0; n < 1024 && p !== node; n++) {
      if (!isEntry(p)) return p;
      p = u64(p);
    }
    return undefined;
  });
  return r.ok ? r.value : undefined;
}

/** The wait objects of one sleeping task, from its stack. */
export function waitObjectsOf(k: Kernel, L: WaitLayout, t: TaskInfo, st: StackWords): WaitObject[] {
  const out: WaitObject[] = [];
  const word = (a: bigint): bigint | undefined => {
    const i = Number((a - st.base) / 8n);
    if (a >= st.base && (a - st.base) % 8n === 0n && i >= 0 && i < st.words.length) return st.words[i];
    const r = attempt(() => k.read(a, 8, 'word').readBigUInt64LE(0));
    return r.ok ? r.value : undefined;
  };
  const isWaitEntry = (node: bigint) => {
    const f = word(node - L.wqeEntry + L.wqeFunc);
    return f !== undefined && L.wakeFuncs.has(f);
  };
  const isSwaitEntry = (node: bigint) => {
    const tk = word(node - L.swqTaskList);
    return tk !== undefined && tk >= 0xffff800000000000n && (tk & 0x3fn) === 0n;
  };
  for (let i = 0; i < st.words.length && out.length < 4; i++) {
    if (st.words[i] !== t.address) continue;
    const at = st.base + BigInt(i * 8);
    // A wait_queue_entry: private == task, func a wake function, entry on a list.
    const entry = at - L.wqePrivate;
    const func = word(entry + L.wqeFunc);
    if (func !== undefined && L.wakeFuncs.has(func)) {
      const node = entry + L.wqeEntry;
      const head = headOf(k, node, isWaitEntry);
      if (head === undefined) continue;
      const fname = L.wakeFuncs.get(func)!;
      if ((fname === 'wake_bit_function' || fname === 'var_wake_function') && L.bitEntryWq !== undefined) {
        const bitEntry = entry - L.bitEntryWq;
        const flags = word(bitEntry + L.bitKeyFlags!);
        const nr = word(bitEntry + L.bitKeyNr!);
        if (flags !== undefined) {
          out.push({ kind: 'bit', address: flags, ...(nr !== undefined ? { bit: Number(nr & 0xffffffffn) } : {}), how: `its wait_bit_queue_entry (${fname}) on the stack names word 0x${flags.toString(16)}` });
          continue;
        }
      }
      if (fname === 'wake_page_function' && L.pageWait !== undefined) {
        const wpq = entry - L.pageWait;
        const folio = word(wpq + L.pageFolio!);
        const nr = word(wpq + L.pageBit!);
        if (folio !== undefined) {
          out.push({ kind: 'bit', address: folio, ...(nr !== undefined ? { bit: Number(nr & 0xffffffffn) } : {}), how: `its wait_page_queue on the stack waits for bit ${nr !== undefined ? Number(nr & 0xffffffffn) : '?'} of folio 0x${folio.toString(16)} (a page lock or writeback)` });
          continue;
        }
      }
      out.push({ kind: 'waitqueue', address: head - L.wqHeadHead, how: `its wait_queue_entry (${fname}) on the stack is on this wait queue's list` });
      continue;
    }
    // A swait_queue (completions): task == task, task_list on the completion's list.
    const sq = at;
    const node = sq + L.swqTaskList;
    const head = headOf(k, node, isSwaitEntry);
    if (head === undefined) continue;
    const completion = head - L.swqHeadTaskList - L.completionWait;
    const barrier = completion - L.barrierDone;
    const bfunc = word(barrier + L.barrierWork + L.workFunc);
    if (L.barrierFunc !== undefined && bfunc === L.barrierFunc) {
      out.push({ kind: 'flush', address: barrier, barrierWork: barrier + L.barrierWork, how: 'it waits on the completion of a wq_barrier (flush_work): the barrier runs after the work being flushed' });
    } else {
      out.push({ kind: 'completion', address: completion, how: "its swait_queue on the stack is on this completion's wait list" });
    }
  }
  return out;
}

export interface WorkerInfo {
  task: TaskInfo;
  worker: bigint;
  /** The work item it runs now, and its function. */
  currentWork?: bigint;
  currentFunc?: bigint;
  /** Name of the workqueue of the work it runs. */
  wq?: string;
  /** Works queued on this worker to run next (a flush barrier lands here when the flushed work is running). */
  scheduled: bigint[];
}

const PF_WQ_WORKER = 0x20;

/** Every kworker with the work it runs and the works scheduled behind it (task->worker_private -> kthread->data). */
export function workers(k: Kernel, tasks: readonly TaskInfo[]): WorkerInfo[] {
  const out: WorkerInfo[] = [];
  const has = attempt(() => k.type('struct task_struct').hasMember('worker_private'));
  if (!has.ok || !has.value) return out;
  const entryOff = attempt(() => BigInt(k.type('struct work_struct').offsetOf('entry')));
  for (const t of tasks) {
    if (!(t.flags & PF_WQ_WORKER)) continue;
    const r = attempt(() => {
      const kt = k.value(t.address, 'struct task_struct').member('worker_private').pointer();
      if (kt === 0n) return undefined;
      const w = k.value(kt, 'struct kthread').member('data').pointer();
      if (w === 0n) return undefined;
      const wv = k.value(w, 'struct worker');
      const currentWork = wv.member('current_work').pointer();
      const currentFunc = wv.member('current_func').pointer();
      const pwq = wv.member('current_pwq').pointer();
      let wq: string | undefined;
      if (pwq !== 0n) {
        const n = attempt(() => k.value(pwq, 'struct pool_workqueue').member('wq').deref().member('name').string(32));
        if (n.ok) wq = n.value;
      }
      const scheduled: bigint[] = [];
      const head = wv.member('scheduled').address;
      let p = k.read(head, 8, 'scheduled.next').readBigUInt64LE(0);
      for (let n = 0; p !== head && n < 256 && entryOff.ok; n++) {
        scheduled.push(p - entryOff.value);
        p = k.read(p, 8, 'work.entry.next').readBigUInt64LE(0);
      }
      return { task: t, worker: w, ...(currentWork ? { currentWork } : {}), ...(currentFunc ? { currentFunc } : {}), ...(wq ? { wq } : {}), scheduled };
    });
    if (r.ok && r.value) out.push(r.value);
  }
  return out;
}

/**
 * Whole-workqueue flushes (flush_workqueue): each flusher sleeps on the completion inside its `struct wq_flusher`,
 * which is the workqueue's first_flusher or queued on its flusher lists. Maps those completions to the workqueue name.
 */
export function workqueueFlushers(k: Kernel, addressOf: (name: string) => bigint | undefined): Map<bigint, string> {
  const out = new Map<bigint, string>();
  const head = addressOf('workqueues');
  if (head === undefined) return out;
  attempt(() => {
    const u64 = (a: bigint) => k.read(a, 8, 'list link').readBigUInt64LE(0);
    const wqT = k.type('struct workqueue_struct');
    const listOff = BigInt(wqT.offsetOf('list'));
    const doneOff = BigInt(k.type('struct wq_flusher').offsetOf('done'));
    const fListOff = BigInt(k.type('struct wq_flusher').offsetOf('list'));
    let p = u64(head);
    for (let n = 0; p !== head && n < 4096; n++) {
      const wq = p - listOff;
      const v = k.value(wq, wqT);
      const name = v.member('name').string(32);
      const first = v.member('first_flusher').pointer();
      if (first) out.set(first + doneOff, name);
      for (const lst of ['flusher_queue', 'flusher_overflow']) {
        const h = v.member(lst).address;
        let q = u64(h);
        for (let m = 0; q !== h && m < 256; m++) {
          out.set(q - fListOff + doneOff, name);
          q = u64(q);
        }
      }
      p = u64(p);
    }
  });
  return out;
}
