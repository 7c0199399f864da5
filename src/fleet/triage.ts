/**
 * Triage of many logs: one record per incident with a stable signature, and the grouped table. A log holding several
 * boots gives one record per boot with trouble (one `clean` record when none has any). Logs may be files, `-`,
 * pipes, FIFOs, and gzip/xz/zstd/bzip2-compressed.
 */
import { diagnose } from '../diagnose/index.ts';
import { mainReport, signatureOfDiagnosis } from '../fleet/signature.ts';
import type { LogEvent } from '../model/event.ts';
import { emptyCaseFile } from '../model/casefile.ts';
import { addParsedLog } from '../sources/log-case.ts';
import { InputError } from '../model/errors.ts';
import { damagedDumpReason, damagedDumpReasonOf } from '../sources/dump/format/damaged.ts';
import { openInput } from '../sources/input.ts';
import { basename } from 'node:path';
import { noKernelLinesNote, notKernelLogReason, parseLogStream, scanLogFile, type ParsedLog } from '../sources/log/index.ts';
import pc from 'picocolors';

export interface TriageRecord {
  file: string;
  format: string | null;
  lines: number | null;
  signature: string;
  events: Array<{ kind: string; line: number; title: string; cpu: number | null; culprit: string | null; report?: string | null }>;
  /** The log's first kernel report in the kernel-community convention (`KASAN: use-after-free Read in F`), its type, guilty frame and corruption. */
  title?: string | null;
  reportType?: string | null;
  guilty?: string | null;
  corrupted?: string | null;
  incomplete: boolean;
  error: string | null;
  /** In a log holding several boots: which boot (1-based) this record is of, and its lines; null for a log of one boot. */
  boot?: { index: number; firstLine: number; lastLine: number; of: number } | null;
  /** Kernel release of the boot, when its banner was seen. */
  release?: string | null;
  /** The verdict on this log (or boot) alone, as `analyze` gives it; absent for an unreadable file. */
  verdict?: 'problem' | 'healthy' | 'inconclusive';
}

/** The records of one log: one for a log of one boot; one per boot with trouble for a log of several. */
export async function triageFile(file: string, opts: { stdin?: NodeJS.ReadableStream } = {}): Promise<TriageRecord[]> {
  try {
    const log = await readLog(file, opts);
    const boots = log.boots ?? [log];
    const recs = boots.map((b) => record(file, log, b, boots.length));
    if (boots.length === 1) return recs;
    const trouble = recs.filter((r) => r.signature !== 'clean' || r.verdict !== 'healthy');
    if (trouble.length) return trouble;
    // No boot with trouble: one clean record for the whole log.
    return [{ ...recs[recs.length - 1], lines: log.lines, boot: null }];
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    return [{ file, format: null, lines: null, signature: 'unreadable', events: [], incomplete: true, error: err.describe() }];
  }
}

async function readLog(file: string, opts: { stdin?: NodeJS.ReadableStream }): Promise<ParsedLog> {
  const input = await openInput(file, { stdin: opts.stdin });
  try {
    if (input.dump) throw new InputError(`a vmcore, not a log: triage reads kernel logs (use \`coroner analyze\` or \`coroner dump\` for a dump)`, file);
    if (input.empty) throw new InputError(`empty${input.kind === 'file' ? ' file' : ' input'}: no kernel log line in it`, file);
    // The fast scanner reads a plain file by position; anything else (stdin, a pipe, compressed) streams through the parser.
    let log: ParsedLog;
    try {
      log = input.seekable ? await scanLogFile(file, file) : await parseLogStream(input.chunks(), file);
    } catch (e) {
      const damaged = e instanceof InputError && /binary data/.test(e.message) ? (input.seekable ? damagedDumpReason(file) : damagedDumpReasonOf(input.head, basename(file))) : undefined;
      if (damaged) throw new InputError(damaged, file);
      throw e;
    }
    const why = notKernelLogReason(log);
    if (why) throw new InputError(why, file);
    const none = noKernelLinesNote(log);
    if (none) {
      log.notes.push(none);
      log.incomplete = true;
    }
    if (input.compression) log.format = `${log.format}, ${input.compression}-compressed`;
    if (input.problems.length) {
      log.notes.unshift(...input.problems);
      log.incomplete = true;
      for (const b of log.boots ?? []) b.incomplete = true;
    }
    return log;
  } finally {
    input.close();
  }
}

function record(file: string, log: ParsedLog, boot: ParsedLog, of: number): TriageRecord {
  const c = emptyCaseFile();
  addParsedLog(c, boot);
  const d = diagnose(c);
  const b = boot.boot;
  return {
    file,
    format: log.format,
    lines: of > 1 ? boot.lines : log.lines,
    signature: signatureOfDiagnosis(c.events, d.findings, d.verdict.roots),
    events: c.events.map((e) => ({
      kind: e.kind,
      line: e.line,
      title: e.title,
      cpu: e.cpu ?? null,
      culprit: e.culprit ? `${e.culprit.function}${e.culprit.module ? ` [${e.culprit.module}]` : ''}` : null,
      report: e.details.report?.title ?? null,
    })),
    ...mainReportFields(c.events),
    incomplete: (boot.incomplete ?? false) || (log.incomplete ?? false),
    error: null,
    boot: of > 1 && b ? { index: b.index, firstLine: b.firstLine, lastLine: b.lastLine, of } : null,
    release: b?.release ?? boot.system.release ?? null,
    verdict: d.verdict.status,
  };
}

/** The title, type, guilty frame and corruption of the log's first report (see fleet/signature.ts mainReport). */
function mainReportFields(events: readonly LogEvent[]): Pick<TriageRecord, 'title' | 'reportType' | 'guilty' | 'corrupted'> {
  const e = mainReport(events);
  const r = e?.details.report;
  return { title: r?.title ?? null, reportType: r?.type ?? null, guilty: (r?.guilty ?? e?.culprit)?.function ?? null, corrupted: r?.corrupted ?? null };
}

/** `file` or `file (boot 3 of 12, lines 1200-1830)`. */
export function recordName(r: TriageRecord): string {
  return r.boot ? `${r.file} (boot ${r.boot.index} of ${r.boot.of}, lines ${r.boot.firstLine}-${r.boot.lastLine})` : r.file;
}

export function renderTriageTable(records: TriageRecord[], color: boolean): string {
  const c = pc.createColors(color);
  const groups = new Map<string, TriageRecord[]>();
  for (const r of records) groups.set(r.signature, [...(groups.get(r.signature) ?? []), r]);
  const sorted = [...groups.entries()].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]));
  const out = [c.bold(`${'COUNT'.padStart(6)}  SIGNATURE`)];
  for (const [sig, rs] of sorted) {
    out.push(`${String(rs.length).padStart(6)}  ${sig === 'clean' ? c.green(sig) : sig === 'unreadable' ? c.yellow(sig) : sig}`);
    for (const r of rs.slice(0, 3)) out.push(c.dim(`        ${recordName(r)}${r.error ? `: ${r.error.startsWith(`${r.file}: `) ? r.error.slice(r.file.length + 2) : r.error}` : r.events.length ? `: ${r.events.length} event(s), first at line ${r.events[0].line}` : ''}`));
    if (rs.length > 3) out.push(c.dim(`        ... and ${rs.length - 3} more`));
  }
  const files = new Set(records.map((r) => r.file)).size;
  const boots = records.filter((r) => r.boot).length;
  out.push(`${files} file(s)${boots ? `, ${records.length} record(s) (${boots} from logs of several boots)` : ''}, ${groups.size} signature(s)`);
  return out.join('\n') + '\n';
}
