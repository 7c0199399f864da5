/** `coroner triage` on the fixtures and the corpus: records, stable signatures, grouping, bad files. */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { normaliseFunction, normaliseTitle } from '../../src/fleet/signature.ts';
import { corpusRoot, fixturesRoot, runCli } from '../helpers.ts';

interface Rec {
  file: string;
  signature: string;
  events: Array<{ kind: string }>;
  error: string | null;
}

function jsonl(files: string[]): { code: number | null; recs: Rec[]; stderr: string } {
  const r = runCli(['triage', '-f', 'jsonl', ...files]);
  return { code: r.code, recs: r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec), stderr: r.stderr };
}

const fx = (p: string) => join(fixturesRoot, p);

describe('triage', () => {
  it('one record per file; the same bug in different logs gets the same signature', () => {
    const files = [
      fx('deb12-6.1.0-56/softlockup-ipi/console.log'),
      fx('deb12-6.1.0-56-kdump/softlockup-ipi/console.log'),
      fx('deb12-6.1.0-56-kdump/softlockup-ipi/vmcore-dmesg.txt'),
      fx('deb12-6.1.0-56/hung-uffd/console.log'),
      fx('deb12-6.12.117/hung-uffd/console.log'),
      fx('deb12-6.1.0-56/healthy/console.log'),
      fx('deb12-6.1.0-56/oops-irq-deadlock/console.log'),
    ];
    const { code, recs } = jsonl(files);
    assert.equal(code, 1);
    assert.deepEqual(recs.map((r) => r.file), files);
    const sig = recs.map((r) => r.signature);
    // Three captures of the spinlock recursion (different boots, pids, addresses, timestamps): one signature, the culprit's.
    assert.equal(new Set(sig.slice(0, 3)).size, 1);
    assert.match(sig[0], /^irqs-off-spin:forge_ring_record_error \[forge_wedge\]<-forge_ring_worker/);
    // The same hang on two kernels.
    assert.equal(sig[3], sig[4]);
    assert.match(sig[3], /^hung-task:ext4_buffered_write_iter/);
    assert.equal(sig[5], 'clean');
    assert.match(sig[6], /^oops-in-irq:forge_nic_complete \[forge_irqoops\]/);
    assert.equal(new Set(sig).size, 4);
  });

  it('the text table groups by signature with counts', () => {
    const r = runCli(['triage', fx('deb12-6.1.0-56/softlockup-ipi/console.log'), fx('deb12-6.1.0-56-kdump/softlockup-ipi/vmcore-dmesg.txt'), fx('deb12-6.1.0-56/healthy/console.log')]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /^\s+2\s+irqs-off-spin:forge_ring_record_error/m);
    assert.match(r.stdout, /^\s+1\s+clean$/m);
    assert.match(r.stdout, /3 file\(s\), 2 signature\(s\)/);
  });

  it('all clean logs: exit 0', () => {
    const r = runCli(['triage', fx('deb12-6.1.0-56/healthy/console.log'), fx('deb12-6.12.117/healthy/console.log')]);
    assert.equal(r.code, 0);
  });

  it('an unreadable file is a record with an error, the others go on', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-triage-'));
    const missing = join(dir, 'missing.log');
    const { code, recs, stderr } = jsonl([missing, fx('deb12-6.1.0-56/oops-irq-deadlock/console.log')]);
    assert.equal(code, 1);
    assert.equal(recs[0].signature, 'unreadable');
    assert.match(recs[0].error ?? '', /missing\.log/);
    assert.match(stderr, /missing\.log/);
    assert.equal(runCli(['triage', missing]).code, 2);
  });

  it('every corpus log gets a record; logs with a report never come out clean', () => {
    const dirs = readdirSync(corpusRoot, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    const files = dirs.flatMap((d) => readdirSync(join(corpusRoot, d)).filter((f) => !f.endsWith('.right') && f !== 'README.md').map((f) => join(corpusRoot, d, f)));
    const { recs } = jsonl(files);
    assert.equal(recs.length, files.length);
    for (const r of recs) {
      if (r.events.some((e) => ['null-deref', 'paging-request', 'gpf', 'oops', 'bug', 'soft-lockup', 'hard-lockup', 'hung-task', 'panic'].includes(e.kind))) {
        assert.notEqual(r.signature, 'clean', r.file);
      }
      assert.doesNotMatch(r.signature, /0x[0-9a-f]+|\bffff[0-9a-f]{12}\b/, `${r.file}: addresses must be normalised: ${r.signature}`);
    }
  });

  it('a 50 MB log with one report streams through', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-big-'));
    const f = join(dir, 'big.log');
    const noise = '[    1.234567] pci 0000:00:01.0: BAR 0 [mem 0xfd000000-0xfdffffff pref]\n'.repeat(700_000);
    writeFileSync(f, noise + '[   57.014594] watchdog: BUG: soft lockup - CPU#0 stuck for 49s! [mapper:127]\n' + noise);
    const { recs } = jsonl([f]);
    assert.equal(recs[0].events.length, 1);
    assert.match(recs[0].signature, /^soft-lockup:/);
  });
});

describe('signature normalisation', () => {
  it('drops compiler suffixes', () => {
    assert.equal(normaliseFunction('forge_ring_record_error.constprop.0'), 'forge_ring_record_error');
    assert.equal(normaliseFunction('nmi_panic.cold'), 'nmi_panic');
    assert.equal(normaliseFunction('__flush_work.isra.0'), '__flush_work');
  });
  it('replaces numbers, addresses, tasks and offsets but keeps names with digits', () => {
    assert.equal(
      normaliseTitle('watchdog: BUG: soft lockup - CPU#3 stuck for 22s! [kworker/3:1:127]'),
      normaliseTitle('watchdog: BUG: soft lockup - CPU#0 stuck for 48s! [mapper:9]'),
    );
    assert.equal(normaliseTitle('WARNING: CPU: 2 PID: 77 at drivers/misc/lis3lv02d/lis3lv02d.c:123 lis3lv02d_get_pwron_wait+0x40/0xa0 [lis3lv02d]'), 'WARNING: at drivers/misc/lis3lv02d/lis3lv02d.c:N lis3lv02d_get_pwron_wait [lis3lv02d]');
    assert.equal(normaliseTitle('BUG: kernel NULL pointer dereference, address: 0000000000000008'), 'BUG: kernel NULL pointer dereference, address: X');
  });
});
