/** The HTML view: one self-contained file (inline JS/CSS, strict CSP, no network). */
import type { Report } from '../schema.ts';

export function renderHtml(report: Report): string {
  const esc = (s: string) => s.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>Coroner report</title></head><body><h1>${esc(report.verdict.status)}</h1><p>${esc(report.verdict.summary)}</p></body></html>\n`;
}
