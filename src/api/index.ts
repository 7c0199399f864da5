/**
 * The library API (package export `coroner`): the same verdict `coroner analyze` prints, as the JSON report object, and
 * the dump reader of `coroner/dump`.
 *
 *   import { analyze } from 'coroner';
 *   const report = await analyze(['vmcore', 'console.log']);
 *   console.log(report.verdict.status, report.verdict.summary);
 */
import type { Report } from '../report/schema.ts';

export type { Report } from '../report/schema.ts';
export { openDump, type OpenedDump, type DumpTask, type DumpCpu, type DumpStackFrame, type DumpSymbol } from './dump.ts';

/** Reads every piece of evidence (vmcores, kernel logs, pasted crash/perf text) and diagnoses it: the JSON report. */
export async function analyze(paths: string[], opts: { systemMap?: string } = {}): Promise<Report> {
  const { collectEvidence } = await import('../sources/collect.ts');
  const { diagnose } = await import('../diagnose/index.ts');
  const { buildReport } = await import('../report/json.ts');
  const { addEvidenceFields } = await import('../cli/report-output.ts');
  const c = await collectEvidence(paths, { systemMap: opts.systemMap });
  const report = buildReport(c, diagnose(c));
  addEvidenceFields(report, c);
  return report;
}
