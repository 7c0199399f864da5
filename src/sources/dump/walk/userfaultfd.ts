/**
 * userfaultfd contexts: every process's open files whose f_op is userfaultfd_fops (the holders), the contexts the
 * waiters' own stacks point at (a userfaultfd_wait_queue with userfaultfd_wake_function), and each context's queues:
 * faults pending (never read), faults read (never resolved), readers polling its fd, events. Walks are bounded.
 */
import type { Maybe, SymbolRef, UffdContextState } from '../../../model/queries.ts';
import { attempt } from '../kernel/errors.ts';
import { offsetOf, readU64, unknownOf, type WalkContext } from './context.ts';
import type { TaskInfo } from './sched.ts';

function symbolName(s: SymbolRef | undefined): string {
  return s ? s.name : 'unknown func';
}

/** Every userfaultfd context reachable from tasks' files and from tasks waiting in handle_userfault. */
export function uffdContexts(w: WalkContext, ts: readonly TaskInfo[]): Maybe<UffdContextState[]> {
  const off = (type: string, path: string) => offsetOf(w.k, type, path);
  const u64 = (a: bigint, what: string) => readU64(w.k, a, what);
  const fops = w.addressOf('userfaultfd_fops');
  if (fops === undefined) return { unknown: 'this kernel has no userfaultfd_fops symbol (CONFIG_USERFAULTFD off?)' };
  const r = attempt(() => {
    const byAddr = new Map<bigint, TaskInfo>(ts.map((t) => [t.address, t]));
    const ctxs = new Map<bigint, UffdContextState>();
    const ctxOf = (a: bigint): UffdContextState => {
      let c = ctxs.get(a);
      if (!c) {
        c = { address: a, refcount: { unknown: 'not read' }, released: { unknown: 'not read' }, faultPending: [], faultRead: [], readers: [], events: [], holders: [], notes: [] };
        ctxs.set(a, c);
      }
      return c;
    };
    // Holders: every process's open files whose f_op is userfaultfd_fops (private_data = the ctx).
    const fOp = off('struct file', 'f_op');
    const fPriv = off('struct file', 'private_data');
    const seenFiles = new Set<bigint>();
    for (const t of ts) {
      if (t.pid !== t.tgid || t.kthread) continue;
      const files = attempt(() => w.k.value(t.address, 'struct task_struct').member('files').pointer());
      if (!files.ok || files.value === 0n || seenFiles.has(files.value)) continue;
      seenFiles.add(files.value);
      const fdt = attempt(() => {
        const fd = w.k.value(files.value, 'struct files_struct').member('fdt').deref();
        return { max: fd.member('max_fds').u32(), arr: fd.member('fd').pointer() };
      });
      if (!fdt.ok || fdt.value.arr === 0n) continue;
      const n = Math.min(fdt.value.max, 65536);
      const arr = attempt(() => w.k.read(fdt.value.arr, n * 8, `fd array of ${t.comm}:${t.pid}`));
      if (!arr.ok) continue;
      for (let fd = 0; fd < n; fd++) {
        const f = arr.value.readBigUInt64LE(fd * 8);
        if (f === 0n) continue;
        const op = attempt(() => u64(f + fOp, 'file->f_op'));
        if (!op.ok || op.value !== fops) continue;
        const priv = attempt(() => u64(f + fPriv, 'file->private_data'));
        if (!priv.ok || priv.value === 0n) continue;
        ctxOf(priv.value).holders.push({ ...w.ref(t), fd });
      }
    }
    // Waiters found on their own stacks: a userfaultfd_wait_queue whose wq.func is userfaultfd_wake_function.
    const wake = w.addressOf('userfaultfd_wake_function');
    if (wake !== undefined) {
      const wqOff = off('struct userfaultfd_wait_queue', 'wq');
      const ctxOff = off('struct userfaultfd_wait_queue', 'ctx');
      const funcOff = off('wait_queue_entry_t', 'func');
      const privOff = off('wait_queue_entry_t', 'private');
      for (const t of ts) {
        if (t.state.letter !== 'D' && t.state.letter !== 'S') continue;
        const st = w.stackWords(t);
        if (!st) continue;
        for (let i = 0; i < st.words.length; i++) {
          if (st.words[i] !== wake) continue;
          const entry = st.base + BigInt(i * 8) - funcOff;
          const pi = Number((entry + privOff - st.base) / 8n);
          if (pi < 0 || pi >= st.words.length || st.words[pi] !== t.address) continue;
          const ci = Number((entry - wqOff + ctxOff - st.base) / 8n);
          if (ci < 0 || ci >= st.words.length || st.words[ci] === 0n) continue;
          ctxOf(st.words[ci]);
        }
      }
    }
    const queues: Array<['fault_pending_wqh' | 'fault_wqh' | 'fd_wqh' | 'event_wqh', 'faultPending' | 'faultRead' | 'readers' | 'events']> = [
      ['fault_pending_wqh', 'faultPending'],
      ['fault_wqh', 'faultRead'],
      ['fd_wqh', 'readers'],
      ['event_wqh', 'events'],
    ];
    const entryOff = off('wait_queue_entry_t', 'entry');
    const privOff = off('wait_queue_entry_t', 'private');
    const funcOff = off('wait_queue_entry_t', 'func');
    const pollTask = attempt(() => off('struct poll_wqueues', 'polling_task'));
    for (const c of ctxs.values()) {
      const v = w.k.value(c.address, 'struct userfaultfd_ctx');
      const rc = attempt(() => v.member('refcount').member('refs').member('counter').s32());
      c.refcount = rc.ok ? rc.value : unknownOf(rc);
      const rel = attempt(() => v.member('released').bool());
      c.released = rel.ok ? rel.value : unknownOf(rel);
      const mm = attempt(() => v.member('mm').pointer());
      if (mm.ok && mm.value !== 0n) {
        const owner = ts.find((t) => t.mm === mm.value && t.pid === t.tgid) ?? ts.find((t) => t.mm === mm.value);
        if (owner) c.owner = w.ref(owner);
        else c.notes.push(`no task has its mm (0x${mm.value.toString(16)}) any more`);
      }
      for (const [q, key] of queues) {
        const head = attempt(() => v.member(q).member('head').address);
        if (!head.ok) continue;
        let p = attempt(() => u64(head.value, `${q}.head.next`));
        const seen = new Set<bigint>();
        while (p.ok && p.value !== head.value && !seen.has(p.value) && seen.size < 4096) {
          seen.add(p.value);
          const entry = p.value - entryOff;
          const priv = attempt(() => u64(entry + privOff, 'wait_queue_entry.private'));
          let task = priv.ok ? byAddr.get(priv.value) : undefined;
          if (!task && priv.ok && priv.value !== 0n && pollTask.ok) {
            const pt = attempt(() => u64(priv.value + pollTask.value, 'poll_wqueues.polling_task'));
            if (pt.ok) task = byAddr.get(pt.value);
          }
          if (task) c[key].push(w.ref(task));
          else {
            const fn = attempt(() => u64(entry + funcOff, 'wait_queue_entry.func'));
            c.notes.push(`${q}: a waiter that is not a task (${fn.ok ? symbolName(w.symbolAt(fn.value)) : 'unknown func'}, entry 0x${entry.toString(16)})`);
          }
          p = attempt(() => u64(p.ok ? p.value : 0n, `${q} entry next`));
        }
        if (!p.ok) c.notes.push(`${q}: the list could not be walked to its end (${p.unknown})`);
        else if (seen.size >= 4096) c.notes.push(`${q}: more than 4096 entries (corrupted list?), walk stopped`);
      }
    }
    return [...ctxs.values()];
  });
  return r.ok ? r.value : unknownOf(r);
}
