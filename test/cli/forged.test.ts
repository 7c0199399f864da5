/**
 * Verdicts on dumps forged locally with ../shared/forge (kernels x scenarios the shared fixtures do not
 * have: 6.12 hard lockup, soft lockup and oops, panic-null, kdump captures...). They are not part of the
 * repository; the test runs when $CORONER_FORGED (default /var/tmp/coroner-forge) holds them.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Report } from '../../src/report/schema.ts';
import { runCli } from '../helpers.ts';

const root = process.env.CORONER_FORGED ?? '/var/tmp/coroner-forge';

/** What scenario.md of each forge scenario says the root is (undefined: healthy). */
const EXPECTED_ROOT: Record<string, string | undefined> = {
  'hardlockup-seqcount': 'seqcount-stuck-odd',
  'softlockup-ipi': 'spinlock-self-deadlock',
  'oops-irq-deadlock': 'oops-in-irq',
  'panic-null': 'null-deref',
  'hung-uffd': 'uffd-no-reader',
  healthy: undefined,
  threads2000: undefined,
};

const dirs = existsSync(root)
  ? readdirSync(root, { withFileTypes: true })
      .filter((k) => k.isDirectory())
      .flatMap((k) => readdirSync(join(root, k.name), { withFileTypes: true }).filter((s) => s.isDirectory() && s.name in EXPECTED_ROOT).map((s) => join(root, k.name, s.name)))
      .filter((d) => readdirSync(d).some((f) => /^vmcore/.test(f)))
  : [];

describe('verdicts on locally forged dumps', () => {
  if (!dirs.length) {
    it('no forged dumps here', (t) => t.skip(`none under ${root} (make them with ../shared/forge, FIXROOT=${root})`));
    return;
  }
  for (const dir of dirs) {
    const scenario = dir.split('/').pop()!;
    it(dir.slice(root.length + 1), () => {
      const r = runCli(['analyze', dir, '--format', 'json']);
      assert.notEqual(r.code, 3, r.stderr);
      const report = JSON.parse(r.stdout) as Report;
      assert.equal(report.diagnosisErrors, undefined);
      const want = EXPECTED_ROOT[scenario];
      if (!want) {
        assert.equal(report.verdict.status, 'healthy', report.verdict.summary);
        assert.equal(r.code, 0);
        return;
      }
      const roots = report.verdict.roots.map((id) => report.findings.find((f) => f.id === id)!.kind);
      assert.ok(roots.includes(want), `${want} expected among roots ${roots.join(', ')}`);
      assert.ok(!report.verdict.roots.some((id) => report.findings.find((f) => f.id === id)!.kind === 'panic'), 'a panic is never the root here');
      assert.equal(r.code, 1);
    });
  }
});
