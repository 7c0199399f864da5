/**
 * Verdicts on dumps forged locally (forge/: scenarios of hang mechanisms the shared fixtures do not have — ABBA
 * spinlocks and rwlocks, lock against IPI, holders asleep on completions and wait queues, CPU hogs, block devices
 * that stopped completing, stalled workqueues, PREEMPT_RT deadlocks — on 6.1, 6.12 and 6.1-rt, as hypervisor
 * dumps and as kdump captures). Each scenario directory carries `expect.json`, the answer key read from its crash
 * oracle. They are not part of the repository; the test runs when $CORONER_FORGED (default /var/tmp/coroner-forge)
 * holds them (make them with `forge/run.sh`).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Report } from '../../src/report/schema.ts';
import { runCli } from '../helpers.ts';

const root = process.env.CORONER_FORGED ?? '/var/tmp/coroner-forge';

interface Expect {
  scenario: string;
  mechanism: 'deadlock-cycle' | 'holder-sleeps' | 'hog' | 'io-stuck' | 'workqueue-hog' | 'workqueue-blocked';
  root: { cpus?: number[]; pids?: number[]; comms?: string[]; objects?: string[]; functions?: string[]; device?: string };
}

/** The root kinds each mechanism may be reported as. */
const KINDS: Record<Expect['mechanism'], string[]> = {
  'deadlock-cycle': ['deadlock', 'mutex-deadlock', 'spinlock-self-deadlock'],
  'holder-sleeps': ['holder-sleeps'],
  hog: ['cpu-hog'],
  'io-stuck': ['io-stuck', 'io-error'],
  'workqueue-hog': ['cpu-hog'],
  'workqueue-blocked': ['holder-sleeps'],
};

/** What the root must name: the tasks (and locks) of a deadlock, the holder and its lock, the hog's task and loop. */
function mustName(e: Expect): { all: string[]; any: string[] } {
  const r = e.root;
  switch (e.mechanism) {
    case 'deadlock-cycle':
      return { all: [...(r.comms ?? []), ...(r.objects ?? []).slice(0, 2)], any: [] };
    case 'holder-sleeps':
      return { all: [...(r.comms ?? []).slice(0, 1), ...(r.objects ?? []).slice(0, 1)], any: (r.objects ?? []).slice(1) };
    case 'hog':
      return { all: [...(r.comms ?? [])], any: r.functions ?? [] };
    case 'workqueue-hog':
      return { all: [], any: r.functions ?? [] };
    case 'workqueue-blocked':
      return { all: [], any: r.objects ?? [] };
    case 'io-stuck':
      return { all: r.device ? [r.device] : [], any: [] };
  }
}

const dirs = existsSync(root)
  ? readdirSync(root, { withFileTypes: true })
      .filter((k) => k.isDirectory())
      .flatMap((k) => readdirSync(join(root, k.name), { withFileTypes: true }).filter((s) => s.isDirectory()).map((s) => join(root, k.name, s.name)))
      .filter((d) => existsSync(join(d, 'expect.json')) && readdirSync(d).some((f) => /^vmcore/.test(f)))
      .sort()
  : [];

describe('verdicts on locally forged dumps', () => {
  if (!dirs.length) {
    it('no forged dumps here', (t) => t.skip(`none under ${root} (make them with forge/run.sh, see forge/README.md)`));
    return;
  }
  for (const dir of dirs) {
    const e = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8')) as Expect;
    it(`${dir.slice(root.length + 1)}: ${e.mechanism}`, () => {
      const r = runCli(['analyze', dir, '--format', 'json']);
      assert.notEqual(r.code, 3, r.stderr);
      const report = JSON.parse(r.stdout) as Report;
      assert.equal(report.diagnosisErrors, undefined);
      assert.equal(report.verdict.status, 'problem', report.verdict.summary);
      assert.equal(r.code, 1);
      const roots = report.verdict.roots.map((id) => report.findings.find((f) => f.id === id)!);
      assert.equal(roots.length, 1, `one root expected: ${roots.map((f) => `${f.kind}: ${f.summary}`).join(' | ')}`);
      const top = roots[0];
      assert.ok(KINDS[e.mechanism].includes(top.kind), `${top.kind} is not a ${e.mechanism}: ${top.summary}`);
      const text = `${top.summary}\n${JSON.stringify(top.extra)}`;
      const { all, any } = mustName(e);
      for (const s of all) assert.ok(text.includes(s), `the root does not name ${s}: ${top.summary}`);
      if (any.length) assert.ok(any.some((s) => text.includes(s)), `the root names none of ${any.join(', ')}: ${top.summary}`);
    });
  }
});
