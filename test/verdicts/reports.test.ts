/**
 * The report corpus: real kernel reports from public sources (test/verdicts/reports/<origin>/<id>.txt, verbatim), each
 * with the title and guilty frame a kernel engineer gives it (<id>.json). Every report runs through `coroner triage`'s
 * path; the log's first report must be found, titled and blamed on the same function. The table of misses is printed;
 * the share of agreeing guilty frames must not fall below the floor.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { triageFile } from '../../src/fleet/triage.ts';
import { baseName } from '../../src/sources/log/skip.ts';
import { repoRoot } from '../helpers.ts';

/** Guilty frames that must agree (raise as the rules improve; the target is 0.9). */
const FLOOR = 0.9;

interface Sidecar {
  source: string;
  origin?: string;
  title: string;
  guilty: string | null;
  kind?: string;
  corrupted?: boolean;
  bug?: string | null;
}

interface Case {
  id: string;
  file: string;
  spec: Sidecar;
}

const root = join(repoRoot, 'test/verdicts/reports');
const cases: Case[] = existsSync(root)
  ? readdirSync(root, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .flatMap((d) =>
        readdirSync(join(root, d.name))
          .filter((f) => f.endsWith('.txt') && existsSync(join(root, d.name, f.replace(/\.txt$/, '.json'))))
          .map((f) => ({
            id: `${d.name}/${f.replace(/\.txt$/, '')}`,
            file: join(root, d.name, f),
            spec: JSON.parse(readFileSync(join(root, d.name, f.replace(/\.txt$/, '.json')), 'utf8')) as Sidecar,
          })),
      )
      .sort((a, b) => a.id.localeCompare(b.id))
  : [];

/** Titles compare without a trailing ` (2)` and without case or spacing differences. */
const normTitle = (t: string | null | undefined) => (t ?? '').replace(/\s+\(\d+\)$/, '').replace(/\s+/g, ' ').trim().toLowerCase();
/** A KCSAN pair (`a / b`) is blamed on its first function. */
const normFn = (f: string | null | undefined) => (f ? baseName(f.replace(/\s*\/.*$/, '').replace(/\s*\[.*$/, '')) : null);

test(`report corpus: guilty frames and titles of ${cases.length} real reports`, async () => {
  if (!cases.length) return;
  const rows: string[] = [];
  let frameOk = 0;
  let titleOk = 0;
  let detected = 0;
  const byKind = new Map<string, { n: number; ok: number }>();
  for (const c of cases) {
    const [r] = await triageFile(c.file);
    const want = c.spec.corrupted ? null : normFn(c.spec.guilty);
    const got = r.corrupted ? null : normFn(r.guilty);
    const okFrame = want === got;
    const okTitle = normTitle(r.title) === normTitle(c.spec.title);
    if (r.title) detected++;
    if (okFrame) frameOk++;
    if (okTitle) titleOk++;
    const k = c.spec.kind ?? 'other';
    const s = byKind.get(k) ?? { n: 0, ok: 0 };
    s.n++;
    if (okFrame) s.ok++;
    byKind.set(k, s);
    if (!okFrame || !okTitle) rows.push(`| ${c.id} | ${okFrame ? 'ok' : `${want ?? '(none)'} ≠ ${got ?? (r.corrupted ? `(corrupted: ${r.corrupted})` : '(none)')}`} | ${okTitle ? 'ok' : `${c.spec.title} ≠ ${r.title ?? '(none)'}`} |`);
  }
  const pct = (n: number) => `${((100 * n) / cases.length).toFixed(1)}%`;
  const kinds = [...byKind.entries()].sort((a, b) => b[1].n - a[1].n).map(([k, s]) => `| ${k} | ${s.n} | ${s.ok} | ${((100 * s.ok) / s.n).toFixed(0)}% |`);
  console.log(
    [
      `\nReport corpus: ${cases.length} reports; detected ${detected} (${pct(detected)}); guilty frame agrees on ${frameOk} (${pct(frameOk)}); title agrees on ${titleOk} (${pct(titleOk)})`,
      '',
      '| kind | reports | frame agrees | share |',
      '| --- | --- | --- | --- |',
      ...kinds,
      '',
      `Misses (${rows.length}):`,
      '| report | guilty frame (expected ≠ got) | title (expected ≠ got) |',
      '| --- | --- | --- |',
      ...rows,
    ].join('\n'),
  );
  assert.ok(frameOk / cases.length >= FLOOR, `guilty frame agrees on ${pct(frameOk)} of ${cases.length} reports, below the floor of ${FLOOR * 100}%`);
});

test('triage signatures: one bug reported on several kernels groups; different bugs blamed on one function stay apart', async () => {
  const recs = new Map<string, { sig: string; spec: Sidecar }>();
  for (const c of cases) {
    if (c.spec.corrupted) continue;
    const [r] = await triageFile(c.file);
    recs.set(c.id, { sig: r.signature, spec: c.spec });
  }
  const list = [...recs.entries()];
  let same = 0;
  let apart = 0;
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const [ia, a] = list[i];
      const [ib, b] = list[j];
      if (a.spec.bug && a.spec.bug === b.spec.bug) {
        same++;
        assert.equal(a.sig, b.sig, `${ia} and ${ib} are one bug (${a.spec.bug}) and must share a signature`);
      } else if (a.spec.guilty && a.spec.guilty === b.spec.guilty && a.spec.kind !== b.spec.kind && a.spec.bug !== b.spec.bug) {
        apart++;
        assert.notEqual(a.sig, b.sig, `${ia} (${a.spec.title}) and ${ib} (${b.spec.title}) are different bugs in one function`);
      }
    }
  }
  console.log(`signature pairs checked: ${same} of one bug, ${apart} of different bugs in one function`);
});
