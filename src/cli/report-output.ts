/** A diagnosed CaseFile -> the report in the format asked for, written out, with the exit code set. */
import type { CaseFile } from '../model/casefile.ts';
import { EXIT_OK, EXIT_PROBLEM } from '../model/errors.ts';
import { emit, useColor } from './output.ts';

export type ReportFormat = 'text' | 'json' | 'html';

/** Diagnoses `c`, renders the report (modules loaded lazily) and sets the exit code: 0 healthy, 1 otherwise. */
export async function writeReport(c: CaseFile, format: ReportFormat, output: string | undefined): Promise<void> {
  const { diagnose } = await import('../diagnose/index.ts');
  const { buildReport } = await import('../report/json.ts');
  const d = diagnose(c);
  const report = buildReport(c, d);
  let text: string;
  if (format === 'json') text = JSON.stringify(report, null, 2) + '\n';
  else if (format === 'html') {
    const { readLogsForHtml, renderHtml } = await import('../report/html/index.ts');
    text = renderHtml(report, { logs: readLogsForHtml(report) });
  } else text = (await import('../report/text.ts')).renderText(report, { color: useColor(output) });
  await emit(text, output);
  process.exitCode = d.verdict.status === 'healthy' ? EXIT_OK : EXIT_PROBLEM;
}
