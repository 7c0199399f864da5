/**
 * `coroner live` against real stuck programs on this machine: a thread blocked on a userfaultfd
 * nobody reads, a thread on `jmp .`, a thread whose SIGSEGV handler returns without fixing the
 * fault. Needs root and gcc (perf for the frozen-instruction verdicts); skipped with the reason
 * otherwise. Every helper is killed and reaped in `finally`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../helpers.ts';
import { HelperBuild, liveSkipReason, waitForState } from './helpers.ts';

interface ReportLike {
  findings: Array<{ id: string; kind: string; role: string; summary: string; causedBy: string[]; extra: Record<string, unknown>; evidence: Array<{ kind: string; source: string; text: string }> }>;
  sources: Array<{ kind: string; notes: string[]; incomplete: boolean }>;
  objects: Array<{ id: string; kind: string; observed: Record<string, unknown> }>;
  verdict: { status: string };
}

/**
 * The window is long enough that a loaded 2-core host (other test files, a QEMU) still gives the helpers CPU time and
 * perf its samples; the assertions are on what was found (kinds, causes, the instruction), not on counts.
 */
function live(args: string[], watch = 2): { code: number | null; report: ReportLike; stderr: string } {
  const r = runCli(['live', '--watch', String(watch), '--format', 'json', '--no-kernel-log', ...args]);
  let report: ReportLike;
  try {
    report = JSON.parse(r.stdout) as ReportLike;
  } catch {
    throw new Error(`no JSON report (exit ${r.code}): ${r.stderr}`);
  }
  return { code: r.code, report, stderr: r.stderr };
}

const skip = liveSkipReason();
const skipPerf = liveSkipReason(true);

describe('coroner live', { skip }, () => {
  let build: HelperBuild;
  before(() => {
    build = new HelperBuild();
  });
  after(() => build?.cleanup());

  test('a thread faulting on a userfaultfd whose server exited: uffd-no-reader at the root of the D task', { timeout: 60_000 }, async () => {
    const h = await build.start(build.compile('uffd-stuck'));
    try {
      assert.ok(await waitForState(h.pid, h.tid, 'D'), 'the faulting thread should sleep in D');
      const { code, report } = live(['--pid', String(h.pid), '--no-perf']);
      assert.equal(code, 1);
      assert.equal(report.verdict.status, 'problem');
      const uffd = report.findings.find((f) => f.kind === 'uffd-no-reader');
      assert.ok(uffd, `uffd-no-reader expected, got ${report.findings.map((f) => f.kind).join(', ')}`);
      assert.equal(uffd.role, 'root');
      assert.deepEqual(uffd.extra.waiters, [h.tid]);
      assert.deepEqual(uffd.extra.holders, [h.pid]);
      assert.equal(uffd.extra.readers, 0);
      assert.ok(Number(uffd.extra.pending) >= 1);
      assert.ok(uffd.evidence.some((e) => e.kind === 'live' && e.source === `/proc/${h.pid}/task/${h.tid}/stack`));
      assert.ok(uffd.evidence.some((e) => e.source === `/proc/${h.pid}/fdinfo/3` || /\/proc\/\d+\/fdinfo\/\d+/.test(e.source)));
      const cluster = report.findings.find((f) => f.kind === 'hung-task-cluster');
      assert.ok(cluster, 'the D task should be clustered as a hung task');
      assert.equal(cluster.role, 'symptom');
      assert.ok(cluster.causedBy.includes(uffd.id));
      const obj = report.objects.find((o) => o.kind === 'uffd-ctx');
      assert.ok(obj && Number(obj.observed.pending) >= 1);
    } finally {
      await h.stop();
    }
  });

  test('a userfaultfd that is served: the server is seen polling it, no uffd-no-reader', { timeout: 60_000 }, async () => {
    const h = await build.start(build.compile('uffd-stuck'), ['serve']);
    try {
      const { report } = live(['--pid', String(h.pid), '--no-perf']);
      assert.equal(report.findings.find((f) => f.kind === 'uffd-no-reader'), undefined, JSON.stringify(report.findings.map((f) => f.summary)));
      const obj = report.objects.find((o) => o.kind === 'uffd-ctx');
      assert.ok(obj, 'the uffd should be in the report');
      assert.equal(obj.observed.holders, 2);
      assert.ok(Number(obj.observed.readers) >= 1, JSON.stringify(obj));
    } finally {
      await h.stop();
    }
  });

  test('busy threads: jmp . is branch-to-self, a SIGSEGV handler that returns is a fault loop in the kernel', { skip: skipPerf, timeout: 60_000 }, async () => {
    const spin = await build.start(build.compile('spin-self'));
    const segv = await build.start(build.compile('segv-loop'));
    try {
      const { code, report } = live(['--pid', `${spin.pid},${segv.pid}`], 5);
      assert.equal(code, 1);
      const frozen = report.findings.filter((f) => f.kind === 'frozen-instruction');
      const bySelf = frozen.find((f) => f.extra.tid === spin.tid);
      assert.ok(bySelf, `frozen-instruction for the jmp . thread expected: ${JSON.stringify(report.findings.map((f) => f.summary))} ${JSON.stringify(report.sources)}`);
      assert.equal(bySelf.extra.cause, 'branch-to-self');
      assert.equal(bySelf.role, 'root');
      assert.equal(bySelf.extra.pid, spin.pid);
      assert.match(String(bySelf.extra.instruction), /^jmp\b/);
      assert.match(String(bySelf.extra.pc), /^[0-9a-f]+$/);
      const loop = frozen.find((f) => f.extra.tid === segv.tid);
      assert.ok(loop, `frozen-instruction for the SIGSEGV loop expected: ${JSON.stringify(report.findings.map((f) => f.summary))}`);
      assert.equal(loop.extra.cause, 'fault-loop-in-kernel');
      assert.match(loop.summary, /handler returns/);
      assert.ok(loop.evidence.some((e) => e.kind === 'live' && e.source === `/proc/${segv.pid}/task/${segv.tid}/stat`));
    } finally {
      await spin.stop();
      await segv.stop();
    }
  });

  test('without perf: the jmp . thread is named as not checked, the fault loop is still seen from its kernel entries', { timeout: 60_000 }, async () => {
    const spin = await build.start(build.compile('spin-self'));
    const segv = await build.start(build.compile('segv-loop'));
    try {
      const { report } = live(['--pid', `${spin.pid},${segv.pid}`, '--no-perf']);
      const liveSource = report.sources.find((s) => s.kind === 'live')!;
      assert.ok(liveSource.incomplete);
      assert.ok(liveSource.notes.some((n) => n.includes('frozen-instruction could not be checked') && n.includes(String(spin.tid))), liveSource.notes.join('\n'));
      assert.equal(report.findings.find((f) => f.extra.tid === spin.tid), undefined);
      const loop = report.findings.find((f) => f.kind === 'frozen-instruction' && f.extra.tid === segv.tid);
      assert.ok(loop, `fault loop expected: ${JSON.stringify(report.findings.map((f) => f.summary))}`);
      assert.equal(loop.extra.cause, 'fault-loop-in-kernel');
    } finally {
      await spin.stop();
      await segv.stop();
    }
  });

  test('usage errors exit 2', () => {
    const r = runCli(['live', '--pid', 'abc']);
    assert.equal(r.code, 2);
    const gone = runCli(['live', '--pid', '999999999']);
    assert.equal(gone.code, 2);
    assert.match(gone.stderr, /no such process/);
  });
});
