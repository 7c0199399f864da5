/**
 * Evidence paths -> one CaseFile. A path may be a kernel log (plain, or gzip/xz/zstd/bzip2-compressed), a vmcore, a
 * directory such as /var/crash/<dir> (its vmcore-dmesg.txt / dmesg* / console logs and its vmcore), `-` (stdin), a
 * pipe or a FIFO.
 *
 * Every piece is read first; then incidents.ts decides which pieces (and which boot of a log holding several) are
 * of the same boot, and which incident the verdict is about. Evidence of other kernels or boots is left out of the
 * CaseFile's analysis and said so in its source's notes (never mixed in silently).
 */
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { emptyCaseFile, type CaseFile, type SourceInfo } from '../model/casefile.ts';
import { InputError } from '../model/errors.ts';
import type { BootIdentity, EvidenceSource } from '../model/evidence.ts';
import type { KernelDump } from './dump/index.ts';
import { damagedDumpReason, damagedDumpReasonOf } from './dump/format/damaged.ts';
import { containerKindOf, type ContainerKind } from './dump/format/magic.ts';
import { chooseIncident, differenceText, groupUnits, listBoots, logIdentity, unitVerdictText, type Choice, type Unit } from './incidents.ts';
import { openInput, type OpenedInput } from './input.ts';
import { addParsedLog } from './log-case.ts';
import { addCrashText } from './text/casefile.ts';
import { looksLikeCrashText, parseCrashText, type CrashText } from './text/crash.ts';
import { looksLikePerfText, parsePerfText, type PerfText } from './text/perf.ts';
import { addPerfText } from './text/perf-case.ts';
import { noKernelLinesNote, notKernelLogReason, parseLogFile, parseLogStream, parseLogText, scanLogFile, type ParsedLog } from './log/index.ts';

/** Above this size a log given alone is read by the fast scanner (scan.ts). */
const BIG_LOG_BYTES = 64 * 1024 * 1024;

/** Log files picked up from a crash directory (also compressed). kexec-dmesg.log is the capture kernel's own boot: not evidence. */
const LOG_NAMES = /^(vmcore-dmesg\.txt|dmesg(\.[\w-]+)?|dmesg\.txt|console(\.[\w-]+)?\.log|serial(\.[\w-]+)?\.log|kern\.log(\.\d+)?)(\.(gz|xz|zst|bz2))?$/;
/** Dump files of a crash directory (Debian's kdump-tools writes `dump.<date>`, others `vmcore`), confirmed by their signature. */
const DUMP_NAMES = /^(vmcore(\.(kdump|elf|flat|\d+|split-?\d+))?|.*\.vmcore|.*\.kdump|dump\.(elf|kdump|\d+))$/;

/** Sniffs the first bytes of a file for a dump signature (the same test the dump reader opens it by). */
export function dumpKindOf(path: string): ContainerKind | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(16);
    const n = readSync(fd, b, 0, 16, 0);
    return containerKindOf(b.subarray(0, n));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface CollectOptions {
  systemMap?: string;
  stdin?: NodeJS.ReadableStream;
  /** Seconds to wait for a writer on a named FIFO (default: CORONER_FIFO_WAIT or 10). */
  fifoWaitSeconds?: number;
  /** Told how far reading has got (0..1 of the reading) and what it is doing: a terminal's progress bar. */
  onProgress?: (fraction: number, what: string) => void;
}

/** Expands directories into the evidence files inside them; other paths are kept as given (`-` is stdin). */
export function expandPaths(paths: string[]): Array<{ path: string; role: 'log' | 'dump' | 'any' }> {
  const out: Array<{ path: string; role: 'log' | 'dump' | 'any' }> = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ path: p, role: 'any' });
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(code === 'ENOENT' ? 'no such file or directory' : `cannot read (${code ?? String(err)})`, p);
    }
    if (!st.isDirectory()) {
      out.push({ path: p, role: 'any' });
      continue;
    }
    let names: string[];
    try {
      names = readdirSync(p).sort();
    } catch (err) {
      throw new InputError(`cannot list directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`, p);
    }
    const logs = names.filter((n) => LOG_NAMES.test(n));
    // The files of a makedumpfile --split set are read together, from the first of them.
    const dumps = names.filter((n) => DUMP_NAMES.test(n) && !/split-?([2-9]|\d{2,})$/.test(n) && dumpKindOf(join(p, n)));
    if (!logs.length && !dumps.length) {
      throw new InputError('no kernel log (vmcore-dmesg.txt, dmesg*, console*.log, kern.log) or vmcore found in this directory', p);
    }
    for (const n of logs) out.push({ path: join(p, n), role: 'log' });
    for (const n of dumps) out.push({ path: join(p, n), role: 'dump' });
  }
  return out;
}

interface LogPiece {
  kind: 'log';
  label: string;
  parsed: ParsedLog;
  units: Unit[];
  /** Pasted crash output found in the text (its log lines are in `parsed`). */
  crash?: CrashText;
  /** Pasted perf output found in the text. */
  perf?: PerfText;
}

interface DumpPiece {
  kind: 'dump';
  label: string;
  dump: KernelDump;
  /** The log in the dump (printk ring), or why it could not be read. */
  parsed?: ParsedLog;
  logError?: unknown;
  units: Unit[];
}

type Piece = LogPiece | DumpPiece;

/** Reads every piece of evidence into one CaseFile. Throws InputError for unusable input. */
export async function collectEvidence(paths: string[], opts: CollectOptions = {}): Promise<CaseFile> {
  const items = expandPaths(paths);
  const many = items.length > 1;
  const pieces: Piece[] = [];
  try {
    for (const [n, item] of items.entries()) {
      opts.onProgress?.((n / items.length) * 0.5, `reading ${basename(item.path)}`);
      const piece = item.role === 'dump' ? await readDump(item.path, opts, many) : await readPiece(item.path, opts, many);
      const index = pieces.length;
      pieces.push(piece);
      if (piece.kind === 'log') {
        const boots = piece.parsed.boots ?? [piece.parsed];
        piece.units = boots.map((b) => ({ piece: index, label: piece.label, kind: 'log', log: b, identity: logIdentity(b, boots.length > 1) }));
      } else {
        piece.units = [{ piece: index, label: piece.label, kind: 'dump', log: piece.parsed ?? emptyLog(piece.label), identity: dumpIdentity(piece) }];
      }
    }
  } catch (e) {
    for (const p of pieces) if (p.kind === 'dump') p.dump.close();
    throw e;
  }

  const units = pieces.flatMap((p) => p.units);
  const incidents = groupUnits(units);
  const { incident, why } = chooseIncident(incidents);
  const chosenOf = (i: number) => incident.units.find((u) => u.piece === i);
  // The unit others are compared with when saying why they were left out: the dump, else the first.
  const reference = incident.units.find((u) => u.kind === 'dump') ?? incident.units[0];

  const c = emptyCaseFile();
  const left: string[] = [];
  for (const [i, piece] of pieces.entries()) {
    opts.onProgress?.(0.5 + (i / pieces.length) * 0.5, `facts from ${basename(piece.label)}`);
    const unit = chosenOf(i);
    const multi = piece.units.length > 1;
    if (unit && piece.kind === 'log') {
      const fileNotes = piece.parsed.notes.slice(0, piece.parsed.notes.length - (multi ? (piece.parsed.boots!.find((b) => b.boot?.index === piece.parsed.boot?.index)?.notes.length ?? 0) : 0));
      const log: ParsedLog = multi ? { ...unit.log, notes: [...fileNotes, ...unit.log.notes], lines: piece.parsed.lines } : piece.parsed;
      addParsedLog(c, log);
      const src = c.sources[c.sources.length - 1] as EvidenceSource;
      if (piece.crash) src.kind = 'text';
      if (piece.crash && piece.crash.recognized > 0) addCrashText(c, piece.crash);
      if (piece.perf?.consumed.size) addPerfText(c, piece.perf, piece.label);
      src.boot = unit.identity;
      src.used = true;
      if (multi) {
        const listed = listBoots(piece.units, unit, choiceText(why, unit, reference));
        src.notes.push(...listed.notes);
        src.boots = listed.listing;
      }
    } else if (unit && piece.kind === 'dump') {
      await addDump(c, piece, unit.identity, opts);
    } else {
      // Evidence of another boot: listed, with its own verdict, and left out.
      const rep = piece.units[piece.units.length - 1];
      const src: EvidenceSource = {
        kind: piece.kind,
        path: piece.label,
        format: piece.kind === 'log' ? piece.parsed.format : (piece.parsed?.format ?? 'vmcore'),
        notes: [],
        incomplete: false,
        used: false,
        boot: rep.identity,
      };
      if (piece.kind === 'log') src.lines = piece.parsed.lines;
      if (multi) {
        src.notes.push(`left out of the verdict: none of its boots is the boot of ${reference.label} (${describeIdentity(reference.identity)})`);
        const listed = listBoots(piece.units, undefined, 'each is another boot or kernel');
        src.notes.push(...listed.notes.slice(1));
        src.boots = listed.listing;
      } else {
        src.notes.push(`left out of the verdict: ${differenceText(reference, rep)}; on its own${piece.kind === 'dump' ? ' (its log)' : ''}: ${unitVerdictText(rep)}`);
      }
      c.sources.push(src);
      left.push(`${piece.label} (${describeIdentity(rep.identity)})`);
      if (piece.kind === 'dump') piece.dump.close();
    }
  }
  if (left.length) {
    const first = c.sources.find((s) => (s as EvidenceSource).used !== false);
    first?.notes.unshift(`evidence of another kernel or boot was left out of this verdict: ${left.join('; ')} (see its notes)`);
  }
  return c;
}

function choiceText(why: Choice, unit: Unit, reference: Unit): string {
  if (why === 'vmcore' || (reference !== unit && reference.kind === 'dump')) return `the boot ${reference.label} is of`;
  if (reference !== unit) return `the boot ${reference.label} is of`;
  return why === 'last-with-trouble' ? 'the last boot with trouble' : why === 'last' ? 'the last boot (none shows trouble)' : 'the only boot';
}

function describeIdentity(id: BootIdentity): string {
  const bits = [id.release ?? 'release unknown'];
  if (id.index !== undefined) bits.push(`boot ${id.index}, lines ${id.firstLine}-${id.lastLine}`);
  if (id.bootId) bits.push(`boot id ${id.bootId}`);
  if (id.bootTime) bits.push(`booted ${id.bootTime}`);
  return bits.join(', ');
}

/** A piece given by path or `-`: a dump (a regular file), or a log (plain or compressed, a file or a stream). */
async function readPiece(label: string, opts: CollectOptions, many: boolean): Promise<Piece> {
  const input = await openInput(label, { stdin: opts.stdin, fifoWaitSeconds: opts.fifoWaitSeconds });
  try {
    if (input.dump) {
      if (input.seekable) return await readDump(label, opts, many);
      throw new InputError(
        input.compression
          ? `a ${input.compression}-compressed vmcore: decompress it to a file first (a dump is read at random offsets)`
          : `a vmcore ${input.kind === 'stdin' ? 'on stdin' : `in a ${input.kind === 'device' ? 'device' : 'pipe'}`}: a dump is read at random offsets, so it must be a file: give its path`,
        label,
      );
    }
    const head = input.head.toString('latin1');
    if (looksLikeCrashText(head) || looksLikePerfText(head)) return await readPastedText(input, many);
    return { kind: 'log', label, parsed: await readLog(input, many), units: [] };
  } finally {
    input.close();
  }
}

/** Most pasted text Coroner reads whole (a ticket, a session): 256 MiB. */
const MAX_TEXT = 256 * 1024 * 1024;

/**
 * Text holding crash output: the crash shapes are parsed into facts, every other line goes to the log parser (a
 * session's `log` output, dmesg lines pasted beside it). Lines neither understood are listed in the source's notes.
 */
async function readPastedText(input: OpenedInput, many: boolean): Promise<LogPiece> {
  const label = input.label;
  const parts: Buffer[] = [];
  let size = 0;
  for await (const b of input.chunks()) {
    size += b.length;
    if (size > MAX_TEXT) throw new InputError(`pasted crash output larger than ${MAX_TEXT / 1024 / 1024} MiB: give the vmcore itself`, label);
    parts.push(b);
  }
  const text = Buffer.concat(parts).toString('utf8');
  // perf output first (its sample lines would read as nothing else), then crash's shapes in what is left.
  const perf = parsePerfText(text);
  const crash = parseCrashText(perf.consumed.size ? text.split(/\r?\n/).map((l, i) => (perf.consumed.has(i + 1) ? '' : l)).join('\n') : text, label);
  // The rest keeps its line numbers: blank lines stand for the crash output taken out.
  const rest: string[] = new Array(crash.lines).fill('');
  for (const r of crash.rest) rest[r.line - 1] = r.text;
  const parsed = parseLogText(rest.join('\n'), label, { prints: many });
  const kinds = [...(crash.recognized > 0 ? ['crash session'] : []), ...(perf.consumed.size ? ['perf output'] : [])].join(' and ') || 'pasted text';
  parsed.format = parsed.kernelLineSeen ? `${kinds} with kernel log (${parsed.format})` : kinds;
  parsed.notes.push(...notUnderstood(crash, parsed, perf.consumed.size));
  if (perf.consumed.size) parsed.notes.push(`perf output read: ${describePerf(perf)}`);
  if (input.compression) parsed.format = `${parsed.format}, ${input.compression}-compressed`;
  return { kind: 'log', label, parsed, units: [], crash, perf };
}

function describePerf(p: PerfText): string {
  const bits: string[] = [];
  if (p.stats.length) bits.push(`${p.stats.length} perf stat block(s)`);
  if (p.samples.length) bits.push(`${p.samples.length} sample(s) of ${new Set(p.samples.map((s) => s.tid)).size} thread(s)`);
  if (p.annotations.length) bits.push(`${p.annotations.length} annotated instruction(s)`);
  if (p.report.length) bits.push(`${p.report.length} report line(s)`);
  return bits.join(', ');
}

/** Chunks of the text that are neither crash output nor kernel log lines: kept in the notes, never silently dropped. */
function notUnderstood(crash: CrashText, parsed: ParsedLog, perfLines: number): string[] {
  const kernelLine = /^\s*(?:<\d+>)?\[\s*\d+\.\d+\]|kernel:|^\s*(?:Call Trace|RIP:|Code:|CPU:|Hardware name:|Modules linked in)/;
  const chunks: Array<{ from: number; to: number; first: string }> = [];
  for (const r of crash.rest) {
    if (!r.text.trim() || kernelLine.test(r.text)) continue;
    const last = chunks[chunks.length - 1];
    if (last && r.line - last.to <= 1) last.to = r.line;
    else chunks.push({ from: r.line, to: r.line, first: r.text.trim().slice(0, 60) });
  }
  const out = crash.recognized > 0 ? [`crash output read: ${crash.recognized} of ${crash.lines} lines (${describeCrash(crash)})`] : [];
  if (!parsed.kernelLineSeen && !crash.stacks.length && !crash.tasks.size && !perfLines) out.push('no kernel log line and no task or stack in the crash output');
  for (const c of chunks.slice(0, 10)) out.push(`not understood: lines ${c.from}${c.to > c.from ? `-${c.to}` : ''} ("${c.first}")`);
  if (chunks.length > 10) out.push(`not understood: ${chunks.length - 10} more chunk(s)`);
  return out;
}

function describeCrash(t: CrashText): string {
  const bits: string[] = [];
  if (t.sys.size) bits.push('sys');
  if (t.stacks.length) bits.push(`${t.stacks.length} stack(s)`);
  if (t.tasks.size) bits.push(`${t.tasks.size} task(s)`);
  if (t.code.size) bits.push(`${t.code.size} instruction(s)`);
  if (t.values.length) bits.push(`${t.values.length} printed value(s)`);
  if (t.words.size) bits.push(`${t.words.size} memory word(s)`);
  if (t.waitqs.length) bits.push(`${t.waitqs.length} wait queue(s)`);
  if (t.files.length) bits.push(`files of ${t.files.length} task(s)`);
  return bits.join(', ') || 'nothing usable';
}

async function readLog(input: OpenedInput, many: boolean): Promise<ParsedLog> {
  const label = input.label;
  if (input.empty) throw new InputError(`empty${input.kind === 'file' ? ' file' : ' input'}: no kernel log line in it`, label);
  let parsed: ParsedLog;
  try {
    // A big log alone (a console kept across hundreds of boots) goes through the fast scanner: the same events and boots
    // in half the time. With other evidence, every line is read: the boots' fingerprints are compared.
    parsed = !input.seekable
      ? await parseLogStream(input.chunks(), label, { prints: many })
      : !many && (input.size ?? 0) > BIG_LOG_BYTES
        ? await scanLogFile(label, label)
        : await parseLogFile(label, label, { prints: many });
  } catch (e) {
    if (e instanceof InputError && /binary data/.test(e.message)) {
      const why = input.seekable ? damagedDumpReason(label) : damagedDumpReasonOf(input.head, basename(label));
      if (why) throw new InputError(why, label);
    }
    throw e;
  }
  const why = notKernelLogReason(parsed);
  if (why) throw new InputError(`${why}${input.compression ? ` (after ${input.compression} decompression)` : ''}`, label);
  const none = noKernelLinesNote(parsed);
  if (none) {
    parsed.notes.push(none);
    parsed.incomplete = true;
  }
  if (input.compression) parsed.format = `${parsed.format}, ${input.compression}-compressed`;
  if (input.problems.length) {
    parsed.notes.unshift(...input.problems);
    parsed.incomplete = true;
    for (const b of parsed.boots ?? []) if (b.boot?.index === parsed.boot?.index) b.incomplete = true;
  }
  return parsed;
}

/** Opens a vmcore (an input error when it is not a usable dump) and reads the log in it. */
async function readDump(path: string, opts: CollectOptions, many: boolean): Promise<DumpPiece> {
  // Loaded only when a dump is given: log-only analysis stays fast.
  const { openKernelDumpReady } = await import('./dump/index.ts');
  const dump = await openKernelDumpReady(path, { systemMap: opts.systemMap });
  const piece: DumpPiece = { kind: 'dump', label: path, dump, units: [] };
  try {
    const parsed = parseLogText(dump.log().join('\n'), `${path}#log`, { prints: many });
    parsed.format = 'dmesg from vmcore';
    piece.parsed = parsed.boots ? parsed.boots[parsed.boots.length - 1] : parsed;
    if (parsed.boots) piece.parsed = { ...piece.parsed, lines: parsed.lines, format: parsed.format };
  } catch (e) {
    // A System.map the user named that does not fit is their error to fix, not a partial result.
    if (e instanceof InputError && opts.systemMap && /System\.map/.test(e.message)) {
      dump.close();
      throw e;
    }
    piece.logError = e;
  }
  return piece;
}

function emptyLog(source: string): ParsedLog {
  return { source, format: 'dmesg from vmcore', lines: 0, events: [], system: { facts: [] }, notes: [] };
}

/** Kernel release, crash time and boot time of a dump (boot time: crash or dump time less the last log timestamp). */
function dumpIdentity(p: DumpPiece): BootIdentity {
  const id: BootIdentity = {};
  const d = p.dump;
  if (d.release) id.release = d.release;
  const crash = d.vmcoreinfo.crashTime;
  if (crash !== undefined) id.crashTime = new Date(Number(crash) * 1000).toISOString();
  const stamp = (d.container as { header?: { timestamp?: bigint } }).header?.timestamp;
  const at = crash !== undefined ? Number(crash) : stamp ? Number(stamp) : undefined;
  const up = p.parsed?.system.uptime;
  if (at !== undefined && up !== undefined && at > up) id.bootTime = new Date((at - up) * 1000).toISOString().replace(/\.\d+Z$/, 'Z');
  // The boot id (/proc/sys/kernel/random/boot_id, the journal's boot id) once something read it: all zeros until then.
  try {
    const at = d.symbols.core.address('sysctl_bootid');
    const raw = at !== undefined ? d.memory.read(at, 16) : undefined;
    if (raw && raw.some((b) => b !== 0)) id.bootId = raw.toString('hex');
  } catch {
    // No symbols or the page is not in the dump: the boot id stays unknown.
  }
  return id;
}

/**
 * A vmcore: its log (from the printk ring) feeds the log analysis; the dump reader fills what it can.
 * Every stage that fails leaves a note and marks the source incomplete, and the others still run.
 */
async function addDump(c: CaseFile, piece: DumpPiece, identity: BootIdentity, opts: CollectOptions): Promise<void> {
  const dump = piece.dump;
  const path = piece.label;
  const kind = dumpKindOf(path) ?? dump.container.format;
  const source: EvidenceSource = { kind: 'dump', path, format: kind, notes: [...dump.incomplete], incomplete: dump.incomplete.length > 0, boot: identity, used: true };
  c.sources.push(source as SourceInfo);
  const stage = async (what: string, run: () => unknown): Promise<void> => {
    const before = new Set(dump.incomplete);
    try {
      await run();
    } catch (err) {
      if (err instanceof InputError && opts.systemMap && /System\.map/.test(err.message)) throw err;
      source.notes.push(`${what} not read: ${err instanceof InputError ? err.describe() : err instanceof Error ? err.message : String(err)}`);
      source.incomplete = true;
    }
    const added = dump.incomplete.filter((n) => !before.has(n) && !source.notes.includes(n));
    if (added.length) {
      source.notes.push(...added);
      source.incomplete = true;
    }
  };
  try {
    await stage('kernel log', () => {
      if (!piece.parsed) throw piece.logError;
      addParsedLog(c, piece.parsed, 'log');
      Object.assign(c.sources[c.sources.length - 1], { boot: identity, used: true });
    });
    // CPUs, tasks and their stacks from the dump itself, after the log: the dump's stacks and registers are more direct and win.
    opts.onProgress?.(0.6, `${basename(path)}: CPUs, tasks and stacks`);
    await stage('CPUs and tasks', async () => (await import('./dump/casefile.ts')).fillCaseFromDump(c, dump));
    opts.onProgress?.(0.9, `${basename(path)}: kernel memory`);
    // Memory queries for the detectors (they keep the dump open; `c.kernel.close()` closes it).
    await stage('kernel memory queries', async () => (await import('./dump/queries.ts')).attachKernelQueries(c, dump));
  } finally {
    source.notes = [...new Set(source.notes)];
    if (!c.kernel) dump.close();
  }
}
