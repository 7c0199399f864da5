/**
 * Crash signatures: a stable string that groups the same bug across thousands of logs.
 * Numbers, addresses, CPU ids, pids, offsets and compiler suffixes are normalised away.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { matchesAny, NMI_MACHINERY_FUNCTIONS, normaliseFunction, OOPS_PATH_FUNCTIONS } from '../diagnose/known/frames.ts';

export { normaliseFunction };

/** Which event kinds speak first when a log has several (the first failure usually explains the rest). */
const PRIMARY_ORDER: LogEvent['kind'][] = [
  'null-deref',
  'paging-request',
  'gpf',
  'bug',
  'oops',
  'kasan',
  'kfence',
  'ubsan',
  'lockdep',
  'mce',
  'hard-lockup',
  'soft-lockup',
  'csd-lock',
  'rcu-stall',
  'hung-task',
  'oom',
  'warning',
  'unknown-nmi',
  'panic',
];


/** A title with the variable parts replaced: offsets dropped, hex -> X, standalone numbers -> N, task ids -> [T]. */
export function normaliseTitle(title: string): string {
  return title
    .replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+/gi, '')
    .replace(/\bCPU: \d+ PID: \d+ /g, '')
    .replace(/\((Not tainted|Tainted:[^)]*)\)/g, '')
    .replace(/\[[^\]\s]*:\d+\]/g, '[T]')
    .replace(/\b(task|Comm:?)\s+\S+?:\d+/g, '$1 T')
    .replace(/\b(0x)?[0-9a-f]{6,16}\b/gi, 'X')
    .replace(/#\d+/g, '#N')
    .replace(/(?<![A-Za-z0-9_])\d+(\.\d+)?/g, 'N')
    .replace(/^[\s=-]+|[\s=-]+$/g, '')
    .replace(/^\[\s*(.*?)\s*\]?$/, '$1')
    .replace(/^(.*?)\s*\]$/, (m, inner: string) => (inner.includes('[') ? m : inner))
    .replace(/\s+/g, ' ')
    .trim();
}

/** The event that should name the log's bug: the first of the highest-priority kind. */
export function primaryEvent(events: readonly LogEvent[]): LogEvent | undefined {
  for (const kind of PRIMARY_ORDER) {
    const e = events.find((x) => x.kind === kind);
    if (e) return e;
  }
  return events.find((e) => e.kind !== 'nmi-backtrace' && e.kind !== 'sysrq-tasks' && e.kind !== 'sysrq-blocked');
}

/**
 * The report a log is about: its first kernel report in print order (a later report is usually a consequence: a
 * panic on warn, an oops after a corruption), a panic only when nothing else reported.
 */
export function mainReport(events: readonly LogEvent[]): LogEvent | undefined {
  const reports = events.filter((e) => e.details.report);
  return reports.find((e) => e.kind !== 'panic') ?? reports[0];
}

/** `kind:culprit<-frame<-frame` (or `kind:normalised title` when no function is known); `clean` for no events. */
export function signatureOf(events: readonly LogEvent[]): string {
  const e = primaryEvent(events);
  if (!e) return events.length ? `other:${events[0].kind}` : 'clean';
  return `${e.kind}:${signatureBody(e)}`;
}

/** The part after `kind:`: the culprit and the two frames below it, else the normalised title. */
export function signatureBody(e: LogEvent, byFrames = false): string {
  // A panic's frames are the panic machinery; its reason names it (unless the interrupted context is what matters).
  if (e.kind === 'panic' && !byFrames) return normaliseTitle(e.details.panicReason ?? e.title);
  const frames = e.trace
    .filter((f) => f.reliable && f.stack !== 'user')
    .map((f) => normaliseFunction(f.function))
    .filter((n) => !matchesAny(n, NMI_MACHINERY_FUNCTIONS) && !matchesAny(n, OOPS_PATH_FUNCTIONS));
  const culprit = e.culprit ? normaliseFunction(e.culprit.function) : undefined;
  const start = culprit ? frames.indexOf(culprit) : -1;
  const below = (start >= 0 ? frames.slice(start + 1) : frames.filter((n) => n !== culprit)).slice(0, 2);
  if (!culprit && !below.length) return normaliseTitle(e.title);
  const mod = e.culprit?.module ? ` [${e.culprit.module}]` : '';
  return [culprit ? culprit + mod : undefined, ...below].filter(Boolean).join('<-');
}

/**
 * The signature of a diagnosed log: named after the top root finding and the frames of the event behind
 * it (so a soft lockup on a victim CPU groups with its real culprit), else after the primary event.
 */
export function signatureOfDiagnosis(events: readonly LogEvent[], findings: readonly Finding[], roots: readonly string[]): string {
  // A log whose first report names its bug (KASAN, WARNING, lockdep, BUG, oops) is that bug, whatever else the
  // console holds (a fuzzer's mount noise, later consequences).
  const main = mainReport(events);
  const named = main?.details.report && main.culprit && !HANG_REPORTS.has(main.details.report.type) ? main : undefined;
  const root = findings.find((f) => f.id === roots[0]);
  if (named && !root?.subjects.some((s) => s.kind === 'event' && s.id === named.id)) return reportSignature(named.kind, named);
  if (!root) return signatureOf(events);
  // The event behind the root: one it names, else the last report with a stack of its CPU, else its task's report.
  const subject = root.subjects.find((s) => s.kind === 'event');
  let e = subject && subject.kind === 'event' ? events.find((x) => x.id === subject.id) : undefined;
  for (const s of root.subjects) {
    if (e) break;
    if (s.kind === 'cpu') e = [...events].reverse().find((x) => x.cpu === s.cpu && x.trace.length > 0 && x.kind !== 'hung-task');
    else if (s.kind === 'task') e = events.find((x) => x.task?.pid === s.pid && x.trace.length > 0);
  }
  if (!e) return signatureOf(events);
  // A report that names its bug (KASAN, WARNING, lockdep, BUG, oops) is the same bug whichever path reached it: its
  // title (type and guilty function) is the signature, so one bug groups across kernels, offsets and callers, and
  // two different reports blamed on one function stay apart.
  if (e.details.report && e.culprit && !HANG_REPORTS.has(e.details.report.type)) return reportSignature(root.kind, e);
  return `${root.kind}:${signatureBody(e, root.kind !== 'panic')}`;
}

/** `kind:guilty [module]: report type`, e.g. `memory-corruption:vcs_read: KASAN: use-after-free Write`. */
function reportSignature(kind: string, e: LogEvent): string {
  const report = e.details.report!;
  const fn = normaliseFunction(e.culprit!.function);
  const what = report.title.replace(/ in \S+$/, '');
  // A report the console garbled groups apart: its frames cannot be trusted to name the bug.
  return `${kind}:${report.corrupted ? 'corrupted: ' : ''}${fn}${e.culprit!.module ? ` [${e.culprit!.module}]` : ''}: ${normaliseTitle(what)}`;
}

/** Report types whose signature comes from the diagnosis (the holder, the loop), not from the report's title. */
const HANG_REPORTS = new Set(['hung-task', 'rcu-stall', 'soft-lockup', 'hard-lockup', 'csd-lock', 'workqueue-lockup', 'panic']);
