/** The verdict, the findings with their reasoning and evidence, `extra` fields, known issues. */
import { chainOf } from '../chain.ts';
import type { Report, ReportFinding } from '../schema.ts';
import { confidenceLabel, esc, eventAnchor, findingAnchor, lineAnchor, ranges } from './esc.ts';

type Evidence = ReportFinding['evidence'][number];

/** What the page knows while rendering: lookups shared by the sections. */
export interface PageContext {
  report: Report;
  findings: Map<string, ReportFinding>;
  /** Log source path -> index (for line anchors), only for sources whose lines are in the page. */
  logIndex: Map<string, number>;
  logs: Record<string, string[]>;
}

/** Link to the log line(s) of a piece of evidence, else to the event that covers it, else plain text. */
export function citeLink(ctx: PageContext, source: string, line: number | undefined, text: string): string {
  if (line !== undefined) {
    const si = ctx.logIndex.get(source);
    if (si !== undefined && line >= 1 && line <= (ctx.logs[source]?.length ?? 0)) return `<a class="cite" href="#${lineAnchor(si, line)}">${esc(text)}</a>`;
    const ev = ctx.report.events.find((e) => e.source === source && e.line <= line && line <= e.endLine);
    if (ev) return `<a class="cite" href="#${eventAnchor(ev.id)}">${esc(text)}</a>`;
  }
  return `<span class="cite">${esc(text)}</span>`;
}

/** The citation with a long source path shortened to its file name (the full path is in the Evidence section). */
function shortCite(e: Evidence): string {
  const base = e.source.split('/').pop() ?? e.source;
  const cite = e.source && e.cite.startsWith(e.source) ? base + e.cite.slice(e.source.length) : e.cite;
  return e.address && !cite.includes(e.address) ? `${cite} @${e.address}` : cite;
}

function evidenceItem(ctx: PageContext, e: Evidence): string {
  const where = shortCite(e);
  return `<li><span class="etext">${esc(e.text)}</span> ${citeLink(ctx, e.source, e.line, where)}</li>`;
}

export function confidenceBar(c: number): string {
  const pct = Math.round(c * 100);
  return (
    `<span class="conf conf-${confidenceLabel(c)}" title="confidence ${c.toFixed(2)}">` +
    `<svg viewBox="0 0 100 8" width="56" height="8" aria-hidden="true"><rect class="bg" width="100" height="8" rx="4"/><rect class="fg" width="${Math.max(4, pct)}" height="8" rx="4"/></svg>` +
    `${confidenceLabel(c)} ${pct}%</span>`
  );
}

export function roleBadge(role: string): string {
  return `<span class="badge ${role === 'root' ? 'b-root' : 'b-symptom'}">${role === 'root' ? 'root cause' : 'symptom'}</span>`;
}

export function copyable(cmd: string): string {
  return `<div class="cmd"><code>${esc(cmd)}</code><button type="button" class="copy" aria-label="copy command">copy</button></div>`;
}

/** The list at the top of the page: roots, then symptoms, one line of why each. */
export function verdictList(ctx: PageContext): string {
  const v = ctx.report.verdict;
  const item = (id: string) => {
    const f = ctx.findings.get(id);
    if (!f) return '';
    const why = f.steps[0] ?? '';
    return (
      `<li class="vf ${f.role}">${roleBadge(f.role)}<div class="vbody"><a class="vsum" href="#${findingAnchor(f.id)}">${esc(f.summary)}</a>` +
      `<div class="vmeta">${confidenceBar(f.confidence)}<span class="kind">${esc(f.kind)}</span>${f.knownIssue ? `<span class="badge b-known">known issue</span>` : ''}</div>` +
      (why ? `<div class="why">${esc(why)}</div>` : '') +
      `</div></li>`
    );
  };
  const parts: string[] = [];
  if (v.roots.length) parts.push(`<h3>Root cause${v.roots.length > 1 ? 's' : ''}</h3><ol class="vlist">${v.roots.map(item).join('')}</ol>`);
  if (v.symptoms.length) parts.push(`<h3>Symptoms</h3><ol class="vlist">${v.symptoms.map(item).join('')}</ol>`);
  return parts.join('');
}

const CODE_KEYS = /^(loop|code|instructions|disassembly|dis|asm|lines|trace|stack|output)$/i;

function humanKey(k: string): string {
  return k.replace(/([a-z])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
}

/** Marks occurrences of `needle` (an address the finding polls) inside already escaped text. */
function mark(escaped: string, needles: string[]): string {
  let out = escaped;
  for (const n of needles) {
    if (n.length < 4) continue;
    const e = esc(n).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out.replace(new RegExp(`(?:0x)?${e}`, 'gi'), (m) => `<mark>${m}</mark>`);
  }
  return out;
}

function scalar(v: unknown): string {
  if (typeof v === 'string') return `<code>${esc(v)}</code>`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return `<code>${esc(String(v))}</code>`;
  return `<code>${esc(JSON.stringify(v))}</code>`;
}

function value(key: string, v: unknown, needles: string[], depth: number): string {
  if (Array.isArray(v)) {
    if (!v.length) return '<span class="muted">none</span>';
    if (v.every((x) => typeof x === 'string')) {
      const long = CODE_KEYS.test(key) || v.length > 3 || v.some((x) => (x as string).length > 40);
      if (long) return `<pre class="code">${mark(v.map((x) => esc(x)).join('\n'), needles)}</pre>`;
      return v.map((x) => `<code>${esc(x)}</code>`).join(' ');
    }
    if (v.length > 8 && v.every((x) => Number.isInteger(x))) return `<code>${esc(ranges(v as number[]))}</code> <span class="muted">(${v.length})</span>`;
    if (v.every((x) => typeof x === 'number' || typeof x === 'boolean')) return `<code>${esc(v.join(', '))}</code>`;
    if (v.every((x) => x && typeof x === 'object' && !Array.isArray(x))) {
      const rows = v as Array<Record<string, unknown>>;
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      const cell = (x: unknown) => (x === undefined ? '' : typeof x === 'object' && x !== null ? esc(JSON.stringify(x)) : esc(String(x)));
      return (
        `<div class="scroll"><table class="xt"><thead><tr>${cols.map((c) => `<th>${esc(humanKey(c))}</th>`).join('')}</tr></thead><tbody>` +
        rows.map((r) => `<tr>${cols.map((c) => `<td>${mark(cell(r[c]), needles)}</td>`).join('')}</tr>`).join('') +
        `</tbody></table></div>`
      );
    }
    return `<pre class="code">${esc(JSON.stringify(v, null, 1))}</pre>`;
  }
  if (v && typeof v === 'object') {
    if (depth > 2) return `<pre class="code">${esc(JSON.stringify(v, null, 1))}</pre>`;
    return extraList(v as Record<string, unknown>, needles, depth + 1);
  }
  if (typeof v === 'string' && v.includes('\n')) return `<pre class="code">${mark(esc(v), needles)}</pre>`;
  return scalar(v);
}

function extraList(extra: Record<string, unknown>, needles: string[], depth: number): string {
  const keys = Object.keys(extra);
  if (!keys.length) return '';
  return `<dl class="extra">${keys.map((k) => `<dt>${esc(humanKey(k))}</dt><dd>${value(k, extra[k], needles, depth)}</dd>`).join('')}</dl>`;
}

/** Any finding's `extra`, generically: scalars as key/value, string arrays as code, object arrays as tables. */
export function renderExtra(extra: Record<string, unknown>, skip: string[] = []): string {
  const shown = Object.fromEntries(Object.entries(extra).filter(([k]) => !skip.includes(k)));
  const needles = ['address', 'polledAddress', 'lockAddress']
    .map((k) => extra[k])
    .filter((x): x is string => typeof x === 'string');
  return extraList(shown, needles, 0);
}

export function knownIssueBlock(k: NonNullable<ReportFinding['knownIssue']>): string {
  return (
    `<div class="known"><div><span class="badge b-known">known issue</span> <strong>${esc(k.title)}</strong> <span class="muted">${esc(k.id)}</span></div>` +
    (k.fix ? `<p>Fix: ${esc(k.fix)}</p>` : '') +
    (k.differences?.length ? `<p>Differs from the known issue:</p><ul>${k.differences.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>` : '') +
    (k.references.length ? `<div class="refs">References:${k.references.map((r) => copyable(r)).join('')}</div>` : '') +
    `</div>`
  );
}

const EVIDENCE_SHOWN = 12;

/** One finding in full: the article that the graph panel clones when a node is clicked. */
export function findingArticle(ctx: PageContext, f: ReportFinding): string {
  const causes = f.causedBy
    .map((id) => ctx.findings.get(id))
    .filter((x): x is ReportFinding => !!x)
    .map((c) => `<a href="#${findingAnchor(c.id)}">${esc(c.id)}</a>`);
  const ev = f.evidence;
  const evHtml = ev.length
    ? `<h4>Evidence</h4><ul class="evidence">${ev.slice(0, EVIDENCE_SHOWN).map((e) => evidenceItem(ctx, e)).join('')}</ul>` +
      (ev.length > EVIDENCE_SHOWN ? `<details><summary>${ev.length - EVIDENCE_SHOWN} more</summary><ul class="evidence">${ev.slice(EVIDENCE_SHOWN).map((e) => evidenceItem(ctx, e)).join('')}</ul></details>` : '')
    : '<p class="muted">No evidence recorded.</p>';
  const extra = renderExtra(f.extra);
  const chain = f.role === 'root' ? chainOf(ctx.report, f) : undefined;
  return (
    `<article class="finding ${f.role}" id="${findingAnchor(f.id)}" data-finding="${esc(f.id)}">` +
    `<header>${roleBadge(f.role)}<h3>${esc(f.summary)}</h3><div class="vmeta">${confidenceBar(f.confidence)}<span class="kind">${esc(f.kind)}</span><span class="muted">${esc(f.id)}</span>` +
    (causes.length ? `<span class="muted">caused by ${causes.join(', ')}</span>` : '') +
    `</div></header>` +
    (f.knownIssue ? knownIssueBlock(f.knownIssue) : '') +
    (chain ? `<p class="chain"><span class="muted">chain:</span> ${chain.map((x) => esc(x)).join(' &rarr; ')}</p>` : '') +
    (f.steps.length ? `<h4>Why</h4><ol class="steps">${f.steps.map((s) => `<li>${esc(s)}</li>`).join('')}</ol>` : '') +
    evHtml +
    (extra ? `<h4>Details</h4>${extra}` : '') +
    (f.confirm.length ? `<h4>How to confirm</h4>${f.confirm.map(copyable).join('')}` : '') +
    `</article>`
  );
}

export function knownIssuesSection(ctx: PageContext): string {
  const withKnown = ctx.report.findings.filter((f) => f.knownIssue);
  if (!withKnown.length) return '<p class="muted">No finding matches a known issue in the knowledge base.</p>';
  return withKnown
    .map((f) => `<div class="kcard"><a href="#${findingAnchor(f.id)}">${esc(f.summary)}</a>${knownIssueBlock(f.knownIssue!)}</div>`)
    .join('');
}
