/**
 * Several boots, several kernels, through bin/coroner: a big console capture of many boots (fixture consoles
 * concatenated under the temporary directory) gives the verdict of the last boot with trouble and one line per other
 * boot; triage gives one record per boot with trouble; a vmcore and a log of another kernel or another boot are never
 * mixed into one verdict (a note, and `mixedEvidence` / `sources[].used` in JSON); evidence of one boot still merges.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Value } from 'typebox/value';
import { ReportSchema, type Report } from '../../src/report/schema.ts';
import { fixturesRoot, runCli } from '../helpers.ts';

const fx = (p: string) => join(fixturesRoot, p);
const tmp = mkdtempSync(join(tmpdir(), 'coroner-boots-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** `analyze -f json`, the report checked against the published schema (the new fields included). */
function analyze(...args: string[]): { code: number | null; report: Report; stderr: string } {
  const r = runCli(['analyze', '-f', 'json', ...args]);
  assert.equal(r.stderr, '', r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.deepEqual([...Value.Errors(ReportSchema, report)].slice(0, 5), [], 'the report must validate against the published schema');
  return { code: r.code, report, stderr: r.stderr };
}

/** One round of boots: which console, and whether its boot shows trouble on its own. */
const ROUND: Array<[string, boolean]> = [
  ['deb12-6.1.0-56/healthy/console.log', false],
  ['deb12-6.1.0-56/softlockup-ipi/console.log', true],
  ['deb12-6.1.0-56-kdump/hardlockup-seqcount/console.log', true], // went into kdump: never healthy
  ['deb12-6.12.117/healthy/console.log', false],
  ['deb12-6.1.0-56/oops-irq-deadlock/console.log', true],
  ['deb12-6.12.117/hung-uffd/console.log', true],
  ['deb12-6.1.0-56-kdump/softlockup-ipi/console.log', true], // with its capture kernel: one boot
  ['deb12-6.1.0-56/hardlockup-seqcount/console.log', false],
];
const ROUNDS = 6;

describe('a console capture of many boots', () => {
  const file = join(tmp, 'console-many-boots.log');
  const parts = ROUND.map(([p]) => readFileSync(fx(p), 'utf8').replace(/\n?$/, '\n'));
  const lines = parts.map((t) => t.split('\n').length - 1);
  const boots = ROUNDS * ROUND.length + 1; // ... and a healthy boot at the very end
  const trouble = ROUNDS * ROUND.filter(([, t]) => t).length;
  // The last boot with trouble: the last of the last round that has some.
  const lastTroubleInRound = ROUND.map(([, t]) => t).lastIndexOf(true);
  const expectIndex = (ROUNDS - 1) * ROUND.length + lastTroubleInRound + 1;
  const expectFirstLine = (ROUNDS - 1) * lines.reduce((a, b) => a + b, 0) + lines.slice(0, lastTroubleInRound).reduce((a, b) => a + b, 0) + 1;

  before(() => {
    writeFileSync(file, Array.from({ length: ROUNDS }, () => parts.join('')).join('') + parts[0]);
  });

  it('the verdict is about the last boot with trouble; the other boots are listed, one line each', () => {
    const { code, report } = analyze(file);
    assert.equal(code, 1);
    const src = report.sources[0];
    assert.equal(src.boots?.length, boots);
    const analysed = src.boots!.filter((b) => b.analysed);
    assert.equal(analysed.length, 1);
    assert.equal(analysed[0].index, expectIndex);
    assert.equal(analysed[0].firstLine, expectFirstLine);
    assert.equal(src.boot?.index, expectIndex);
    assert.equal(src.boot?.release, '6.1.0-56-amd64');
    assert.equal(src.boots!.filter((b) => b.status !== 'healthy').length, trouble);
    // One incident's verdict, not hundreds of roots.
    assert.ok(report.verdict.roots.length <= 3, `${report.verdict.roots.length} roots`);
    assert.ok(report.verdict.summary.length < 2000, `${report.verdict.summary.length} characters`);
    assert.match(report.verdict.summary, /forge_ring_record_error|CPU 1/);
    for (const e of report.events) assert.ok(e.line >= expectFirstLine && e.line <= analysed[0].lastLine, `event at line ${e.line}`);
    // Notes: the header, one line per other boot with trouble, one per run of healthy boots.
    const listed = src.notes.filter((n) => /^boots? \d+/.test(n));
    assert.equal(listed.filter((n) => /PROBLEM FOUND|INCONCLUSIVE/.test(n)).length, trouble - 1);
    assert.ok(listed.every((n) => !n.includes('\n')));
    assert.match(src.notes.find((n) => /boots in this log/.test(n))!, new RegExp(`^${boots} boots in this log \\(${trouble} with trouble\\); the verdict is about boot ${expectIndex} \\(lines ${expectFirstLine}-`));
  });

  it('the text report: the verdict paragraph stays short, each other boot is one line', () => {
    const r = runCli(['analyze', file]);
    assert.equal(r.code, 1);
    const para = r.stdout.split('\nSystem:')[0];
    assert.ok(para.length < 2000, `${para.length} characters before the System line`);
    assert.match(r.stdout, /^ {2}note: .*: boot \d+ \(lines \d+-\d+, 6\.12\.117\+deb12-amd64\): INCONCLUSIVE: .*$/m);
  });

  it('triage: one record per boot with trouble, with its boot and release', () => {
    const r = runCli(['triage', '-f', 'jsonl', file]);
    assert.equal(r.code, 1);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(recs.length, trouble);
    assert.ok(recs.every((x) => x.file === file && x.boot.of === boots && x.verdict !== 'healthy'));
    assert.deepEqual(
      recs.slice(0, 5).map((x) => [x.boot.index, x.release]),
      [
        [2, '6.1.0-56-amd64'],
        [3, '6.1.0-56-amd64'],
        [5, '6.1.0-56-amd64'],
        [6, '6.12.117+deb12-amd64'],
        [7, '6.1.0-56-amd64'],
      ],
    );
    // The same bug in every round: one signature per bug (the soft lockup of both softlockup-ipi consoles is one; the
    // console that only shows the capture kernel booting has no report to sign: clean, but its verdict is not healthy).
    assert.equal(new Set(recs.map((x) => x.signature)).size, 4);
    assert.equal(recs.filter((x) => x.signature === 'clean').length, ROUNDS);
    assert.ok(recs.filter((x) => x.signature === 'clean').every((x) => x.verdict === 'inconclusive'));
    const text = runCli(['triage', file]);
    assert.match(text.stdout, new RegExp(`^\\s+${2 * ROUNDS}\\s+irqs-off-spin:forge_ring_record_error`, 'm'));
    assert.match(text.stdout, /\(boot \d+ of \d+, lines \d+-\d+\)/);
  });
});

describe('evidence of different kernels and boots', () => {
  it('a 6.12 vmcore and a 6.1 log: the log is left out, said in a note and in JSON; the System line is the vmcore\'s', () => {
    const vmcore = fx('deb12-6.12.117/hung-uffd/vmcore.kdump');
    const log = fx('deb12-6.1.0-56/softlockup-ipi/console.log');
    const { report } = analyze(vmcore, log);
    assert.ok(report.mixedEvidence, 'mixedEvidence');
    assert.deepEqual(report.mixedEvidence!.releases.sort(), ['6.1.0-56-amd64', '6.12.117+deb12-amd64']);
    assert.deepEqual(report.mixedEvidence!.leftOut.map((x) => [x.path, x.release]), [[log, '6.1.0-56-amd64']]);
    assert.match(report.mixedEvidence!.leftOut[0].reason, /another kernel: it is of 6\.1\.0-56-amd64, .* of 6\.12\.117\+deb12-amd64; on its own: PROBLEM FOUND/);
    const logSrc = report.sources.find((s) => s.path === log)!;
    assert.equal(logSrc.used, false);
    assert.equal(logSrc.boot?.release, '6.1.0-56-amd64');
    assert.equal(report.sources.find((s) => s.path === vmcore)!.used, true);
    assert.equal(report.system.release, '6.12.117+deb12-amd64');
    assert.ok(!report.events.some((e) => e.source === log), 'no event of the left-out log');
    assert.ok(!report.findings.some((f) => f.evidence.some((e) => e.source === log)));
    const text = runCli(['analyze', vmcore, log]);
    assert.match(text.stdout, /^System: kernel 6\.12\.117\+deb12-amd64,/m);
    assert.doesNotMatch(text.stdout, /^System: .*6\.1\.0-56/m);
    assert.match(text.stdout, /note: .*vmcore\.kdump: evidence of another kernel or boot was left out of this verdict/);
  });

  it('the same kernel, another boot (a vmcore and the console of another run): told apart by their lines', () => {
    const vmcore = fx('deb12-6.1.0-56-kdump/softlockup-ipi/vmcore');
    const log = fx('deb12-6.1.0-56/softlockup-ipi/console.log');
    const { report } = analyze(vmcore, log);
    const left = report.mixedEvidence?.leftOut ?? [];
    assert.deepEqual(left.map((x) => x.path), [log]);
    assert.match(left[0].reason, /another boot of 6\.1\.0-56-amd64: in the time both cover, its timestamped lines are not those of .*\(0 of \d+ in common\)/);
    assert.match(report.sources[0].boot?.crashTime ?? '', /^2026-11-21T23:44:13/);
  });

  it('one boot seen three ways (a kdump directory: vmcore, vmcore-dmesg.txt, console with the capture kernel): merged, nothing left out', () => {
    const { report } = analyze(fx('deb12-6.1.0-56-kdump/softlockup-ipi'));
    assert.equal(report.mixedEvidence, undefined);
    assert.ok(report.sources.every((s) => s.used !== false));
    assert.equal(report.sources.filter((s) => s.kind === 'log').length, 3); // console, vmcore-dmesg.txt, the vmcore's own log
  });

  it('a log of several boots and the vmcore of one of them: that boot is analysed', () => {
    const file = join(tmp, 'three-boots.log');
    writeFileSync(
      file,
      ['deb12-6.1.0-56/healthy/console.log', 'deb12-6.1.0-56/softlockup-ipi/console.log', 'deb12-6.1.0-56/hung-uffd/console.log'].map((p) => readFileSync(fx(p), 'utf8')).join(''),
    );
    const vmcore = fx('deb12-6.1.0-56/softlockup-ipi/vmcore.kdump');
    const { report } = analyze(file, vmcore);
    const src = report.sources.find((s) => s.path === file)!;
    assert.equal(src.used, true);
    assert.equal(src.boot?.index, 2);
    assert.deepEqual(src.boots!.map((b) => b.analysed), [false, true, false]);
    assert.match(src.notes.join('\n'), /the verdict is about boot 2 \(lines \d+-\d+, 6\.1\.0-56-amd64\): the boot .*vmcore\.kdump is of/);
    assert.equal(report.mixedEvidence, undefined);
    assert.ok(!report.events.some((e) => e.kind === 'hung-task'), 'nothing of boot 3');
  });
});
