/** The HTML view without a browser: CSP, escaping, graph collapsing, log anchors, `extra` rendering. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { viewGraph } from '../../src/report/html/graph.ts';
import { readLogsForHtml, renderHtml } from '../../src/report/html/index.ts';
import { externalRefs } from './html-check.ts';
import { sampleLog, sampleReport } from './html-sample.ts';

const hash = (s: string) => createHash('sha256').update(s, 'utf8').digest('base64');

describe('HTML report (no browser)', () => {
  const report = sampleReport({ cpus: 64, tasks: 300 });
  const html = renderHtml(report, { logs: { 'vmcore-dmesg.txt': sampleLog(report) } });

  it('has a strict CSP whose hashes match the inline script and style', () => {
    const csp = /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/.exec(html)?.[1];
    assert.ok(csp, 'CSP meta tag');
    assert.match(csp, /default-src 'none'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]);
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]);
    assert.equal(scripts.length, 1);
    assert.equal(styles.length, 1);
    assert.ok(csp.includes(`'sha256-${hash(scripts[0])}'`), 'script hash');
    assert.ok(csp.includes(`'sha256-${hash(styles[0])}'`), 'style hash');
    assert.doesNotMatch(html, /\sstyle=/, 'no style attributes (the CSP would block them)');
    assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers');
  });

  it('links nowhere outside the page; text from the evidence is escaped', () => {
    assert.deepEqual(externalRefs(html), []);
    assert.ok(!html.includes('<script>alert'), 'a task named <script> is escaped');
    assert.ok(html.includes('&lt;script&gt;alert(0)&lt;/script&gt;'));
    assert.ok(!html.includes('<img src=x>'));
    assert.ok(!html.includes('<b>not bold</b>'));
  });

  it('collapses 64 alike CPUs and 300 hung tasks into one node each, keeping the root', () => {
    const v = viewGraph(report.graph, new Set(report.verdict.roots));
    assert.ok(v.nodes.length <= 8, `${v.nodes.length} nodes`);
    const cpus = v.nodes.find((n) => n.kind === 'cpu' && n.members.length > 1)!;
    assert.equal(cpus.members.length, 63);
    assert.equal(cpus.label, '63 CPUs: 0-2,4-63');
    const tasks = v.nodes.find((n) => n.kind === 'task' && n.members.length > 1)!;
    assert.equal(tasks.members.length, 300);
    const root = v.nodes.filter((n) => n.root);
    assert.deepEqual(root.map((n) => n.kind), ['seqcount']);
    assert.ok(v.edges.some((e) => e.from === cpus.index && e.to === root[0].index && e.count === 63));
    assert.match(html, /class="node n-seqcount root"/);
  });

  it('does not collapse a handful of nodes', () => {
    const small = sampleReport({ cpus: 4, tasks: 3 });
    const v = viewGraph(small.graph, new Set(small.verdict.roots));
    assert.equal(v.nodes.length, small.graph.nodes.length);
    assert.equal(v.edges.length, small.graph.edges.length);
  });

  it('shows the log with cited lines anchored and linked from the findings', () => {
    assert.match(html, /<span id="L0-101" class="c[^"]*">/);
    assert.match(html, /<a class="cite" href="#L0-100">vmcore-dmesg\.txt:100-110<\/a>/);
    assert.match(html, /<a class="back" href="#f-seqcount-stuck-odd-1">/);
  });

  it('without the log text, lists the events with their line numbers and links to them', () => {
    const bare = renderHtml(report);
    assert.doesNotMatch(bare, /<pre class="log">/);
    assert.match(bare, /<tr id="ev-e100" class="c"><td>100–110<\/td>/);
    assert.match(bare, /<a class="cite" href="#ev-e100">vmcore-dmesg\.txt:100-110<\/a>/);
  });

  it('renders extra generically: the spin loop as code with the polled address marked, and its value', () => {
    assert.match(html, /<pre class="code">ffffffff8112a3f0: 8b 05[^<]*<mark>ffffffff82612000<\/mark>/);
    assert.match(html, /<dt>value<\/dt><dd><code>896100417<\/code>/);
    assert.match(html, /Shared by CPUs 0-63/);
  });

  it('lists known issues with copyable references and confirm commands', () => {
    assert.match(html, /Skylake\/Kaby Lake hyper-threading erratum/);
    assert.match(html, /<div class="cmd"><code>crash&gt; p jiffies_seq<\/code><button type="button" class="copy"/);
    assert.match(html, /<div class="cmd"><code>https:\/\/example\.invalid\/erratum-SKL150<\/code>/);
  });

  it('names the sources, their notes and incompleteness', () => {
    assert.match(html, /page 0x1234000 excluded by makedumpfile -d 31/);
    assert.match(html, /badge b-off">incomplete/);
  });

  it('works for an empty, healthy report', () => {
    const r = sampleReport({ cpus: 0, tasks: 0 });
    r.findings = [];
    r.graph = { nodes: [], edges: [] };
    r.verdict = { status: 'healthy', summary: 'No evidence of a hang or crash.', roots: [], symptoms: [] };
    const h = renderHtml(r);
    assert.match(h, /<span class="status">Healthy<\/span>/);
    assert.match(h, /there is no wait-for graph/);
  });

  it('readLogsForHtml reads small log sources (CRLF, Latin-1) and skips big or unreadable ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'coroner-html-'));
    const small = join(dir, 'console.log');
    writeFileSync(small, Buffer.concat([Buffer.from('one\r\ntwo caf'), Buffer.from([0xe9]), Buffer.from('\nthree')]));
    const big = join(dir, 'big.log');
    writeFileSync(big, 'x\n'.repeat(64));
    const r = sampleReport({ cpus: 1, tasks: 0 });
    r.sources = [
      { kind: 'log', path: small, format: 'console', lines: 3, notes: [], incomplete: false },
      { kind: 'log', path: big, format: 'console', lines: 64, notes: [], incomplete: false },
      { kind: 'log', path: join(dir, 'gone.log'), format: 'console', lines: 1, notes: [], incomplete: false },
      { kind: 'log', path: '-', format: 'console', lines: 1, notes: [], incomplete: false },
    ];
    const logs = readLogsForHtml(r, 100);
    assert.deepEqual(Object.keys(logs), [small]);
    assert.deepEqual(logs[small], ['one', 'two café', 'three']);
  });
});
