/**
 * Tasks blocked in handle_userfault on a userfaultfd that nobody serves (cases/hung-userfaultfd.md):
 * the uffd has queued faults, the waiters stay blocked, no holder reads it and nothing moves.
 * Facts used (any source): uffd-ctx objects (observed pending/total, holders with start times,
 * a series over a window), tasks' `waitsOn` links (fault / reader), task states, stacks and start times.
 */
import { taskOf, type CaseFile, type KernelObject, type TaskState } from '../model/casefile.ts';
import { isUnknown } from '../model/queries.ts';
import type { Finding } from '../model/finding.ts';
import type { Fact } from '../model/provenance.ts';
import { finding, taskNode, type DetectorContext } from './context.ts';

function label(t: { comm?: string; pid: number }): string {
  return `${t.comm ?? '?'}:${t.pid}`;
}

function changed(xs: readonly number[] | undefined): boolean {
  return !!xs && xs.some((x) => x !== xs[0]);
}

function inHandleUserfault(t: TaskState): boolean {
  return !!t.stack?.some((f) => f.function === 'handle_userfault');
}

function uffdLabel(o: KernelObject): string {
  return o.observed.inode !== undefined ? `userfaultfd (inode ${o.observed.inode})` : o.address ? `userfaultfd_ctx ${o.address}` : `userfaultfd ${o.id}`;
}

function fmtAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)}s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)}min`;
  return `${(seconds / 3600).toFixed(1)}h`;
}

/**
 * A vmcore answers the same questions as /proc: its userfaultfd contexts (from every process's open
 * files and from the waiters' own stacks) become uffd-ctx objects, and their queues' waiters and
 * readers become `waitsOn` links, so one detector serves both sources. Returns a copy of the CaseFile
 * with them added; the CaseFile itself is not changed.
 */
export function withUffdFromDump(orig: CaseFile): { c: CaseFile; added: KernelObject[] } {
  const c: CaseFile = { ...orig, objects: [...orig.objects], tasks: orig.tasks.map((t) => ({ ...t, ...(t.waitsOn ? { waitsOn: [...t.waitsOn] } : {}), facts: [...t.facts] })) };
  const added: KernelObject[] = [];
  const q = c.kernel;
  if (!q) return { c, added };
  const ctxs = q.uffdContexts();
  if (isUnknown(ctxs)) return { c, added };
  for (const u of ctxs) {
    const id = `uffd:${u.address.toString(16)}`;
    if (c.objects.some((o) => o.id === id)) continue;
    const from = { kind: 'dump' as const, source: q.source, address: u.address, what: 'struct userfaultfd_ctx' };
    const observed: KernelObject['observed'] = {
      pending: u.faultPending.length,
      total: u.faultPending.length + u.faultRead.length,
      readers: u.readers.length,
    };
    if (!isUnknown(u.refcount)) observed.refcount = u.refcount;
    if (!isUnknown(u.released)) observed.released = u.released;
    if (u.owner) observed.owner = u.owner.pid;
    const files = new Set(u.holders.map((h) => `${h.pid}`)).size;
    const facts: Fact[] = [
      { text: `userfaultfd_ctx 0x${u.address.toString(16)}: ${u.faultPending.length} waiter(s) on fault_pending_wqh (${u.faultPending.map(label).join(', ') || 'none'}), ${u.faultRead.length} on fault_wqh, ${u.readers.length} reader(s) on fd_wqh`, from },
      { text: `refcount ${isUnknown(u.refcount) ? `unknown (${u.refcount.unknown})` : u.refcount}, released ${isUnknown(u.released) ? 'unknown' : u.released}${u.owner ? `, mm of ${label(u.owner)}` : ''}`, from },
      { text: `open in: ${u.holders.map((h) => `${label(h)} fd ${h.fd}`).join(', ') || 'no process'}`, from: { ...from, what: 'every process\'s file table (f_op == userfaultfd_fops)' } },
    ];
    if (!isUnknown(u.refcount)) {
      const waiters = u.faultPending.length + u.faultRead.length;
      facts.push({ text: `references: ${waiters} from waiting faults + ${files} from open file(s) = ${waiters + files} of ${u.refcount}${waiters + files >= u.refcount ? ': nothing else holds it' : ''}`, from });
    }
    for (const n of u.notes) facts.push({ text: n, from });
    added.push({
      id,
      kind: 'uffd-ctx',
      address: u.address.toString(16),
      observed,
      facts,
      holders: u.holders.map((h) => ({ pid: h.pid, comm: h.comm, fd: h.fd, ...(h.startTime !== undefined ? { startTime: h.startTime } : {}), from: { ...from, what: `fd ${h.fd} of ${label(h)}` } })),
    });
    const link = (t: (typeof u.faultPending)[number], as: 'fault' | 'reader', how: string): void => {
      const task = taskOf(c, t.pid, t.comm);
      task.tgid ??= t.tgid;
      if (!task.state && t.state) task.state = t.state as TaskState['state'];
      task.startTime ??= t.startTime;
      (task.waitsOn ??= []).push({ object: id, as, how, from });
      if (!task.facts.length) task.facts.push({ text: `${label(t)} in state ${t.state ?? '?'}`, from: { kind: 'dump', source: q.source, address: t.address, what: 'task_struct' } });
    };
    for (const t of u.faultPending) link(t, 'fault', 'on its fault_pending_wqh (fault queued, never read)');
    for (const t of u.faultRead) link(t, 'fault', 'on its fault_wqh (fault read, never resolved)');
    for (const t of u.readers) link(t, 'reader', 'waiting on its fd_wqh (read/poll)');
    c.objects.push(added[added.length - 1]);
  }
  return { c, added };
}

export function uffdNoReaderDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const { c, added } = withUffdFromDump(ctx.c);
  for (const o of added) ctx.object(o);
  for (const o of c.objects) {
    if (o.kind !== 'uffd-ctx') continue;
    const waiters = c.tasks.filter((t) => t.waitsOn?.some((w) => w.object === o.id && w.as === 'fault'));
    const readers = c.tasks.filter((t) => t.waitsOn?.some((w) => w.object === o.id && w.as === 'reader'));
    const stuck = waiters.filter((t) => t.state === 'D' || (t.state === 'S' && inHandleUserfault(t)));
    const pending = Number(o.observed.pending ?? 0);
    const total = Number(o.observed.total ?? pending);
    const readerCount = Math.max(readers.length, Number(o.observed.readers ?? 0));
    if (!stuck.length && pending === 0) continue;
    if (readerCount > 0) continue;
    // Progress: queued faults come and go, or a waiter stopped waiting during the window.
    const moving = changed(o.series?.pending) || changed(o.series?.total) || waiters.some((t) => t.activity?.states?.some((s) => s !== 'D') && t.state !== 'D');
    if (moving) continue;

    const holders = o.holders ?? [];
    // Facts read from a vmcore (one instant) rather than sampled from /proc (a window).
    const fromDump = !o.series?.pending?.length && o.facts.some((f) => f.from.kind === 'dump');
    const ownerPid = typeof o.observed.owner === 'number' ? o.observed.owner : undefined;
    const waiterProcs = new Set(stuck.map((t) => t.tgid ?? t.pid));
    const others = holders.filter((h) => h.pid !== ownerPid && !waiterProcs.has(h.pid));
    const ownerTask = c.tasks.find((t) => t.pid === (ownerPid ?? [...waiterProcs][0]));
    const faultStart = Math.min(...stuck.map((t) => t.startTime ?? Infinity), ownerTask?.startTime ?? Infinity);
    const name = uffdLabel(o);
    const samples = o.series?.pending?.length ?? 0;

    const evidence: Fact[] = [...o.facts.slice(0, 6)];
    for (const t of stuck.slice(0, 6)) {
      const w = t.waitsOn!.find((x) => x.object === o.id)!;
      evidence.push({
        text: `${label(t)} in ${t.state ?? '?'} state in handle_userfault${t.blockedSeconds ? ` for at least ${t.blockedSeconds}s` : ''}${w.how ? ` (waits on this uffd: ${w.how})` : ''}`,
        from: w.from ?? t.stackFrom ?? t.facts[0]?.from ?? { kind: 'live', path: `/proc/${t.pid}/stack` },
      });
    }

    const steps: string[] = [];
    steps.push(
      stuck.length
        ? `${stuck.length} task(s) (${stuck.slice(0, 5).map(label).join(', ')}) sleep in handle_userfault: each queued a page fault on ${name} and waits for a reader to resolve it (UFFDIO_COPY/ZEROPAGE/CONTINUE).`
        : `${name} has ${pending} queued fault(s).`,
    );
    steps.push(
      `It has ${pending} fault(s) queued and not read, ${total} not resolved${samples > 1 ? `, unchanged over ${samples} samples` : ''}${total > pending ? `; ${total - pending} were read and never resolved (a reader took them and stopped)` : ''}.`,
    );
    steps.push(
      `No thread of any holder is blocked reading or polling it${holders.length ? ` (holders: ${holders.map((h) => `${label(h)} fd ${h.fd ?? '?'}`).join(', ')})` : ''}${fromDump ? ' (no waiter on its fd_wqh)' : ', and nothing changed across the window'}: nobody serves it.`,
    );
    let why: string;
    if (!holders.length) {
      why = 'no process holds it any more';
    } else if (!others.length) {
      why = `the only holder is ${ownerTask ? label(ownerTask) : 'the faulting process'} itself: the process that served it (it received the uffd, e.g. over a Unix socket) has exited or closed it`;
      steps.push(`Only the faulting side still holds ${name}; the server's reference is gone, so the faults will never be read.`);
    } else {
      why = `${others.map(label).join(', ')} hold${others.length === 1 ? 's' : ''} it but do${others.length === 1 ? 'es' : ''} not read it`;
      steps.push(`${others.map(label).join(', ')} hold it but no thread of theirs reads it: alive but not serving (stuck elsewhere, or lost track of it).`);
      const late = others.filter((h) => h.startTime !== undefined && Number.isFinite(faultStart) && h.startTime > faultStart);
      if (late.length) steps.push(`${late.map(label).join(', ')} started ${fmtAge(late[0].startTime! - faultStart)} after the faulting process: a server restarted without draining its sandboxes?`);
    }
    if (ownerTask && ownerTask.ppid === 1) steps.push(`${label(ownerTask)} has been re-parented to init: the process that launched it (often the memory server) is gone.`);
    if (Number.isFinite(faultStart)) {
      const laterHolderless = c.tasks.filter((t) => t.startTime !== undefined && t.startTime > faultStart && t.pid === (t.tgid ?? t.pid) && t.comm === ownerTask?.comm && !waiterProcs.has(t.pid));
      if (laterHolderless.length) steps.push(`Processes named like it started later (${laterHolderless.slice(0, 3).map(label).join(', ')}): compare with the server's start time.`);
    }
    steps.push('Faults on a userfaultfd nobody reads wait forever (killable only): drain before restarting a memory server; kill the faulting process or have a new server take the uffd and resolve the faults.');

    const holderPids = holders.map((h) => h.pid);
    const summary = `${stuck.length ? `${stuck.length} task(s) blocked in handle_userfault on` : 'Queued faults on'} ${name} with ${pending} pending fault(s) and no reader: ${why}`;
    const f = finding(ctx, 'uffd-no-reader', 'root', summary, {
      confidence: stuck.length ? (holders.length && !others.length ? 0.9 : 0.8) : 0.6,
      subjects: [{ kind: 'object', id: o.id }, ...stuck.map((t) => ({ kind: 'task' as const, pid: t.pid, comm: t.comm }))],
      evidence,
      steps,
      nodes: [`uffd:${o.id.replace(/^uffd:/, '')}`],
      confirm: fromDump
        ? [
            `crash> struct userfaultfd_ctx ${o.address ?? '<ctx>'}   # refcount, released, mm`,
            ...(o.address ? [`crash> waitq userfaultfd_ctx.fault_pending_wqh ${o.address}   # the queued faults' tasks`, `crash> waitq userfaultfd_ctx.fd_wqh ${o.address}   # readers (none)`] : []),
            ...stuck.slice(0, 3).map((t) => `crash> bt ${t.pid}`),
            ...holders.map((h) => `crash> files ${h.pid}   # fd ${h.fd ?? '?'} is the uffd`),
            'crash> ps -l   # start order: a server that restarted after its clients',
          ]
        : [
        ...holders.map((h) => `cat /proc/${h.pid}/fdinfo/${h.fd ?? '<fd>'}   # pending / total`),
        "for p in /proc/[0-9]*; do ls -l $p/fd 2>/dev/null | grep -q userfaultfd && echo ${p#/proc/}; done   # every holder",
        ...stuck.slice(0, 3).map((t) => `cat /proc/${t.tgid ?? t.pid}/task/${t.pid}/stack`),
        `ps -o pid,ppid,lstart,cmd -p ${[...new Set([...holderPids, ...waiterProcs])].join(',')}`,
        'crash> struct userfaultfd_ctx <ctx>   # fault_pending_wqh, refcount, mm (from the faulting frame: vmf->vma->vm_userfaultfd_ctx.ctx)',
          ],
      extra: {
        pending,
        total,
        holders: holderPids,
        readers: readerCount,
        waiters: stuck.map((t) => t.pid),
        ...(o.observed.inode !== undefined ? { inode: Number(o.observed.inode) } : {}),
        ...(ownerPid !== undefined ? { owner: ownerPid } : {}),
      },
    });
    const node = `uffd:${o.id.replace(/^uffd:/, '')}`;
    ctx.node(node, 'uffd-ctx', `${name}: ${pending} pending, no reader`, f.id);
    for (const t of stuck) {
      ctx.node(taskNode(t.pid), 'task', label(t), f.id);
      ctx.edge(taskNode(t.pid), node, 'waits-for', f.id, 'page fault');
    }
    out.push(f);
  }
  return out;
}
