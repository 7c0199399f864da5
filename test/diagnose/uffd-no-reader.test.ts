/**
 * uffd-no-reader on hand-made CaseFiles: the facts a live host gives (series over a window) and
 * the facts a vmcore would give (one look, waiters linked through vmf->vma->ctx, holders with
 * start times), plus the cases that are not the pattern.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { diagnose } from '../../src/diagnose/index.ts';
import { emptyCaseFile, type CaseFile, type KernelObject, type TaskState } from '../../src/model/casefile.ts';
import type { Frame } from '../../src/model/trace.ts';

const UFFD_STACK: Frame[] = ['handle_userfault', 'hugetlb_handle_userfault', 'hugetlb_fault', 'handle_mm_fault', '__get_user_pages', 'kvm_async_pf_execute'].map((f) => ({
  function: f,
  reliable: true,
  stack: 'task' as const,
}));

function waiter(pid: number, tgid: number, object: string, extra: Partial<TaskState> = {}): TaskState {
  return {
    pid,
    tgid,
    comm: `kworker/u8:${pid}`,
    state: 'D',
    stack: UFFD_STACK,
    stackFrom: { kind: 'dump', source: 'vmcore', what: `task ${pid} stack` },
    startTime: 100,
    blockedSeconds: 600,
    waitsOn: [{ object, as: 'fault', from: { kind: 'dump', source: 'vmcore', what: 'vmf->vma->vm_userfaultfd_ctx.ctx' } }],
    events: [],
    facts: [{ text: `task ${pid} in D`, from: { kind: 'dump', source: 'vmcore', what: 'task_struct' } }],
    ...extra,
  };
}

function ctxObject(parts: Partial<KernelObject> = {}): KernelObject {
  return {
    id: 'uffd:ffff888012345000',
    kind: 'uffd-ctx',
    address: 'ffff888012345000',
    observed: { pending: 5, total: 5, refcount: 6 },
    facts: [{ text: 'fault_pending_wqh has 5 waiters; refcount 6', from: { kind: 'dump', source: 'vmcore', address: 0xffff888012345000n, what: 'userfaultfd_ctx' } }],
    holders: [{ pid: 300, comm: 'firecracker', startTime: 90 }],
    ...parts,
  };
}

/** The case write-up: 5 kworkers wait, only Firecracker holds the ctx, the orchestrator restarted later. */
function firecrackerCase(): CaseFile {
  const c = emptyCaseFile();
  c.objects.push(ctxObject({ observed: { pending: 5, total: 5, owner: 300 } }));
  for (let i = 0; i < 5; i++) c.tasks.push(waiter(1000 + i, 1000 + i, 'uffd:ffff888012345000'));
  c.tasks.push({ pid: 300, tgid: 300, ppid: 1, comm: 'firecracker', state: 'S', startTime: 90, events: [], facts: [] });
  c.tasks.push({ pid: 500, tgid: 500, ppid: 1, comm: 'orchestrator', state: 'S', startTime: 5000, events: [], facts: [] });
  return c;
}

test('a dump-derived case: waiters, one holder (the owner), no reader -> root, with the hung-task cluster as its symptom', () => {
  const d = diagnose(firecrackerCase());
  const f = d.findings.find((x) => x.kind === 'uffd-no-reader');
  assert.ok(f);
  assert.equal(f.role, 'root');
  assert.ok(f.confidence >= 0.85);
  assert.deepEqual(f.extra?.waiters, [1000, 1001, 1002, 1003, 1004]);
  assert.deepEqual(f.extra?.holders, [300]);
  assert.equal(f.extra?.pending, 5);
  assert.match(f.summary, /5 task\(s\) blocked in handle_userfault on userfaultfd_ctx ffff888012345000 with 5 pending/);
  assert.match(f.summary, /only holder is firecracker:300/);
  assert.ok(f.steps.some((s) => /re-parented to init/.test(s)));
  assert.ok(f.evidence.some((e) => e.from.kind === 'dump'));
  const cluster = d.findings.find((x) => x.kind === 'hung-task-cluster');
  assert.ok(cluster);
  assert.equal(cluster.role, 'symptom');
  assert.ok(cluster.causedBy?.includes(f.id));
  assert.equal(d.verdict.roots[0], f.id);
  assert.ok(d.graph.edges.some((e) => e.from === 'task:1000' && e.to === 'uffd:ffff888012345000'));
  assert.ok(d.graph.roots().some((n) => n.id === 'uffd:ffff888012345000'));
});

test('a holder that is alive but does not read, started after the faulting process: named as a restarted server', () => {
  const c = firecrackerCase();
  c.objects[0].holders!.push({ pid: 500, comm: 'orchestrator', fd: 9, startTime: 5000 });
  const f = diagnose(c).findings.find((x) => x.kind === 'uffd-no-reader')!;
  assert.match(f.summary, /orchestrator:500 holds it but does not read it/);
  assert.ok(f.steps.some((s) => /orchestrator:500 started .* after the faulting process/.test(s)));
});

test('not the pattern: a reader polls it, or the queue moves across the window', () => {
  const withReader = firecrackerCase();
  withReader.tasks.push({ pid: 501, tgid: 500, comm: 'uffd-worker', state: 'S', waitsOn: [{ object: 'uffd:ffff888012345000', as: 'reader' }], events: [], facts: [] });
  assert.equal(diagnose(withReader).findings.find((x) => x.kind === 'uffd-no-reader'), undefined);

  const moving = firecrackerCase();
  moving.objects[0].series = { pending: [5, 3, 6, 2], total: [5, 4, 6, 3] };
  assert.equal(diagnose(moving).findings.find((x) => x.kind === 'uffd-no-reader'), undefined);

  const idle = emptyCaseFile();
  idle.objects.push(ctxObject({ observed: { pending: 0, total: 0 } }));
  assert.equal(diagnose(idle).findings.length, 0);
});

test('a live-style object: series unchanged, faults read but never resolved are called out', () => {
  const c = emptyCaseFile();
  c.objects.push(ctxObject({ id: 'uffd:66185', address: undefined, observed: { inode: 66185, pending: 1, total: 3, holders: 1, readers: 0 }, series: { pending: [1, 1, 1, 1], total: [3, 3, 3, 3] }, holders: [{ pid: 40, comm: 'vmm', fd: 3, startTime: 10 }] }));
  c.tasks.push(waiter(41, 40, 'uffd:66185', { comm: 'vcpu0', blockedSeconds: 4 }));
  const f = diagnose(c).findings.find((x) => x.kind === 'uffd-no-reader')!;
  assert.ok(f);
  assert.match(f.summary, /userfaultfd \(inode 66185\)/);
  assert.ok(f.steps.some((s) => /2 were read and never resolved/.test(s)));
  assert.ok(f.steps.some((s) => /unchanged over 4 samples/.test(s)));
  assert.ok(f.confirm.some((x) => x === 'cat /proc/40/fdinfo/3   # pending / total'));
});
