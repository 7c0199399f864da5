/**
 * `coroner analyze` end to end on the fixtures' real logs: the verdict each scenario.md describes,
 * exit codes, and JSON output valid against the published schema.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { ReportSchema, type Report } from '../../src/report/schema.ts';
import { fixturesRoot, repoRoot, runCli } from '../helpers.ts';

function analyzeJson(...paths: string[]): { code: number | null; report: Report } {
  const r = runCli(['analyze', '--format', 'json', ...paths]);
  assert.equal(r.stderr.replace(/npm warn.*\n/g, ''), '', `stderr: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as Report;
  const errors = [...Value.Errors(ReportSchema, report)].slice(0, 5);
  assert.deepEqual(errors, [], 'the report must validate against the published schema');
  return { code: r.code, report };
}

const fx = (p: string) => join(fixturesRoot, p);
const finding = (r: Report, id: string) => r.findings.find((f) => f.id === id)!;
const rootKinds = (r: Report) => r.verdict.roots.map((id) => finding(r, id).kind);

describe('analyze on real console logs', () => {
  it('healthy boots are healthy, exit 0', () => {
    for (const k of ['deb12-6.1.0-56', 'deb12-6.12.117']) {
      const { code, report } = analyzeJson(fx(`${k}/healthy/console.log`));
      assert.equal(code, 0, k);
      assert.equal(report.verdict.status, 'healthy', k);
      assert.equal(report.findings.length, 0, k);
    }
  });

  it('softlockup-ipi: CPU 1 spinning with IRQs off is the root; CPU 0 waits for it', () => {
    const { code, report } = analyzeJson(fx('deb12-6.1.0-56/softlockup-ipi/console.log'));
    assert.equal(code, 1);
    const root = finding(report, report.verdict.roots[0]);
    assert.ok(['irqs-off-spin', 'spinlock-self-deadlock'].includes(root.kind), root.kind);
    assert.equal(root.extra.cpu, 1);
    assert.match(root.summary, /forge_ring_record_error/);
    const wait = report.findings.find((f) => f.kind === 'ipi-wait')!;
    assert.equal(wait.role, 'symptom');
    assert.deepEqual(wait.extra.targets, [1]);
    assert.equal(wait.extra.cpu, 0);
    const soft = report.findings.find((f) => f.kind === 'soft-lockup')!;
    assert.equal(soft.role, 'symptom');
    assert.equal(soft.extra.cpu, 0);
  });

  it('oops-irq-deadlock: the NULL dereference in IRQ context on CPU 1 is the root', () => {
    const { code, report } = analyzeJson(fx('deb12-6.1.0-56/oops-irq-deadlock/console.log'));
    assert.equal(code, 1);
    // One root: the oops in IRQ context that never finished; the NULL dereference itself is its symptom.
    assert.deepEqual(rootKinds(report), ['oops-in-irq']);
    const nd = report.findings.find((f) => f.kind === 'null-deref')!;
    assert.deepEqual(nd.causedBy, report.verdict.roots);
    assert.match(nd.summary, /forge_nic_complete/);
    assert.equal(nd.extra.address, '0000000000000000');
    const wait = report.findings.find((f) => f.kind === 'ipi-wait')!;
    assert.deepEqual(wait.extra.targets, [1]);
    assert.equal(report.findings.find((f) => f.kind === 'soft-lockup')?.role, 'symptom');
    assert.equal(report.findings.filter((f) => f.kind === 'panic').length, 0, 'no panic in this scenario');
  });

  it('hung-uffd: the hung tasks are clustered on the inode rw-semaphore; the log cannot name the owner', () => {
    for (const k of ['deb12-6.1.0-56', 'deb12-6.12.117']) {
      const { code, report } = analyzeJson(fx(`${k}/hung-uffd/console.log`));
      assert.equal(code, 1, k);
      const clusters = report.findings.filter((f) => f.kind === 'hung-task-cluster');
      const comms = clusters.flatMap((f) => f.subjects.map((s) => s.comm));
      assert.ok(comms.includes('blk-flush') && comms.includes('blk-dio/late'), `${k}: ${comms.join()}`);
      assert.ok(clusters.every((f) => typeof f.extra.lock === 'string' && String(f.extra.lock).startsWith('rwsem')), k);
      assert.equal(report.verdict.status, 'inconclusive', `${k}: the owner is not in the log`);
      assert.ok(!report.findings.some((f) => ['soft-lockup', 'rcu-stall', 'hard-lockup'].includes(f.kind)), k);
    }
  });

  it('kdump softlockup-ipi: the panic on CPU 0 is a victim; the root is CPU 1', () => {
    const { report } = analyzeJson(fx('deb12-6.1.0-56-kdump/softlockup-ipi/vmcore-dmesg.txt'));
    const root = finding(report, report.verdict.roots[0]);
    assert.equal(root.extra.cpu, 1);
    const panic = report.findings.find((f) => f.kind === 'panic')!;
    assert.equal(panic.role, 'symptom');
    assert.equal(panic.extra.cause, 'softlockup_panic');
    assert.equal(report.system.panic, 'Kernel panic - not syncing: softlockup: hung tasks');
  });

  it('kdump hardlockup-seqcount: an operator NMI panic is not the cause; where the NMI caught CPU 0 is the lead', () => {
    const { code, report } = analyzeJson(fx('deb12-6.1.0-56-kdump/hardlockup-seqcount/vmcore-dmesg.txt'));
    assert.equal(code, 1);
    const panic = report.findings.find((f) => f.kind === 'panic')!;
    assert.equal(panic.extra.cause, 'nmi');
    assert.equal(panic.role, 'symptom');
    // The NMI caught CPU 0 with IRQs off in tick_nohz_next_event, whose Code: bytes are a seqcount read loop.
    const root = finding(report, report.verdict.roots[0]);
    assert.equal(root.kind, 'seqcount-stuck-odd');
    assert.equal(root.extra.cpu, 0);
    assert.equal(root.extra.function, 'tick_nohz_next_event');
    const caught = report.findings.find((f) => f.kind === 'irqs-off-spin')!;
    assert.equal(caught.role, 'symptom');
    assert.match(caught.summary, /tick_nohz_idle_stop_tick <- do_idle/);
  });

  it('the bundled example gives the same verdict as its fixture', () => {
    const a = analyzeJson(join(repoRoot, 'examples/softlockup-ipi/vmcore-dmesg.txt')).report;
    const b = analyzeJson(fx('deb12-6.1.0-56-kdump/softlockup-ipi/vmcore-dmesg.txt')).report;
    assert.deepEqual(rootKinds(a), rootKinds(b));
  });

  it('a kdump crash directory: vmcore-dmesg.txt and console.log count as one incident, reports merged', () => {
    const { report } = analyzeJson(fx('deb12-6.1.0-56-kdump/softlockup-ipi'));
    const logs = report.sources.filter((s) => s.kind === 'log').map((s) => s.path.split('/').pop());
    assert.ok(logs.includes('vmcore-dmesg.txt') && logs.includes('console.log'), logs.join());
    const softs = report.events.filter((e) => e.kind === 'soft-lockup' && e.cpu === 0);
    const titles = softs.map((e) => `${e.timestamp} ${e.title}`);
    assert.equal(new Set(titles).size, titles.length, 'each soft lockup report counted once');
    assert.ok(report.sources.some((s) => s.kind === 'dump'));
  });
});

describe('analyze: input handling', () => {
  it('reads stdin with -', () => {
    const log = '[   57.014594] watchdog: BUG: soft lockup - CPU#0 stuck for 49s! [mapper:127]\n';
    const r = runCli(['analyze', '-', '--format', 'json'], log);
    assert.equal(r.code, 1);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.events[0].kind, 'soft-lockup');
    assert.equal(report.sources[0].path, '-');
  });
  it('a missing file: exit 2, one clear line, no stack trace', () => {
    const r = runCli(['analyze', '/nonexistent/dmesg.txt']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /\/nonexistent\/dmesg\.txt: no such file/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
  it('a directory without evidence: exit 2 naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-empty-'));
    const r = runCli(['analyze', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${dir}: no kernel log`));
  });
  it('a binary file: exit 2', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-bin-'));
    const f = join(dir, 'blob');
    writeFileSync(f, Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919) % 256)));
    const r = runCli(['analyze', f]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /blob/);
  });
  it('an empty file is an input error, never a verdict', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-emptyf-'));
    const f = join(dir, 'dmesg');
    writeFileSync(f, '');
    const r = runCli(['analyze', f]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^coroner: ${f}: empty file`));
  });
  it('--output writes the report to a file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-out-'));
    mkdirSync(join(dir, 'o'));
    const out = join(dir, 'o', 'report.json');
    const r = runCli(['analyze', fx('deb12-6.1.0-56/softlockup-ipi/console.log'), '-f', 'json', '-o', out]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
  });
  it('a truncated vmcore gives partial results marked incomplete, never a clean bill of health', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-trunc-'));
    const f = join(dir, 'vmcore');
    const whole = readFileSync(fx('deb12-6.1.0-56/softlockup-ipi/vmcore.kdump'));
    writeFileSync(f, whole.subarray(0, Math.floor(whole.length / 2)));
    const r = runCli(['analyze', f, '--format', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    assert.equal(report.incomplete, true);
    assert.equal(report.verdict.status, 'inconclusive');
    const src = report.sources.find((s) => s.kind === 'dump')!;
    assert.ok(src.incomplete);
    assert.ok(src.notes.some((n) => /outside the file|truncated|damaged/.test(n)), src.notes.join('\n'));
    assert.equal(new Set(src.notes).size, src.notes.length, 'notes are not repeated');
  });
  it('a file that is not a usable dump is an input error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-hdr-'));
    const f = join(dir, 'vmcore');
    writeFileSync(f, readFileSync(fx('deb12-6.1.0-56/softlockup-ipi/vmcore.kdump')).subarray(0, 1000));
    const r = runCli(['analyze', f]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /vmcore/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });
  it('an unknown format is a usage error', () => {
    const r = runCli(['analyze', '-f', 'xml', fx('deb12-6.1.0-56/healthy/console.log')]);
    assert.equal(r.code, 2);
  });
});

describe('schema', () => {
  it('prints the published JSON Schema', () => {
    const r = runCli(['schema']);
    assert.equal(r.code, 0);
    const s = JSON.parse(r.stdout);
    assert.equal(s.title, 'Coroner report');
    assert.ok(s.required.includes('verdict') && s.required.includes('findings') && s.required.includes('schemaVersion'));
  });
});

describe('a console that shows only the kdump capture kernel booting', () => {
  it('is never healthy: the first kernel went into kdump, the log does not say why', () => {
    const { code, report } = analyzeJson(fx('deb12-6.1.0-56-kdump/hardlockup-seqcount/console.log'));
    assert.equal(code, 1);
    assert.equal(report.verdict.status, 'inconclusive');
    const f = report.findings.find((x) => x.extra.cause === 'kdump-capture-boot')!;
    assert.equal(f.role, 'root');
    assert.ok(f.evidence[0].line! > 1);
  });
});
