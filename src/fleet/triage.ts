/** Triage of many logs: one record per file with a stable signature, and the grouped table. */
import { diagnose } from '../diagnose/index.ts';
import { signatureOfDiagnosis } from '../fleet/signature.ts';
import { emptyCaseFile } from '../model/casefile.ts';
import { addParsedLog } from '../sources/log-case.ts';
import { InputError } from '../model/errors.ts';
import { scanLogFile } from '../sources/log/index.ts';
import pc from 'picocolors';

export interface TriageRecord {
  file: string;
  format: string | null;
  lines: number | null;
  signature: string;
  events: Array<{ kind: string; line: number; title: string; cpu: number | null; culprit: string | null }>;
  incomplete: boolean;
  error: string | null;
}

export async function triageFile(file: string): Promise<TriageRecord> {
  try {
    const log = await scanLogFile(file, file);
    const c = emptyCaseFile();
    addParsedLog(c, log);
    const d = diagnose(c);
    return {
      file,
      format: log.format,
      lines: log.lines,
      signature: signatureOfDiagnosis(c.events, d.findings, d.verdict.roots),
      events: c.events.map((e) => ({
        kind: e.kind,
        line: e.line,
        title: e.title,
        cpu: e.cpu ?? null,
        culprit: e.culprit ? `${e.culprit.function}${e.culprit.module ? ` [${e.culprit.module}]` : ''}` : null,
      })),
      incomplete: log.incomplete ?? false,
      error: null,
    };
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return { file, format: null, lines: null, signature: 'unreadable', events: [], incomplete: true, error: err.describe() };
  }
}

export function renderTriageTable(records: TriageRecord[], color: boolean): string {
  const c = pc.createColors(color);
  const groups = new Map<string, TriageRecord[]>();
  for (const r of records) groups.set(r.signature, [...(groups.get(r.signature) ?? []), r]);
  const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
  const out = [c.bold(`${'COUNT'.padStart(6)}  SIGNATURE`)];
  for (const [sig, rs] of sorted) {
    out.push(`${String(rs.length).padStart(6)}  ${sig === 'clean' ? c.green(sig) : sig === 'unreadable' ? c.yellow(sig) : sig}`);
    for (const r of rs.slice(0, 3)) out.push(c.dim(`        ${r.file}${r.error ? `: ${r.error}` : r.events.length ? `: ${r.events.length} event(s), first at line ${r.events[0].line}` : ''}`));
    if (rs.length > 3) out.push(c.dim(`        ... and ${rs.length - 3} more`));
  }
  out.push(`${records.length} file(s), ${groups.size} signature(s)`);
  return out.join('\n') + '\n';
}

