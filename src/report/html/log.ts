/**
 * The kernel log: the lines of each source the caller passed, cited lines highlighted with links back to
 * their findings; for a source without its lines, the events with their line numbers.
 */
import type { Report } from '../schema.ts';
import { esc, eventAnchor, findingAnchor, lineAnchor } from './esc.ts';
import type { PageContext } from './findings.ts';

/** Above this many lines only windows around events and cited lines are shown. */
const FULL_LOG_LINES = 4000;
const CONTEXT = 15;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

interface Span {
  from: number;
  to: number;
  findings: string[];
}

function citedSpans(report: Report, source: string): Span[] {
  const spans: Span[] = [];
  for (const f of report.findings) {
    for (const e of f.evidence) {
      if (e.source !== source || e.line === undefined) continue;
      spans.push({ from: e.line, to: Math.max(e.line, e.endLine ?? e.line), findings: [f.id] });
    }
  }
  return spans;
}

function logView(ctx: PageContext, source: string, si: number, lines: string[]): string {
  const r = ctx.report;
  const events = r.events.filter((e) => e.source === source);
  const cited = new Set<number>();
  const backlinks = new Map<number, Set<string>>();
  for (const s of citedSpans(r, source)) {
    for (let l = s.from; l <= s.to && l <= lines.length; l++) cited.add(l);
    const set = backlinks.get(s.from) ?? new Set<string>();
    s.findings.forEach((f) => set.add(f));
    backlinks.set(s.from, set);
  }
  const eventAt = new Map<number, Report['events'][number]>();
  for (const e of events) if (!eventAt.has(e.line)) eventAt.set(e.line, e);
  const inEvent = new Set<number>();
  for (const e of events) for (let l = e.line; l <= e.endLine && l <= lines.length; l++) inEvent.add(l);

  let show: (n: number) => boolean = () => true;
  if (lines.length > FULL_LOG_LINES) {
    const keep = new Set<number>();
    const around = (a: number, b: number) => {
      for (let l = Math.max(1, a - CONTEXT); l <= Math.min(lines.length, b + CONTEXT); l++) keep.add(l);
    };
    for (const e of events) around(e.line, e.endLine);
    for (const l of cited) around(l, l);
    show = (n) => keep.has(n);
  }
  const out: string[] = [];
  let skipped = 0;
  for (let n = 1; n <= lines.length; n++) {
    if (!show(n)) {
      skipped++;
      continue;
    }
    if (skipped) {
      out.push(`<span class="gap">… ${skipped} lines not shown …</span>`);
      skipped = 0;
    }
    const ev = eventAt.get(n);
    const cls = [cited.has(n) ? 'c' : '', ev ? 'e' : '', inEvent.has(n) ? 'in' : ''].filter(Boolean).join(' ');
    const back = backlinks.get(n);
    out.push(
      `<span id="${lineAnchor(si, n)}"${cls ? ` class="${cls}"` : ''}><a class="n" href="#${lineAnchor(si, n)}">${n}</a>` +
        `${esc(lines[n - 1].replace(/\r$/, '').replace(CONTROL, '\uFFFD'))}` +
        (back ? [...back].map((f) => `<a class="back" href="#${findingAnchor(f)}">${esc(f)}</a>`).join('') : '') +
        (ev ? `<i id="${eventAnchor(ev.id)}"></i>` : '') +
        `</span>`,
    );
  }
  if (skipped) out.push(`<span class="gap">… ${skipped} lines not shown …</span>`);
  return `<pre class="log">${out.join('')}</pre>`;
}

function eventsTable(ctx: PageContext, source: string): string {
  const events = ctx.report.events.filter((e) => e.source === source);
  if (!events.length) return '<p class="muted">No kernel reports found in this source.</p>';
  const cited = new Set<string>();
  for (const f of ctx.report.findings) for (const e of f.evidence) {
    if (e.source !== source || e.line === undefined) continue;
    for (const ev of events) if (ev.line <= e.line && e.line <= ev.endLine) cited.add(ev.id);
  }
  return (
    `<div class="scroll"><table class="events"><thead><tr><th>lines</th><th>time</th><th>kind</th><th>CPU</th><th>task</th><th>report</th></tr></thead><tbody>` +
    events
      .map(
        (e) =>
          `<tr id="${eventAnchor(e.id)}"${cited.has(e.id) ? ' class="c"' : ''}><td>${e.line}${e.endLine > e.line ? `–${e.endLine}` : ''}</td><td>${e.timestamp === null ? '' : e.timestamp.toFixed(3)}</td>` +
          `<td>${esc(e.kind)}</td><td>${e.cpu ?? ''}</td><td>${e.task ? `${esc(e.task.comm)}:${e.task.pid}` : ''}</td><td>${esc(e.title)}${
            e.culprit ? ` <span class="muted">in ${esc(e.culprit.function)}${e.culprit.module ? ` [${esc(e.culprit.module)}]` : ''}</span>` : ''
          }</td></tr>`,
      )
      .join('') +
    `</tbody></table></div>`
  );
}

export function logSection(ctx: PageContext): string {
  const r = ctx.report;
  const sources = [...new Set([...r.sources.map((s) => s.path), ...r.events.map((e) => e.source)])];
  const parts: string[] = [];
  for (const source of sources) {
    const si = ctx.logIndex.get(source);
    const lines = ctx.logs[source];
    const n = r.events.filter((e) => e.source === source).length;
    if (si !== undefined && lines) {
      const evs = r.events.filter((e) => e.source === source);
      const jump = evs.length
        ? `<ol class="jump">${evs.slice(0, 60).map((e) => `<li><a href="#${lineAnchor(si, e.line)}"><span class="muted">${e.line}</span> ${esc(e.title)}</a></li>`).join('')}${evs.length > 60 ? `<li class="muted">+${evs.length - 60} more</li>` : ''}</ol>`
        : '';
      parts.push(`<h3><code>${esc(source)}</code> <span class="muted">${lines.length} lines, ${n} reports; cited lines highlighted</span></h3>${jump}${logView(ctx, source, si, lines)}`);
    } else if (n || r.sources.find((s) => s.path === source)?.kind === 'log') {
      parts.push(`<h3><code>${esc(source)}</code> <span class="muted">${n} reports (the log text is not in this page)</span></h3>${eventsTable(ctx, source)}`);
    }
  }
  return parts.length ? parts.join('') : '<p class="muted">No kernel log in the evidence.</p>';
}
