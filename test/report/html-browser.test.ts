/**
 * The HTML report in a real browser: every fixture's report written by the real CLI, opened from file://
 * in Debian's chromium under its own strict CSP. Screenshots go to test-output/html/.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { diagnose } from '../../src/diagnose/index.ts';
import { buildReport } from '../../src/report/json.ts';
import type { Report } from '../../src/report/schema.ts';
import { collectEvidence } from '../../src/sources/collect.ts';
import { fixtureDirs, repoRoot, runCli } from '../helpers.ts';
import { browserUnavailable, launch, type Browser } from './browser.ts';
import { externalRefs } from './html-check.ts';
import { sampleLog, sampleReport } from './html-sample.ts';
import { renderHtml } from '../../src/report/html/index.ts';
import { writeFileSync } from 'node:fs';

const OUT = join(repoRoot, 'test-output', 'html');
const BIN = join(repoRoot, 'bin/coroner');

interface Input {
  name: string;
  path: string;
  html: string;
  code?: number | null;
  stderr?: string;
  report?: Report;
}

/** Every console.log, vmcore-dmesg.txt and scenario directory under the fixtures. */
function inputs(): Input[] {
  const out: Input[] = [];
  for (const dir of fixtureDirs()) {
    const base = `${basename(join(dir, '..'))}_${basename(dir)}`;
    for (const f of ['console.log', 'vmcore-dmesg.txt']) {
      if (existsSync(join(dir, f))) out.push({ name: `${base}_${f.replace(/\.\w+$/, '')}`, path: join(dir, f), html: join(OUT, `${base}_${f.replace(/\.\w+$/, '')}.html`) });
    }
    out.push({ name: `${base}_dir`, path: dir, html: join(OUT, `${base}_dir.html`) });
  }
  return out;
}

/** Runs `coroner analyze --format html -o` on each input, a few at a time (the CLI is mostly start-up). */
async function generate(all: Input[], parallel = 3): Promise<void> {
  let next = 0;
  const one = async (): Promise<void> => {
    while (next < all.length) {
      const inp = all[next++];
      await new Promise<void>((resolve) => {
        const p = spawn(process.execPath, [BIN, 'analyze', '--format', 'html', '-o', inp.html, inp.path], { env: { ...process.env, NO_COLOR: '1' } });
        let err = '';
        p.stderr.on('data', (d: Buffer) => (err += d.toString()));
        p.on('close', (code) => {
          inp.code = code;
          inp.stderr = err;
          resolve();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: parallel }, one));
}

const why = browserUnavailable();
const all = inputs();

describe('HTML report in chromium, every fixture through the real CLI', { skip: why ?? (all.length ? false : 'no fixtures under ../shared/fixtures') }, () => {
  let browser: Browser;

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    await Promise.all([
      generate(all),
      (async () => {
        browser = await launch();
      })(),
      // The expected verdicts, from the same pipeline in-process.
      (async () => {
        for (const inp of all) {
          const c = await collectEvidence([inp.path]);
          inp.report = buildReport(c, diagnose(c));
        }
      })(),
    ]);
  });
  after(async () => {
    await browser?.close();
  });

  it('the CLI wrote every report (exit 0 healthy / 1 problem), small, with no external reference', () => {
    for (const inp of all) {
      assert.ok(inp.code === 0 || inp.code === 1, `${inp.name}: exit ${inp.code}: ${inp.stderr}`);
      const html = readFileSync(inp.html, 'utf8');
      const size = statSync(inp.html).size;
      // Every fixture is a 4-vCPU guest.
      assert.ok(size < 300 * 1024, `${inp.name}: ${size} bytes`);
      assert.deepEqual(externalRefs(html), [], inp.name);
      assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'sha256-[^']+'; style-src 'sha256-[^']+';/);
      assert.doesNotMatch(html, /unsafe-inline/);
    }
  });

  for (const inp of all) {
    it(`${inp.name}: opens from file:// without errors or requests; verdict, graph, click-to-evidence`, async () => {
      const r = inp.report!;
      const url = pathToFileURL(inp.html).href;
      const { page, errors, requests } = await browser.open(url);
      try {
        assert.deepEqual(errors, [], 'console errors');
        assert.deepEqual(requests, [], 'network requests');
        assert.equal((await page.locator('header.top .summary').textContent())?.trim(), r.verdict.summary);
        const verdictItems = await page.locator('#verdict .vf').count();
        assert.equal(verdictItems, r.verdict.roots.length + r.verdict.symptoms.length);

        for (const rootId of r.verdict.roots) {
          const root = r.findings.find((f) => f.id === rootId)!;
          assert.ok(await page.locator(`#verdict .vf.root .vsum:text-is(${JSON.stringify(root.summary)})`).count(), `root "${root.summary}" in the verdict`);
          const nodes = r.graph.nodes.filter((n) => n.findings.includes(rootId));
          const edges = r.graph.edges.filter((e) => e.finding === rootId);
          if (nodes.length) assert.ok(await page.locator(`.graph .node[data-findings~="${rootId}"]`).count(), `graph nodes of ${rootId}`);
          if (edges.length) assert.ok(await page.locator(`.graph .edge[data-findings~="${rootId}"]`).count(), `graph edges of ${rootId}`);
        }
        if (r.graph.nodes.length) {
          assert.ok(await page.locator('.graph .node.root').count(), 'a root is highlighted');
          const node = page.locator('.graph .node.root').first();
          const ids = ((await node.getAttribute('data-findings')) ?? '').split(' ').filter(Boolean);
          await node.click();
          const panel = page.locator('#node-panel');
          assert.ok(await panel.isVisible());
          assert.match((await panel.getAttribute('class')) ?? '', /\bopen\b/);
          const f = r.findings.find((x) => x.id === ids[0])!;
          const text = (await panel.textContent()) ?? '';
          assert.ok(text.includes(f.summary), 'the panel shows the finding');
          if (f.evidence.length) assert.ok(text.includes(f.evidence[0].text), 'and its evidence');
          // Its citation leads to the cited log line (or the event) in the page.
          const cite = panel.locator('a.cite').first();
          if (await cite.count()) {
            const href = (await cite.getAttribute('href'))!;
            assert.equal(await page.locator(`[id="${href.slice(1)}"]`).count(), 1, href);
          }
        } else {
          assert.match((await page.locator('#graph').textContent()) ?? '', /no wait-for graph/);
        }
        await page.screenshot({ path: join(OUT, `${inp.name}.png`), fullPage: false });
      } finally {
        await page.close();
      }
    });
  }

  it('64 CPUs and 300 hung tasks: collapsed groups, a group node lists its members, size stays small', async () => {
    const r = sampleReport({ cpus: 64, tasks: 300 });
    const file = join(OUT, 'sample-64cpu-300tasks.html');
    writeFileSync(file, renderHtml(r, { logs: { [r.sources[0].path]: sampleLog(r) } }));
    const size = statSync(file).size;
    assert.ok(size < 600 * 1024, `${size} bytes`);
    const { page, errors, requests } = await browser.open(pathToFileURL(file).href);
    try {
      assert.ok((await page.locator('.graph .node').count()) <= 8);
      const group = page.locator('.graph .node.group.n-cpu');
      await group.click();
      const panel = page.locator('#node-panel');
      assert.equal(await panel.locator('.members li').count(), 63);
      assert.match((await panel.textContent()) ?? '', /sequence 896100417 is odd/);
      // The cited log line is one click away from the evidence.
      await panel.locator('a.cite', { hasText: 'vmcore-dmesg.txt:100-110' }).first().click();
      assert.equal(await page.evaluate(() => location.hash), '#L0-100');
      // A folded cluster unfolds when a filter picks rows in it.
      assert.equal(await page.locator('#tasks-table tr.t:visible').count(), 1);
      await page.locator('[data-filter="text"]').fill('worker/7');
      assert.ok((await page.locator('#tasks-table tr.t:visible').count()) >= 1);
      await page.locator('#graph').scrollIntoViewIfNeeded();
      await page.screenshot({ path: join(OUT, 'sample-64cpu-300tasks.png') });
      assert.deepEqual(errors, []);
      assert.deepEqual(requests, []);
    } finally {
      await page.close();
    }
  });

  it('tasks sort and filter; copy buttons copy; dark theme and print render', async () => {
    const inp = all.find((i) => i.report!.tasks.length > 1 && i.report!.findings.some((f) => f.confirm.length)) ?? all[0];
    const { page, errors } = await browser.open(pathToFileURL(inp.html).href, { colorScheme: 'dark' });
    try {
      const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      assert.equal(bg, 'rgb(15, 17, 21)', 'dark theme follows the system');
      await page.screenshot({ path: join(OUT, `${inp.name}-dark.png`) });
      if (inp.report!.tasks.length > 1) {
        await page.locator('#tasks-table th', { hasText: 'PID' }).click();
        await page.locator('#tasks-table th', { hasText: 'PID' }).click();
        const pids = await page.locator('#tasks-table tr.t td:first-child').allTextContents();
        const inBody = pids.map(Number);
        assert.ok(inBody.length >= 1);
        const state = inp.report!.tasks[0].state ?? '?';
        await page.locator('[data-filter="state"]').selectOption(state);
        const visible = await page.locator('#tasks-table tr.t:visible').count();
        assert.equal(visible, inp.report!.tasks.filter((t) => (t.state ?? '?') === state).length);
      }
      const copy = page.locator('button.copy').first();
      if (await copy.count()) {
        await copy.click();
        await page.waitForFunction(() => document.querySelector('button.copy')?.textContent !== 'copy', undefined, { timeout: 2000 });
        assert.match((await copy.textContent()) ?? '', /copied|select/);
      }
      await page.emulateMedia({ media: 'print', colorScheme: 'light' });
      assert.equal(await page.locator('nav.toc').isVisible(), false, 'print hides the navigation');
      await page.screenshot({ path: join(OUT, `${inp.name}-print.png`) });
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});

describe('analyze --format html to stdout', () => {
  it('writes one page to stdout', { skip: all.length ? false : 'no fixtures' }, () => {
    const r = runCli(['analyze', '--format', 'html', all[0].path]);
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    assert.match(r.stdout, /^<!doctype html>/);
    assert.match(r.stdout, /<\/html>\n$/);
  });
});
