/**
 * The verdict engine: detectors are pure (their order does not matter, they never write into the CaseFile) and the
 * roots come from the wait-for graph (cycles, ends of chains), on real fixture evidence and on small hand-made cases.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DETECTORS, diagnose, type Diagnosis } from '../../src/diagnose/index.ts';
import type { CaseFile } from '../../src/model/casefile.ts';
import { WaitForGraph } from '../../src/model/graph.ts';
import { collectEvidence } from '../../src/sources/collect.ts';
import { fixturesRoot } from '../helpers.ts';
import { caseOf, ev, frames, regs } from './build.ts';

/** What a diagnosis says, without object identity: kinds, roles, summaries, causes. */
function said(d: Diagnosis): string[] {
  return d.findings.map((f) => `${f.role} ${f.id} ${f.kind}: ${f.summary} <- ${(f.causedBy ?? []).join(',')}`).sort();
}

/** A deterministic shuffle (so a failure can be replayed). */
function shuffled(n: number, seed: number): number[] {
  const a = [...Array(n).keys()];
  let s = seed;
  for (let i = n - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

const FIXTURE_EVIDENCE = [
  'deb12-6.1.0-56/softlockup-ipi/console.log',
  'deb12-6.1.0-56/oops-irq-deadlock/console.log',
  'deb12-6.1.0-56/hung-uffd/console.log',
  'deb12-6.1.0-56-kdump/softlockup-ipi',
  'deb12-6.1.0-56/hardlockup-seqcount',
].map((p) => join(fixturesRoot, p));

describe('detectors are pure', () => {
  for (const path of FIXTURE_EVIDENCE) {
    it(`any detector order gives the same verdict: ${path.slice(fixturesRoot.length + 1)}`, { skip: existsSync(path) ? false : 'no fixtures' }, async () => {
      const fresh = async (): Promise<CaseFile> => collectEvidence([path]);
      const base = said(diagnose(await fresh()));
      assert.ok(base.length > 0);
      for (const seed of [1, 7, 42]) {
        const c = await fresh();
        const before = JSON.stringify({ tasks: c.tasks.map((t) => [t.pid, t.waitsOn?.length ?? 0]), cpus: c.cpus.length, events: c.events.length });
        const d = diagnose(c, DETECTORS, shuffled(DETECTORS.length, seed));
        assert.deepEqual(said(d), base, `seed ${seed}`);
        // The CaseFile keeps its CPUs, tasks and events: detectors only add findings, edges and named objects.
        assert.equal(JSON.stringify({ tasks: c.tasks.map((t) => [t.pid, t.waitsOn?.length ?? 0]), cpus: c.cpus.length, events: c.events.length }), before);
        c.kernel?.close();
      }
    });
  }
});

describe('roots come from the graph', () => {
  it('a cycle of three mutex owners (from hung-task hints) is one deadlock naming all three', () => {
    const hung = (comm: string, pid: number, owner: { comm: string; pid: number }, fn: string) =>
      ev('hung-task', `INFO: task ${comm}:${pid} blocked for more than 120 seconds.`, {
        task: { comm, pid },
        details: { seconds: 120, blockers: [{ kind: 'mutex', owner, line: 1 }] },
        trace: frames(`__schedule <- schedule <- schedule_preempt_disabled <- __mutex_lock.constprop.0 <- ${fn} <- ksys_ioctl`),
      });
    const d = diagnose(caseOf([hung('p', 1, { comm: 'q', pid: 2 }, 'f1'), hung('q', 2, { comm: 'r', pid: 3 }, 'f2'), hung('r', 3, { comm: 'p', pid: 1 }, 'f3')]));
    assert.equal(d.verdict.roots.length, 1);
    const root = d.findings[0];
    assert.equal(root.kind, 'mutex-deadlock');
    for (const t of ['p:1', 'q:2', 'r:3']) assert.match(root.summary, new RegExp(t));
    assert.ok(d.findings.slice(1).every((f) => f.role === 'symptom' && f.causedBy?.includes(root.id)));
    assert.equal(d.verdict.status, 'problem');
  });

  it('a chain into a CPU that waits on nothing ends at that CPU: a hog, named with its function', () => {
    const d = diagnose(
      caseOf([
        ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [mapper:127]', {
          cpu: 0,
          task: { comm: 'mapper', pid: 127 },
          registers: [regs('smp_call_function_many_cond', { eflags: '00000202' })],
          trace: frames('on_each_cpu_cond_mask <- flush_tlb_mm_range <- tlb_finish_mmu'),
        }),
        ev('csd-lock', 'csd: Detected non-responsive CSD lock (#1) on CPU#0, waiting 5000000001 ns for CPU#02 do_flush_tlb_all+0x0/0x30(0x0).', { cpu: 0, details: { csdTargetCpu: 2, csdFunction: 'do_flush_tlb_all' } }),
        ev('nmi-backtrace', 'NMI backtrace for cpu 2', { cpu: 2, task: { comm: 'busy', pid: 300 }, registers: [regs('crunch_numbers', { eflags: '00000246' })], trace: frames('crunch_numbers [crunch] <- crunch_ioctl [crunch] <- __x64_sys_ioctl') }),
      ]),
    );
    const root = d.findings[0];
    assert.equal(root.role, 'root');
    assert.equal(root.kind, 'cpu-hog');
    assert.equal(root.extra?.cpu, 2);
    assert.match(root.summary, /CPU 2 \(busy:300\).*crunch_numbers/);
    assert.ok(d.findings.find((f) => f.kind === 'ipi-wait')?.causedBy?.includes(root.id));
  });

  it('an RCU waiter and the stall report both lead to the CPU that holds the grace period', () => {
    const d = diagnose(
      caseOf([
        ev('rcu-stall', 'rcu: INFO: rcu_sched detected stalls on CPUs/tasks:', { cpu: 1, details: { stalledCpus: [3] } }),
        ev('nmi-backtrace', 'NMI backtrace for cpu 3', { cpu: 3, registers: [regs('native_queued_spin_lock_slowpath', { eflags: '00000046', rdi: 'ffff888004001000' })], trace: frames('_raw_spin_lock_irqsave <- mydrv_irq_poll [mydrv] <- irq_thread_fn') }),
        ev('hung-task', 'INFO: task modprobe:900 blocked for more than 120 seconds.', { task: { comm: 'modprobe', pid: 900 }, trace: frames('__schedule <- schedule <- schedule_timeout <- __wait_for_common <- __wait_rcu_gp <- synchronize_rcu <- mydrv_remove [mydrv]') }),
      ]),
    );
    const root = d.findings[0];
    assert.equal(root.kind, 'irqs-off-spin');
    assert.equal(root.extra?.cpu, 3);
    for (const k of ['rcu-stall', 'hung-task-cluster']) assert.ok(d.findings.find((f) => f.kind === k)?.causedBy?.includes(root.id), k);
    assert.deepEqual(d.graph.chainFrom('task:900'), ['task:900', 'rcu:gp', 'cpu:3', 'lock:ffff888004001000']);
  });

  it('strongly connected components and cycles', () => {
    const g = new WaitForGraph();
    for (const [a, b] of [['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd'], ['e', 'e']]) {
      g.node(a, 'task', a);
      g.node(b, 'task', b);
      g.edge(a, b, 'waits-for', '');
    }
    const comps = g.sccs().map((c) => [...c].sort().join('')).sort();
    assert.deepEqual(comps, ['abc', 'd', 'e']);
    assert.deepEqual(g.cycles().map((c) => c.join('')).sort(), ['abc', 'e']);
    assert.deepEqual(g.pathTo('a', new Set(['d']))?.map((e) => e.to), ['b', 'c', 'd']);
  });
});
