/**
 * The prepared build, not the sources: every command run through a bundle made by scripts/build.mjs (the same build
 * `npm ci` makes), so an import the bundler cannot follow (a computed path, a file read beside the module) fails here.
 * The bundle goes to dist/test-build/ (inside the repo, so the packages left external resolve from node_modules) and is
 * removed afterwards; dist/coroner.mjs, which bin/coroner runs, is not touched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fixturesRoot, repoRoot } from '../helpers.ts';

const outDir = join(repoRoot, 'dist', `test-build-${process.pid}`);
const bundle = join(outDir, 'coroner.mjs');
const fx = (p: string) => join(fixturesRoot, p);
const have = existsSync(fx('deb12-6.1.0-56/softlockup-ipi/vmcore.kdump'));

function built(args: string[], opts: { input?: string; timeout?: number } = {}) {
  const r = spawnSync(process.execPath, [bundle, ...args], {
    cwd: repoRoot,
    input: opts.input,
    encoding: 'utf8',
    maxBuffer: 256 << 20,
    timeout: opts.timeout ?? 120_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Nothing the bundle failed to load, no internal error, no stack trace. */
function clean(r: ReturnType<typeof built>): void {
  assert.doesNotMatch(r.err, /internal error|Cannot find module|ERR_MODULE_NOT_FOUND|\n\s+at /, r.err);
  assert.doesNotMatch(r.out, /could not be loaded|Cannot find module/);
}

interface SourceLike {
  kind: string;
  path: string;
  notes: string[];
  incomplete: boolean;
}

describe('the built CLI (dist bundle), every command', { skip: !have && 'fixtures missing' }, () => {
  before(() => {
    const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/build.mjs'), '--outfile', bundle], { cwd: repoRoot, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(outDir, { recursive: true, force: true }));

  it('analyze a console log: a problem, exit 1', () => {
    const r = built(['analyze', '-f', 'json', fx('deb12-6.1.0-56/softlockup-ipi/console.log')]);
    clean(r);
    assert.equal(r.code, 1, r.err);
    const rep = JSON.parse(r.out);
    assert.notEqual(rep.verdict.status, 'healthy');
    assert.ok(rep.events.some((e: { kind: string }) => e.kind === 'soft-lockup'));
  });

  it('analyze a vmcore: its log and its CPUs are read', () => {
    const r = built(['analyze', '-f', 'json', fx('deb12-6.1.0-56/softlockup-ipi/vmcore.kdump')]);
    clean(r);
    assert.equal(r.code, 1, r.err);
    const rep = JSON.parse(r.out);
    const dump = rep.sources.find((s: SourceLike) => s.kind === 'dump');
    assert.ok(dump, JSON.stringify(rep.sources));
    assert.ok(!dump.notes.some((n: string) => /not read/.test(n)), dump.notes.join('\n'));
    assert.ok(rep.cpus.length >= 4);
    assert.ok(rep.events.some((e: { kind: string }) => e.kind === 'soft-lockup'));
  });

  it('analyze from stdin', () => {
    const log = '[   57.014594] watchdog: BUG: soft lockup - CPU#0 stuck for 49s! [mapper:127]\n';
    const r = built(['analyze', '-', '-f', 'json'], { input: log });
    clean(r);
    assert.equal(r.code, 1, r.err);
    assert.equal(JSON.parse(r.out).events[0].kind, 'soft-lockup');
  });

  it('triage', () => {
    const r = built(['triage', '-f', 'jsonl', fx('deb12-6.1.0-56/softlockup-ipi/console.log'), fx('deb12-6.1.0-56/healthy/console.log')]);
    clean(r);
    assert.equal(r.code, 1, r.err);
    const recs = r.out.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(recs.length, 2);
    assert.notEqual(recs[0].signature, 'clean');
  });

  it('schema', () => {
    const r = built(['schema']);
    clean(r);
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.out).title, 'Coroner report');
  });

  it('dump info, log, ps, bt', () => {
    const vmcore = fx('deb12-6.1.0-56-kdump/softlockup-ipi/vmcore');
    const info = built(['dump', 'info', vmcore]);
    clean(info);
    assert.equal(info.code, 0, info.err);
    assert.match(info.out, /release: 6\.1\.0-56-amd64/);
    assert.match(info.out, /types: BTF/);
    const log = built(['dump', 'log', vmcore]);
    clean(log);
    assert.equal(log.code, 0, log.err);
    assert.match(log.out, /Kernel panic - not syncing: softlockup: hung tasks/);
    const ps = built(['dump', 'ps', vmcore]);
    clean(ps);
    assert.equal(ps.code, 0, ps.err);
    assert.match(ps.out, /^\s+PID\s+PPID\s+CPU/m);
    const bt = built(['dump', 'bt', vmcore, '-a']);
    clean(bt);
    assert.equal(bt.code, 0, bt.err);
    assert.match(bt.out, /PID: \d+\s+TASK: [0-9a-f]+\s+CPU: 1\s/);
    assert.match(bt.out, /native_queued_spin_lock_slowpath/);
  });

  it('live --no-perf: the kernel log is read, or the report says why and is incomplete', () => {
    const r = built(['live', '--no-perf', '--watch', '1', '-f', 'json']);
    clean(r);
    assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.err}`);
    const rep = JSON.parse(r.out);
    const notes = rep.sources.flatMap((s: SourceLike) => s.notes) as string[];
    assert.ok(!notes.some((n) => /could not be loaded|Cannot find module/.test(n)), notes.join('\n'));
    const log = rep.sources.find((s: SourceLike) => s.kind === 'log');
    if (log) assert.ok(log.path === '/dev/kmsg' || log.path === 'dmesg', log.path);
    else {
      assert.ok(notes.some((n) => /kernel log not (readable|analysed)/.test(n)), notes.join('\n'));
      assert.equal(rep.incomplete, true);
      assert.notEqual(rep.verdict.status, 'healthy');
    }
  });
});
