/**
 * One guest, every dump-file shape: in each locally forged scenario directory that holds the same incident in more
 * than one file (QEMU ELF with paging=false and paging=true beside the kdump file; makedumpfile's -E ELF, its
 * --num-threads output, --split sets and their --reassemble, /proc/vmcore-like ELF captures; see forge/shapes.sh),
 * every file must give the same `dump ps`, `dump log`, `dump bt` and verdict as the kdump-compressed one, and its
 * `dump ps` must be crash's `ps` on that dump. Runs when $CORONER_FORGED (default /var/tmp/coroner-forge) has them.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Report } from '../../src/report/schema.ts';
import { dumpKindOf } from '../../src/sources/collect.ts';
import { runCli } from '../helpers.ts';

const root = process.env.CORONER_FORGED ?? '/var/tmp/coroner-forge';

/** The dump files of a directory, one per split set (its last part: any part must open the whole set). */
function shapesIn(dir: string): string[] {
  const names = readdirSync(dir).filter((n) => /^vmcore/.test(n) && !/\.txt$/.test(n) && dumpKindOf(join(dir, n)));
  const splits = names.filter((n) => /\.split-\d+$/.test(n)).sort();
  return [...names.filter((n) => !/\.split-\d+$/.test(n)), ...splits.slice(-1)].sort();
}

/** The kdump-compressed file the others are compared with. */
function referenceOf(dir: string, files: string[]): string | undefined {
  return ['vmcore.kdump', 'vmcore', 'vmcore.reassembled'].find((f) => files.includes(f) && dumpKindOf(join(dir, f)) === 'kdump-compressed');
}

const groups = existsSync(root)
  ? readdirSync(root, { withFileTypes: true })
      .filter((k) => k.isDirectory())
      .flatMap((k) => readdirSync(join(root, k.name), { withFileTypes: true }).filter((s) => s.isDirectory()).map((s) => join(root, k.name, s.name)))
      .map((dir) => ({ dir, files: shapesIn(dir) }))
      .filter((g) => g.files.length > 1 && referenceOf(g.dir, g.files))
      .sort((a, b) => a.dir.localeCompare(b.dir))
  : [];

const trim = (s: string) => s.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();

function facts(path: string) {
  const out = (cmd: string) => {
    const r = runCli(['dump', cmd, path]);
    assert.equal(r.code, 0, `dump ${cmd} ${path}: ${r.stderr}`);
    return r.stdout;
  };
  const a = runCli(['analyze', path, '--format', 'json']);
  assert.equal(a.code, 1, `analyze ${path}: ${a.stderr}`);
  const report = JSON.parse(a.stdout) as Report;
  return {
    ps: out('ps'),
    log: out('log'),
    bt: out('bt'),
    verdict: { status: report.verdict.status, summary: report.verdict.summary, roots: report.verdict.roots },
    format: report.sources.find((s) => s.kind === 'dump')?.format,
  };
}

describe('every dump-file shape of one guest reads the same', () => {
  if (!groups.length) {
    it('no forged dumps of several shapes here', (t) => t.skip(`none under ${root} (make them with forge/run.sh and forge/shapes.sh)`));
    return;
  }
  for (const { dir, files } of groups) {
    const ref = referenceOf(dir, files)!;
    const others = files.filter((f) => f !== ref);
    it(`${dir.slice(root.length + 1)}: ${others.join(', ')} read as ${ref}`, () => {
      const want = facts(join(dir, ref));
      const oracle = join(dir, 'crash.ps.txt');
      if (existsSync(oracle) && !/\?\?/.test(readFileSync(oracle, 'latin1'))) assert.equal(trim(want.ps), trim(readFileSync(oracle, 'latin1')), 'dump ps is crash ps');
      const formats = new Set([want.format]);
      for (const f of others) {
        const got = facts(join(dir, f));
        formats.add(got.format);
        assert.equal(got.ps, want.ps, `${f}: dump ps`);
        assert.equal(got.log, want.log, `${f}: dump log`);
        assert.equal(got.bt, want.bt, `${f}: dump bt`);
        assert.deepEqual(got.verdict, want.verdict, `${f}: verdict`);
      }
      assert.ok(formats.size > 1 || others.every((f) => /threads|reassembled|split/.test(f)), `the files are of one format only: ${[...formats].join(', ')}`);
    });
  }
});
