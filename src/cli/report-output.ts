/** A diagnosed CaseFile -> the report in the format asked for, written out, with the exit code set. */
import type { CaseFile } from '../model/casefile.ts';
import { EXIT_OK, EXIT_PROBLEM } from '../model/errors.ts';
import type { EvidenceSource } from '../model/evidence.ts';
import type { Report } from '../report/schema.ts';
import { emit, useColor } from './output.ts';

/** Adds what the sources know of their boots (sources/incidents.ts) to the report: per source, and when evidence was mixed. */
export function addEvidenceFields(report: Report, c: CaseFile): void {
  const sources = c.sources as EvidenceSource[];
  report.sources.forEach((r, i) => {
    const s = sources[i];
    if (!s) return;
    if (s.boot && Object.keys(s.boot).length) r.boot = { ...s.boot };
    if (s.boots) r.boots = s.boots.map((b) => ({ ...b }));
    if (s.used !== undefined) r.used = s.used;
  });
  const left = sources.filter((s) => s.used === false);
  const releases = [...new Set(sources.map((s) => s.boot?.release).filter((x): x is string => !!x))];
  if (left.length) {
    report.mixedEvidence = {
      releases,
      analysed: sources.filter((s) => s.used !== false).map((s) => s.path),
      leftOut: left.map((s) => ({ path: s.path, release: s.boot?.release ?? null, reason: s.notes.find((n) => n.startsWith('left out')) ?? 'another boot' })),
    };
  }
}

export type ReportFormat = 'text' | 'json' | 'html';

/** Diagnoses `c`, renders the report (modules loaded lazily) and sets the exit code: 0 healthy, 1 otherwise. */
export async function writeReport(c: CaseFile, format: ReportFormat, output: string | undefined): Promise<void> {
  const { diagnose } = await import('../diagnose/index.ts');
  const { buildReport } = await import('../report/json.ts');
  const d = diagnose(c);
  const report = buildReport(c, d);
  addEvidenceFields(report, c);
  let text: string;
  if (format === 'json') text = JSON.stringify(report, null, 2) + '\n';
  else if (format === 'html') {
    const { readLogsForHtml, renderHtml } = await import('../report/html/index.ts');
    const logs = readLogsForHtml(report);
    // A compressed log's file holds no lines to show: its events stand in for the text.
    for (const s of report.sources) if (/-compressed$/.test(s.format)) delete logs[s.path];
    text = renderHtml(report, { logs });
  } else text = (await import('../report/text.ts')).renderText(report, { color: useColor(output) });
  await emit(text, output);
  process.exitCode = d.verdict.status === 'healthy' ? EXIT_OK : EXIT_PROBLEM;
}
