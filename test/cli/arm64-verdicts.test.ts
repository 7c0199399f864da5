/**
 * `coroner analyze` on the arm64 vmcores (issue 16): the root each scenario.md names, from the same detectors as on
 * x86_64, read from arm64 registers (PSTATE, X0-X30 with PAC-signed LRs) and capstone's disassembly. Addresses and
 * values are checked against the crash (ARM64 build) oracle outputs beside the dumps.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, openSync, readFileSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Report } from '../../src/report/schema.ts';
import { fixturesRoot, repoRoot, runCli } from '../helpers.ts';

const base = join(fixturesRoot, 'deb12-6.1-arm64');
const have = existsSync(join(base, 'healthy', 'vmcore.kdump'));

function analyze(scenario: string): { code: number | null; report: Report } {
  const r = runCli(['analyze', '--format', 'json', join(base, scenario, 'vmcore.kdump')]);
  assert.equal(r.stderr.replace(/npm warn.*\n/g, ''), '', `stderr: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}
const oracle = (scenario: string, file: string) => readFileSync(join(base, scenario, file), 'utf8');
const roots = (r: Report) => r.verdict.roots.map((id) => r.findings.find((f) => f.id === id)!);

describe('arm64 verdicts', { skip: !have && 'no arm64 fixtures' }, () => {
  it('healthy: every CPU idle in cpu_do_idle with IRQs masked is healthy, and the evidence is complete', () => {
    const { code, report } = analyze('healthy');
    assert.equal(report.verdict.status, 'healthy', JSON.stringify(report.sources.map((s) => s.notes)));
    assert.equal(code, 0);
    assert.equal(report.system.arch, 'arm64');
    assert.ok(report.sources.every((s) => !s.incomplete));
    // arm64 idles with PSTATE.I set (wfi wakes on a pending interrupt): that is read, and not a problem.
    for (const cpu of report.cpus) {
      assert.equal(cpu.irqsEnabled, false);
      assert.equal(cpu.mode, 'kernel');
      assert.match(String(cpu.pc), /^cpu_do_idle\+0x/);
    }
  });

  it('softlockup-ipi: CPU 1 self-deadlocked on the ring lock its own caller took; CPU 0 waits for its IPI', () => {
    const { code, report } = analyze('softlockup-ipi');
    assert.equal(code, 1);
    const top = roots(report)[0];
    assert.equal(roots(report).length, 1, roots(report).map((f) => f.kind).join());
    assert.equal(top.kind, 'spinlock-self-deadlock');
    assert.equal(top.extra.cpu, 1);
    const ring = /forge_ring0 at ([0-9a-f]{16})/.exec(oracle('softlockup-ipi', 'crash.forge_ring0.txt'))![1];
    assert.equal(top.extra.lockAddress, ring);
    assert.match(String(top.extra.takenIn), /^forge_ring_worker\+0x[0-9a-f]+ \[forge_wedge\]$/);
    // The proof: the lock call's X0 came from a callee-saved register that still holds the lock (X19 in crash's help -r).
    const x19 = /CPU 1:[\s\S]*?X19: ([0-9a-f]{16})/.exec(oracle('softlockup-ipi', 'crash.help-r.txt'))![1];
    assert.equal(x19, ring);
    assert.ok(top.steps.some((s) => /x0 = x19, and X19 still holds/.test(s)), top.steps.join('\n'));
    assert.ok(top.steps.some((s) => /PSTATE\.I set/.test(s)));
    const lock = report.objects.find((o) => o.kind === 'spinlock')!;
    // 0x101: locked, and this CPU itself is the pending waiter (no MCS queue: nobody else wants it).
    assert.equal(lock.observed.value, 0x101);
    const wait = report.findings.find((f) => f.kind === 'ipi-wait')!;
    assert.equal(wait.role, 'symptom');
    assert.equal(wait.extra.cpu, 0);
    assert.deepEqual(wait.extra.targets, [1]);
    const csd = report.objects.find((o) => o.kind === 'csd')!;
    assert.equal(`0x${csd.address}`, /call_single_queue, 1\) = \$\d+ = \{\s+first = (0x[0-9a-f]+)/.exec(oracle('softlockup-ipi', 'crash.cfd_data.txt'))![1]);
    // CPU 0 was caught entering the IRQ vector: its function comes from LR, not from "vectors".
    const cpu0 = report.cpus.find((c) => c.cpu === 0)!;
    assert.match(String(cpu0.pc), /^smp_call_function_many_cond\+0x/);
    assert.equal(cpu0.irqsEnabled, true);
    for (const c of [2, 3]) assert.equal(report.cpus.find((x) => x.cpu === c)!.mode, 'user');
    assert.equal(report.findings.find((f) => f.kind === 'soft-lockup')!.role, 'symptom');
  });

  it('hardlockup-seqcount: every CPU spins in the jiffies_seq read loop, odd with jiffies_lock unlocked', () => {
    const { code, report } = analyze('hardlockup-seqcount');
    assert.equal(code, 1);
    const top = roots(report)[0];
    assert.equal(top.kind, 'seqcount-stuck-odd');
    assert.deepEqual(top.extra.cpus, [0, 1, 2, 3]);
    assert.equal(top.extra.symbol, 'jiffies_seq');
    assert.equal(top.extra.function, 'tick_nohz_next_event');
    assert.equal(top.extra.sequence, Number(/sequence = (\d+)/.exec(oracle('hardlockup-seqcount', 'crash.p-jiffies_seq.txt'))![1]));
    assert.equal(top.extra.writerLockValue, 0);
    const loop = (top.extra.loop as string[]).join('\n');
    assert.match(loop, /yield/);
    assert.match(loop, /ldr\s+w\d+, \[x3\]/);
    assert.match(loop, /tbnz\s+w\d+, #0,/);
    const seq = report.objects.find((o) => o.kind === 'seqcount')!;
    assert.equal(seq.address, /jiffies_seq at ([0-9a-f]{16})/.exec(oracle('hardlockup-seqcount', 'console.log'))![1]);
    // Not the Intel erratum on an arm64 machine.
    assert.ok(!top.knownIssue || top.knownIssue.differences?.some((d) => /arm64/.test(d)));
  });

  it("softlockup-ipi console alone: the RCU stall's task dump of CPU 1 (its saved stack, no NMI backtrace on arm64) is not where it spins", () => {
    const r = runCli(['analyze', '--format', 'json', join(base, 'softlockup-ipi', 'console.log')]);
    const report = JSON.parse(r.stdout) as Report;
    const top = roots(report)[0];
    assert.deepEqual(top.subjects.filter((x) => x.kind === 'cpu'), [{ kind: 'cpu', cpu: 1 }]);
    assert.ok(!/__switch_to|schedule/.test(top.summary), top.summary);
  });

  it('an arm64 oops cut short before its CPU line (die() runs the notifiers before printing), then one CPU stalls: that CPU oopsed', () => {
    // A forged arm64 oops-irq-deadlock console (forge_irqoops's die notifier re-takes the lock the faulting IRQ handler
    // holds); not a shared fixture, so its console is kept under test/data.
    const r = runCli(['analyze', '--format', 'json', join(repoRoot, 'test/data/log/arm64-oops-cut-short-console.log')]);
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as Report;
    const top = roots(report)[0];
    assert.equal(top.kind, 'oops-in-irq');
    assert.equal(top.extra.cpu, 1);
    assert.ok(top.steps.some((x) => /only one stalled after it/.test(x)), top.steps.join('\n'));
    const hog = report.findings.find((f) => f.kind === 'cpu-hog');
    assert.ok(!hog || hog.role === 'symptom', 'the unresponsive CPU is a consequence of the oops');
  });

  it('a truncated arm64 dump says it is truncated, with the sizes, and exits 2', () => {
    const src = join(base, 'softlockup-ipi', 'vmcore.kdump');
    const half = 8_000_000;
    const buf = Buffer.alloc(half);
    const fd = openSync(src, 'r');
    readSync(fd, buf, 0, half, 0);
    closeSync(fd);
    const cut = join(mkdtempSync(join(tmpdir(), 'coroner-arm64-')), 'vmcore.kdump');
    writeFileSync(cut, buf);
    const r = runCli(['analyze', cut]);
    assert.equal(r.code, 2, r.stdout);
    assert.match(r.stderr, /truncated: 8000000 of \d+ bytes/);
    assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
  });

  it('hung-uffd: the blocked tasks wait on a userfaultfd nobody reads', () => {
    const { code, report } = analyze('hung-uffd');
    assert.equal(code, 1);
    assert.equal(roots(report)[0].kind, 'uffd-no-reader');
  });
});
