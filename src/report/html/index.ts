/**
 * The HTML view: one self-contained file (inline script and style allowed by hash in a strict CSP, no
 * network) with the verdict, the wait-for graph, per-CPU cards, tasks, the kernel log and the sources.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { Report, ReportFinding } from '../schema.ts';
import { assets } from './assets.ts';
import { esc, findingAnchor, plural } from './esc.ts';
import { findingArticle, knownIssuesSection, verdictList, type PageContext } from './findings.ts';
import { graphSvg, kindName, viewGraph } from './graph.ts';
import { logSection } from './log.ts';
import { cpuSection, systemSection, taskSection } from './machine.ts';

export interface HtmlOptions {
  /** The lines of each log source (keyed by the report's source path): shown with cited lines highlighted. */
  logs?: Record<string, string[]>;
}

/** Logs larger than this are not put in the page (the events stand in for them). */
export const MAX_LOG_BYTES = 5 * 1024 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** One line's bytes as text: UTF-8 where valid, else Latin-1 (as the log parser reads it); CR stripped. */
function decode(b: Buffer): string {
  const end = b.length && b[b.length - 1] === 0x0d ? b.length - 1 : b.length;
  const s = b.subarray(0, end);
  try {
    return utf8.decode(s);
  } catch {
    return s.toString('latin1');
  }
}

/**
 * The lines of the report's log sources that are small files (< 5 MB), for `renderHtml`'s `logs`.
 * A source that cannot be read again (stdin, gone, too big) is left out: the page shows its events instead.
 */
export function readLogsForHtml(report: Report, maxBytes = MAX_LOG_BYTES): Record<string, string[]> {
  const logs: Record<string, string[]> = {};
  for (const s of report.sources) {
    if (s.kind !== 'log' || s.path === '-' || s.path in logs) continue;
    try {
      const st = statSync(s.path);
      if (!st.isFile() || st.size > maxBytes) continue;
      const buf = readFileSync(s.path);
      const lines: string[] = [];
      let start = 0;
      for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
        lines.push(decode(buf.subarray(start, nl)));
        start = nl + 1;
      }
      if (start < buf.length) lines.push(decode(buf.subarray(start)));
      logs[s.path] = lines;
    } catch {
      // Unreadable now: the events stand in for the text.
    }
  }
  return logs;
}

const sha256 = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`;

function graphSection(ctx: PageContext): string {
  const r = ctx.report;
  if (!r.graph.nodes.length) {
    return '<p class="muted">No waits between CPUs, tasks and kernel objects were found: there is no wait-for graph.</p>';
  }
  const rootFindings = new Set(r.verdict.roots);
  const { svg, view } = graphSvg(viewGraph(r.graph, rootFindings));
  const collapsed = view.nodes.filter((n) => n.members.length > 1);
  const members = collapsed
    .map((n) => `<template id="gm-${n.index}"><p class="muted">${plural(n.members.length, kindName(n.kind))}:</p><ul class="members">${n.memberLabels.map((l) => `<li>${esc(l)}</li>`).join('')}</ul></template>`)
    .join('');
  const kinds = [...new Set(view.nodes.map((n) => n.kind))];
  const legend =
    `<div class="legend">${kinds.map((k) => `<span class="lg n-${esc(k)}"><svg width="14" height="10" aria-hidden="true"><rect width="14" height="10" rx="3"/></svg>${esc(kindName(k))}</span>`).join('')}` +
    `<span class="lg root"><svg width="14" height="10" aria-hidden="true"><rect width="14" height="10" rx="3"/></svg>root</span>` +
    (collapsed.length ? `<span class="muted">stacked boxes are groups of alike nodes</span>` : '') +
    `<span class="muted">arrows point from the waiter to what it waits for · click a node for its evidence</span></div>`;
  return (
    `${legend}<div class="graphwrap"><div class="graphbox">${svg}</div>` +
    `<aside id="node-panel" class="panel" aria-live="polite"><p class="muted hint">Click a node (or focus it and press Enter) to see the findings that put it in the graph and their evidence.</p></aside></div>${members}` +
    `<p class="muted small">${plural(r.graph.nodes.length, 'node')} and ${plural(r.graph.edges.length, 'edge')} in the report, drawn as ${plural(view.nodes.length, 'node')} and ${plural(view.edges.length, 'edge')}.</p>`
  );
}

function header(r: Report): string {
  const v = r.verdict;
  const status = v.status === 'problem' ? 'Problem found' : v.status === 'healthy' ? 'Healthy' : 'Inconclusive';
  const s = r.system;
  const bits = [s.release && `Linux ${s.release}`, s.arch, s.hardware, s.cpus !== null && plural(s.cpus, 'CPU'), s.taint && `taint ${s.taint}`].filter(Boolean) as string[];
  const kinds = [...new Set(r.sources.map((x) => x.kind))];
  return (
    `<header class="top st-${v.status}"><div class="brand">Coroner <span class="muted">${esc(r.tool.version)}</span></div>` +
    `<h1><span class="status">${status}</span></h1><p class="summary">${esc(v.summary)}</p>` +
    `<p class="sysline">${bits.map(esc).join(' · ')}${bits.length ? ' · ' : ''}evidence: ${esc(kinds.join(', ') || 'none')} (${plural(r.sources.length, 'source')})</p>` +
    (r.incomplete ? '<p class="warn">Some evidence was damaged or only partly read: results are partial (see Evidence).</p>' : '') +
    `</header>`
  );
}

function nav(r: Report): string {
  const items: Array<[string, string]> = [
    ['verdict', 'Verdict'],
    ['graph', 'Wait-for graph'],
    ['findings', `Findings (${r.findings.length})`],
    ['cpus', `CPUs (${r.cpus.length})`],
    ['tasks', `Tasks (${r.tasks.length})`],
    ['log', 'Kernel log'],
    ['known', 'Known issues'],
    ['system', 'System & evidence'],
  ];
  return `<nav class="toc">${items.map(([id, t]) => `<a href="#${id}">${esc(t)}</a>`).join('')}</nav>`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${esc(title)}</h2>${body}</section>`;
}

function findingsSection(ctx: PageContext): string {
  const r = ctx.report;
  const order = [...r.verdict.roots, ...r.verdict.symptoms];
  const rest = r.findings.filter((f) => !order.includes(f.id)).map((f) => f.id);
  const all = [...order, ...rest].map((id) => ctx.findings.get(id)).filter((f): f is ReportFinding => !!f);
  if (!all.length) return '<p class="muted">No findings.</p>';
  return all.map((f) => findingArticle(ctx, f)).join('');
}

/** Renders the report as one HTML page. Synchronous: esbuild's build API runs in sync mode. */
export function renderHtml(report: Report, opts: HtmlOptions = {}): string {
  const logs = opts.logs ?? {};
  const logIndex = new Map<string, number>();
  for (const path of Object.keys(logs)) if (Array.isArray(logs[path])) logIndex.set(path, logIndex.size);
  const ctx: PageContext = { report, findings: new Map(report.findings.map((f) => [f.id, f])), logIndex, logs };
  const { script, style } = assets();
  const csp = [
    "default-src 'none'",
    `script-src ${sha256(script)}`,
    `style-src ${sha256(style)}`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
  const v = report.verdict;
  const title = `Coroner: ${v.status}${report.system.release ? ` (${report.system.release})` : ''}`;
  const body = [
    header(report),
    nav(report),
    '<main>',
    section('verdict', 'Verdict', verdictList(ctx) || `<p class="muted">${v.status === 'healthy' ? 'Nothing wrong was found in the evidence.' : 'No finding.'}</p>`),
    section('graph', 'Wait-for graph', graphSection(ctx)),
    section('findings', 'Findings', findingsSection(ctx)),
    section('cpus', 'CPUs', cpuSection(ctx)),
    section('tasks', 'Tasks', taskSection(ctx)),
    section('log', 'Kernel log', logSection(ctx)),
    section('known', 'Known issues', knownIssuesSection(ctx)),
    section('system', 'System & evidence', systemSection(ctx)),
    '</main>',
    `<footer class="muted">Generated by coroner ${esc(report.tool.version)} · report schema v${report.schemaVersion} · roots: ${
      v.roots.map((id) => `<a href="#${findingAnchor(id)}">${esc(id)}</a>`).join(', ') || 'none'
    }</footer>`,
  ].join('\n');
  return (
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8">\n` +
    `<meta http-equiv="Content-Security-Policy" content="${csp}">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">\n` +
    `<meta name="referrer" content="no-referrer">\n<title>${esc(title)}</title>\n<style>${style}</style></head>\n` +
    `<body>\n${body}\n<script>${script}</script>\n</body></html>\n`
  );
}
