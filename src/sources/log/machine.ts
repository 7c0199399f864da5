/**
 * The line-driven state machine every entry point feeds: one line at a time, in order (the fast scanner feeds only
 * the lines around trigger substrings, and every line while a report is open — see scan.ts for why that gives the
 * same events).
 */
import type { SystemInfo } from '../../model/casefile.ts';
import type { BlockerHint, EventKind, LogEvent, TaskRef } from '../../model/event.ts';
import type { Fact } from '../../model/provenance.ts';
import type { Frame, RegisterSet, StackKind } from '../../model/trace.ts';
import { irqsEnabledOf, modeOf, parseCode, parseFrame, parseMarker, parseRegisterLine, parseSymbol } from './frames.ts';
import { describeReport, guiltyFrame, reportTypeOf } from './guilty.ts';
import { cpuList, EXTRA_NEEDLES, HEADERS, panicCauseOf, type HeaderInfo, type HeaderRow } from './headers.ts';
import { parsePrefix, type PrefixFormat } from './prefix.ts';
import { baseName } from './skip.ts';

/** A report whose lines stop for this long (printk seconds) is over. */
export const GAP_SECONDS = 10;
/** Most lines one report may span (a sysrq dump may be long). */
const MAX_EVENT_LINES = 5000;
const MAX_SYSRQ_LINES = 200_000;

/** What a log tells of the system: the CaseFile's SystemInfo less what only a dump knows. */
export type SystemSummary = Omit<SystemInfo, 'crashTime' | 'panic'>;

interface Meta {
  marker?: StackKind;
  segment: number;
  synthetic?: boolean;
}

/** Frames of one stack being printed (the event's own, or one task of a dump). */
class Target {
  frames: Frame[] = [];
  meta: Meta[] = [];
  markers: StackKind[] = [];
  segment = 0;
  /** Hint for the stack of the frames of a segment that ends at an in-trace exception (ppc `--- interrupt:`). */
  segHints = new Map<number, StackKind>();
  state: 'none' | 'active' | 'closed' = 'none';
  armFrom?: Frame;

  push(f: Frame, synthetic = false): void {
    if (this.armFrom && !synthetic) this.armFrom = undefined;
    this.frames.push(f);
    this.meta.push({ marker: this.markers[this.markers.length - 1], segment: this.segment, synthetic });
  }

  finish(): void {
    if (this.armFrom) {
      const f = this.armFrom;
      this.armFrom = undefined;
      this.push(f);
    }
    classifyStacks(this.frames, this.meta, this.segHints);
  }
}

type TaskEntry = { comm: string; pid: number; state: string; line: number; trace: Frame[]; target: Target; cpu?: number; workqueue?: { name: string; func: string } };

interface Open {
  ev: LogEvent;
  seq: number;
  route: string;
  lastTs?: number;
  lines: number;
  /** Bad page state: page_owner's allocation stack. */
  allocTarget?: Target;
  /** lockdep: the last line ended in `takes:` (the next names the lock and where it is taken). */
  takes?: boolean;
  /** Inlined functions printed before the PC's own RIP/pc line (symbolized reports), innermost first. */
  pcInline?: Frame[];
  main: Target;
  cur: Target;
  regs?: RegisterSet;
  section: 'main' | 'task' | 'blocker' | 'lockdep-chains';
  task?: TaskEntry;
  tasks: TaskEntry[];
  eat: number;
  oomKilled?: boolean;
  related: Open[];
  /** Seen a structural line (CPU:, Modules, registers, Call Trace): free text after a WARN header ends there. */
  structured?: boolean;
  /** The previous line was `Modules linked in:` (or its wrapped continuation). */
  modules?: boolean;
  /** Unrecognised lines in a row (one is tolerated in the middle of a report: wrapped or garbled lines). */
  unknownRun: number;
  lastWasFrame?: boolean;
  closing?: boolean;
  /** `Task dump for CPU n:` was just read: the next task line is what CPU n runs. */
  dumpCpu?: number;
}

interface PendingNmi {
  from?: number;
  targets?: number[];
  line: number;
  source?: Open;
}

const NEEDLES = [...new Set([...HEADERS.flatMap((h) => (Array.isArray(h.needle) ? h.needle : [h.needle])), ...EXTRA_NEEDLES])];

/** Every trigger substring: a line without any of them never changes the machine's state while it is idle. */
export function triggerNeedles(): string[] {
  return [...NEEDLES];
}

/** Reports whose trace a paste may have cut from its "Call Trace:" line (lockups and stalls print nothing else with frames). */
const PASTED_TRACE_KINDS = new Set<EventKind>(['soft-lockup', 'hard-lockup', 'rcu-stall', 'nmi-backtrace', 'panic', 'hung-task', 'csd-lock', 'workqueue-lockup', 'warning', 'oops', 'null-deref', 'paging-request', 'gpf']);

/** A report whose header is not in the log. */
export const FRAGMENT_TITLE = 'a kernel report whose first line is not in the log';
const FRAGMENT_ROW: HeaderRow = { id: 'fragment', kind: 'oops', needle: [], re: /$^/, sample: '', build: () => ({ details: {} }) };

/** A register line that gives the PC (`RIP: 0010:func`, `pc : func`, `epc : func`, `NIP:`, `PC is at`). */
function isPcLine(body: string): boolean {
  const r = parseRegisterLine(body);
  return !!r?.starts && (!!r.pcSymbol || !!r.values.rip || !!r.values.pc || !!r.values.epc || !!r.values.NIP);
}

/** A wrapped `Modules linked in:` line: module names separated by blanks (one way to match each: no backtracking blow-up). */
const RE_MODULES_CONT = /^\[?[\w-]+(?:\([A-Z+-]+\))*\]?(?:\s+\[?[\w-]+(?:\([A-Z+-]+\))*\]?)*\s*(?:\[last unloaded: [\w-]+\])?$/;

const RE_CUT = /^-{3,}\[ ?cut here ?\]-{3,}$/;
const RE_RULE = /^={5,}$/;
const RE_TASK_NEW = /^task:(.+?)\s+state:(\S)\s*(?:running task\s+)?stack:\s*(\d+)\s+pid:\s*(\d+)\s+(?:tgid:\s*(\d+)\s+)?ppid:\s*(\d+)(?:\s+(?:task_flags:\S+\s+)?flags:(0x[0-9a-f]+)|\s*\S{0,12}$)/;
const RE_TASK_OLD = /^(\S.*?)\s+([RSDTtZXIPWK])(?:\+)?\s+(?:running task\s+|running\s+|\?\s+|[0-9a-f]{8,16}\s+)?(\d+)\s+(\d+)\s+(\d+)(?:\s+(0x[0-9a-f]+))?\s*$/;
const RE_CPU_LINE = /^CPU: (\d+) (?:UID: \d+ )?PID: (\d+) Comm: (.{0,40}?)(?: Kdump: loaded)?(?: (Not tainted|Tainted: (.{0,60}?))(?:\s+(\S+) #\S+.*|\s*)|\s*)$/;
const RE_CPU_ARM_OLD = /^CPU: (\d+)\s+(Not tainted|Tainted: (.*?))\s+\((\S+) #/;
const RE_PID_OLD = /^Pid: (\d+), comm: (.*?)\s+(Not tainted|Tainted: (.*?))\s+\(?(\S+) #\S+/;
const RE_TRACE_HDR = /^(?:Call Trace|Call trace|Backtrace|Stack trace|Call Trace \(from [^)]*\))\s*:?\s*(.*)$/;

/** Lines any report may carry (matched on the trimmed body). Reading them keeps a report open. */
const KNOWN: RegExp[] = [
  /^CPU \d+ ?$/,
  /^Hardware name: /,
  /^Modules linked in:/,
  /^\[last unloaded: /,
  /^task: [0-9a-f]+ /,
  /^ti: [0-9a-f]+/,
  /^Process .+ \(pid: \d+/,
  /^irq event stamp: /,
  /^(hard|soft)irqs last\s+(en|dis)abled at/,
  /^Stack: ?/,
  /^Backtrace: ?$/,
  /^Kernel Offset: /,
  /^Rebooting in /,
  /^CR2: /,
  /^#PF: /,
  /^(PGD|P4D|PUD|PMD|PTE) [0-9a-f]+/,
  /^\*p(de|dpt|te|gd) = /,
  /^(Mem|Data) abort info:/,
  /^(ESR|EC|SET|FnV|EA|S1PTW|FSC|ISV|ISS|ISS2|CM|WnR|TnD|TagAccess|GCS|Xs|Access|DFSC|IL|SAS|SSE|SRT|SF|AR|VNCR) = /,
  /^(user|swapper) pgtable: /,
  /^\[[0-9a-f]+\] (pgd|\*pgd)=/,
  /^pgd = [0-9a-f]+/,
  /^IP: /,
  /^RIP\s+\[</,
  /^RSP <[0-9a-f]+>/,
  /^Dumping ftrace buffer:/,
  /^\(ftrace buffer empty\)/,
  /^Workqueue: /,
  /^Sched_ext: /,
  /^Tainted: \[/,
  /^[0-9a-f]{4}: (?:[0-9a-f]{8} ?){1,8}$/,
  /^(?:r\d+:[0-9a-f]{8}\s*)+$/,
  /^Instruction dump:/,
  /^(?:[0-9a-fX<>]{8,10} ?){4,}$/,
  /^Last Breaking-Event-Address:/,
  /^Register r?\w+ information: /,
  /^(?:slab|kmalloc-\d+|\S+) start [0-9a-f]+ pointer offset/,
  /^Failing address: [0-9a-f]+ TEID: /,
  /^Fault in (primary|secondary|home|access register) space mode /,
  /^AS:[0-9a-f]+ R[23]:/,
  /^Krnl Code:/,
  /^[#>]?[0-9a-f]{8,16}: [0-9a-f]+\s/,
  /^(?:<\d>\s*)?(?:[0-9a-f]{8,16}\s*){2,}\.?$/,
  /^last sysfs file: /,
  /^printing eip:$/,
  /^[0-9a-f]{8,16}$/,
  /^SMP\b.*$/,
  /^Fixing recursive fault but reboot is needed!/,
  /^Shutting down cpus with NMI/,
  /^Preemption disabled at:/,
  /^INFO: lockdep is turned off\./,
  /^in_atomic\(\): /,
  /^preempt_count: /,
  /^RCU nest depth: /,
  /^caller is /,
  /^(no locks held by|\d+ locks? held by) /,
  /^#\d+: /,
  /^lock: /,
  /^(page|folio|flags|raw|head|anon flags|page dumped because|page_type|memcg|page_owner)[: ]/,
  /^(Not tainted|Tainted: .*?) \S+ #/,
  /^\S+ #\S+ (Not tainted|Tainted: .*)$/,
  /^"echo 0 > \/proc\/sys\/kernel\/hung_task_timeout_secs" disables this message\./,
  /^Future hung task reports are suppressed/,
  /^Task dump for CPU \d+:/,
  /^-{5,}$/,
  /^Code: /,
  /^CPU#\d+ Utilization every \d+s during lockup:/,
  /^#\d+:\s+\d+% system/,
  /^Do you have a strange power saving mode enabled\?/,
  /^Dazed and confused, but trying to continue/,
  /^task\s+PC( stack)?\s+pid father/,
  /^\s*\.{3}$/,
  /^x86\/mm: /,
  /^Sending NMI from CPU/,
  /^NMI backtrace for cpu \d+ skipped/,
  /^sending NMI to (all|other) CPUs/,
];

/** Report text of sanitizers (KASAN, KFENCE, UBSAN) and lockdep after the main trace. */
const SANITIZER_TEXT = /^(Uninit was (?:created|stored to memory) at|Local variable \S+ created at|Bytes \d+-\d+ of \d+ are uninitialized|Memory access of size|Data copied to user address|Allocated by task|Freed by task|Last potentially related work creation|Second to last potentially related|The buggy address|which belongs to the cache|located \d+ bytes|Memory state around the buggy address|[>\s]?[0-9a-f]{16}: (?:[0-9a-f]{2}|fc|fa|fb|f\w) |\^|Read of size|Write of size|Use-after-free (read|write) at|Out-of-bounds (read|write) at|Invalid (free|read|write) of|Corrupted memory at|kfence-#\d+|allocated by task|freed by task|Disabling lock debugging|shift exponent|index -?\d+ is out of range|load of value|signed integer overflow|.* cannot be represented in type|member access within|variable length array|division by zero|null pointer passed|pointer index expression|.*applying (non-zero )?offset|execution reached an unreachable|addition of unsigned offset|The buggy address belongs to the physical page|page last (allocated|free)|KASAN: |KFENCE: |Object |Redzone |Padding |INFO: (Allocated|Freed|Slab|Object|0x)|FIX |Bytes b4)/;

export class LogMachine {
  readonly events: Array<{ open: Open }> = [];
  private readonly open = new Map<string, Open>();
  private seq = 0;
  private preamble?: { route: string; line: number };
  private pendingNmi?: PendingNmi;
  /** The last line that carried a header's words but matched no header: the next line may be its wrapped rest. */
  private pendingHead?: { t: string; line: number; last: number; ts?: number; wallclock?: string; route: string };
  private lastLine = 0;
  lastTs?: number;
  readonly notes: string[] = [];
  incomplete = false;
  readonly system: SystemSummary = { facts: [] };
  private bootSeen = 0;
  private lastClosed?: Open;
  private hardwareFromEvent?: { text: string; line: number };

  constructor(
    private readonly source: string,
    private readonly prefixed: boolean,
  ) {}

  /** True while the next line may belong to a report (the fast scanner then feeds every line). */
  busy(): boolean {
    return this.open.size > 0 || this.preamble !== undefined;
  }

  feed(raw: string, lineNo: number): void {
    this.lastLine = lineNo;
    const p = parsePrefix(raw);
    if (p.ts !== undefined) this.lastTs = p.ts;
    if (!p.kernel) return;
    if (p.host && !this.system.hostname) {
      this.system.hostname = p.host;
      this.fact(`hostname ${p.host}`, lineNo);
    }
    const route = p.caller ?? '';
    const body = p.body;
    const t = body.trim();
    const unprefixed = this.prefixed && p.format === undefined;

    let open = this.open.get(route);
    if (open && p.ts !== undefined && open.lastTs !== undefined && p.ts - open.lastTs > GAP_SECONDS) {
      this.close(open);
      open = undefined;
    }
    const preamble = this.preamble;
    if (preamble && preamble.route === route) this.preamble = undefined;
    if (t === '') return;

    // A header wrapped over two lines by a mail client or a bug tracker: the rest comes on a line of its own, without a prefix.
    const head = this.pendingHead;
    this.pendingHead = undefined;
    if (head && head.route === route && p.ts === undefined && p.wallclock === undefined && lineNo === head.last + 1) {
      // A quoted-printable soft break (`=` at the end) joins without a space and leaves `=20`-style escapes to decode.
      const joined = head.t.endsWith('=') ? `${head.t.slice(0, -1)}${body.trimEnd()}`.replace(/=([0-9A-F]{2})/g, (_x, h: string) => String.fromCharCode(parseInt(h, 16))) : `${head.t} ${t}`;
      const hit = matchHeader(joined);
      if (hit && this.header(hit.row, hit.m, this.open.get(route), route, head.line, head.ts, head.wallclock, joined, preamble)) {
        this.notes.push(`line ${head.line}: a report header wrapped over ${lineNo - head.line + 1} lines was read as one`);
        return;
      }
      if (lineNo - head.line < 3 && joined.length < 400) this.pendingHead = { ...head, t: joined, last: lineNo };
    }

    let needle = false;
    for (const n of NEEDLES) {
      if (t.includes(n)) {
        needle = true;
        break;
      }
    }
    if (needle) {
      this.systemFacts(t, lineNo);
      if (RE_CUT.test(t)) {
        if (open) this.close(open);
        this.preamble = { route, line: lineNo };
        return;
      }
      if (RE_RULE.test(t)) {
        this.preamble = { route, line: lineNo };
        return;
      }
      const sn = /^(?:Sending NMI from CPU (\d+) to CPUs ([\d,-]+):|sending NMI to (?:all|other) CPUs:)/.exec(t);
      if (sn) {
        const prev = this.pendingNmi;
        const source = open ?? (prev && lineNo - prev.line < 2000 ? prev.source : undefined);
        this.pendingNmi = { from: sn[1] !== undefined ? Number(sn[1]) : undefined, targets: sn[2] ? cpuList(sn[2]) : undefined, line: lineNo, source };
        if (open) this.touch(open, lineNo, p.ts);
        return;
      }
      const hit = matchHeader(t);
      if (hit && this.header(hit.row, hit.m, open, route, lineNo, p.ts, p.wallclock, t, preamble)) return;
      if (!hit && !this.pendingHead) this.pendingHead = { t, line: lineNo, last: lineNo, ts: p.ts, wallclock: p.wallclock, route };
    } else if (!this.pendingHead && t.endsWith('=') && (p.ts !== undefined || p.wallclock !== undefined)) {
      // A mail's quoted-printable soft break: the line goes on below.
      this.pendingHead = { t, line: lineNo, last: lineNo, ts: p.ts, wallclock: p.wallclock, route };
    }
    const justClosed = this.lastClosed && this.lastClosed.route === route && lineNo - this.lastClosed.ev.endLine <= 10;
    if (!open && !justClosed && (RE_CPU_LINE.test(t) || (RE_TRACE_HDR.test(t) && !/^Backtrace for cpu/.test(t)) || isPcLine(body))) {
      // A report whose header was cut (a paste that starts at the CPU line, the registers or the trace): a report of its own.
      this.header(FRAGMENT_ROW, [t] as unknown as RegExpExecArray, undefined, route, lineNo, p.ts, p.wallclock, `${FRAGMENT_TITLE}: ${t}`, preamble);
      open = this.open.get(route);
    }
    if (!open) return;
    const wasModules = open.modules;
    open.modules = false;
    let ok = this.consume(open, body, t, lineNo);
    if (!ok && wasModules && RE_MODULES_CONT.test(t)) {
      open.ev.details.modules?.push(...t.replace(/\[last unloaded:[^\]]*\]/, '').split(/\s+/).filter(Boolean).map((x) => x.replace(/\(.*$/, '')));
      open.modules = true;
      ok = true;
    }
    // a WARN()/BUG header may be followed by its own free text until the structured part starts
    if (!ok && !open.structured && open.lines < 30 && (open.ev.kind === 'warning' || open.ev.kind === 'bug')) ok = true;
    if (ok) {
      open.unknownRun = 0;
      this.touch(open, lineNo, p.ts);
      if (open.closing) this.close(open);
    } else if (!unprefixed) {
      open.unknownRun++;
      const midReport = open.cur.state !== 'closed';
      if (!midReport || open.unknownRun > 2) this.close(open);
    }
  }

  /** Ends every open report (end of input). */
  finish(): LogEvent[] {
    for (const o of [...this.open.values()]) {
      const open = (t: Target) => t.state === 'active' && (t.markers.length > 0 || t.meta.every((m) => m.synthetic));
      if (open(o.main) || open(o.cur)) {
        this.notes.push(`line ${o.ev.endLine}: log ends inside a ${o.ev.kind} report (truncated call trace)`);
        this.incomplete = true;
      }
      this.close(o);
    }
    if (this.hardwareFromEvent && !this.system.hardware) {
      this.system.hardware = this.hardwareFromEvent.text;
      this.fact(`hardware ${this.hardwareFromEvent.text}`, this.hardwareFromEvent.line);
    }
    // A bare call trace with no report around it (no CPU line, no registers) counts only when a panic follows it at once.
    const all = this.events.map((e) => e.open).sort((a, b) => a.ev.line - b.ev.line || a.seq - b.seq);
    const sorted = all.filter((o, i) => {
      if (!o.ev.title.startsWith(`${FRAGMENT_TITLE}: `) || o.ev.cpu !== undefined || o.ev.registers.length) return true;
      const next = all[i + 1];
      return !!next && next.ev.kind === 'panic' && next.ev.line - o.ev.endLine <= 3;
    });
    const ids = new Map<Open, string>();
    sorted.forEach((o, i) => {
      o.ev.id = `e${i + 1}`;
      ids.set(o, o.ev.id);
    });
    for (const o of sorted) {
      if (o.related.length) o.ev.related = [...new Set(o.related.map((r) => ids.get(r)!).filter(Boolean))];
    }
    // A report cut short by another one at once (`BUG: sleeping function called ...` then an oops on the same CPU before
    // any trace): the trace that follows is the one it would have printed.
    for (let i = 0; i + 1 < sorted.length; i++) {
      const e = sorted[i].ev;
      const next = sorted[i + 1].ev;
      if (!e.details.report || e.culprit || e.trace.length || next.line - e.endLine > 3 || !next.trace.length) continue;
      if (e.task && next.task && e.task.pid !== next.task.pid) continue;
      const type = reportTypeOf(e);
      const culprit = guiltyFrame({ ...e, trace: next.trace, registers: next.registers }, type);
      if (!culprit || !type) continue;
      e.culprit = culprit;
      e.details.report = describeReport(type, { ...e, trace: next.trace }, culprit);
    }
    // An RCU stall detected by another CPU names no stack of its own: blame what its NMI backtraces show.
    for (const o of sorted) {
      const e = o.ev;
      if (e.kind !== 'rcu-stall') continue;
      const stalled = e.details.stalledCpus ?? [];
      // Detected by another CPU: that CPU's own trace is the detector's, the stalled CPU's backtrace is what matters.
      const byOther = !e.details.selfDetected && (e.cpu === undefined || !stalled.includes(e.cpu));
      if (e.culprit && !byOther) continue;
      const bt = o.related.find((r) => r.ev.kind === 'nmi-backtrace' && r.ev.culprit && (stalled.length === 0 || stalled.includes(r.ev.cpu ?? -1)));
      const dumped = e.details.tasks?.map((tk) => ({ trace: tk.trace, culprit: guiltyFrame({ ...e, culprit: undefined, trace: tk.trace, registers: [] }, reportTypeOf(e)) })).find((d) => d.culprit);
      const culprit = bt?.ev.culprit ?? dumped?.culprit;
      if (!culprit) continue;
      e.culprit = culprit;
      const type = reportTypeOf(e);
      if (type) e.details.report = describeReport(type, { ...e, trace: bt?.ev.trace ?? dumped?.trace ?? e.trace }, culprit);
    }
    const taints = sorted.map((o) => o.ev.taint).filter((x): x is string => !!x);
    if (taints.length) this.system.taint = taints[taints.length - 1];
    if (this.system.uptime === undefined && this.lastTs !== undefined) this.system.uptime = this.lastTs;
    if (!this.system.arch) {
      const r = sorted.flatMap((o) => o.ev.registers)[0];
      if (r && r.arch !== 'unknown') this.system.arch = r.arch;
    }
    return sorted.map((o) => o.ev);
  }

  // -------------------------------------------------------------------------------------------

  private fact(text: string, line: number): void {
    this.system.facts.push({ text, from: { kind: 'log', source: this.source, line } });
  }

  private systemFacts(t: string, line: number): void {
    let m: RegExpExecArray | null;
    if ((m = /^Linux version (\S+) /.exec(t))) {
      this.bootSeen++;
      if (this.bootSeen === 1) {
        this.system.release = m[1];
        this.fact(`release ${m[1]}`, line);
        const a = archOfRelease(t);
        if (a) this.system.arch = a;
      } else {
        this.notes.push(`line ${line}: another boot begins (Linux version ${m[1]}); system facts are from the first`);
      }
    } else if (this.bootSeen > 1 && this.system.kdumpCaptureBoot === undefined && /^(?:Kernel )?[Cc]ommand line: .*\belfcorehdr=/.test(t)) {
      this.system.kdumpCaptureBoot = { source: this.source, line };
      this.fact('a kdump capture kernel booted (elfcorehdr= on its command line): the first kernel went into kdump', line);
    } else if ((m = /^(?:Kernel )?[Cc]ommand line: (.*)$/.exec(t)) && this.bootSeen <= 1 && this.system.commandLine === undefined) {
      this.system.commandLine = m[1].trim();
      this.fact(`command line ${this.system.commandLine}`, line);
    } else if ((m = /^(?:DMI|Machine model): (.*)$/.exec(t)) && this.system.hardware === undefined && this.bootSeen <= 1) {
      this.system.hardware = m[1].trim();
      this.fact(`hardware ${this.system.hardware}`, line);
    } else if ((m = /Brought up (?:\d+ nodes?, )?(\d+) CPUs?/.exec(t)) && this.bootSeen <= 1 && this.system.cpus === undefined) {
      this.system.cpus = Number(m[1]);
      this.fact(`${m[1]} CPUs brought up`, line);
    }
  }

  private touch(o: Open, line: number, ts: number | undefined): void {
    o.ev.endLine = line;
    if (ts !== undefined) o.lastTs = ts;
    o.lines++;
    const cap = o.ev.kind === 'sysrq-blocked' || o.ev.kind === 'sysrq-tasks' ? MAX_SYSRQ_LINES : MAX_EVENT_LINES;
    if (o.lines >= cap) {
      this.notes.push(`line ${line}: ${o.ev.kind} report longer than ${cap} lines, cut`);
      o.closing = true;
    }
  }

  /** Handles a header line. Returns false when the line is not used as a header after all. */
  private header(
    row: HeaderRow,
    m: RegExpExecArray,
    open: Open | undefined,
    route: string,
    line: number,
    ts: number | undefined,
    wallclock: string | undefined,
    title: string,
    preamble: { route: string; line: number } | undefined,
  ): boolean {
    // A symbolizer expands a header's PC into its inlined functions, one header line each, innermost first
    // (`WARNING: ... at mm/mmap.c:170 vma_iter_store mm/mmap.c:170 [inline]`, then the same header with the function
    // that holds the code, `vma_complete+0x9/0x2fb`): one report, named after the function that holds the code.
    if (open && open.ev.kind === row.kind && open.ev.endLine === line - 1 && / \[inline\](?: \S+:\d+)*$/.test(open.ev.title) && open.main.frames.length === 0) {
      const sym = row.build?.(m).symbol;
      if (sym) (open as Open & { symbol?: typeof sym }).symbol = sym;
      this.touch(open, line, ts);
      return true;
    }
    const info: HeaderInfo = row.build ? row.build(m) : { details: {} };
    const mode = row.mode ?? 'start';
    if (mode !== 'start') {
      let target = open && row.attachTo?.includes(open.ev.kind) ? open : undefined;
      if (row.kind === 'oops' && target?.ev.details.oopsText) target = undefined;
      if (row.kind === 'hung-task') {
        // a blocker hint belongs to the report of the same task
        if (target && target.ev.task?.pid !== info.task?.pid) target = undefined;
        target ??= this.recentHung(info.task, route, line);
      }
      if (target) {
        this.attach(target, row, info, line);
        this.touch(target, line, ts);
        return true;
      }
      if (mode === 'attach') return false;
    }
    // 3.x printed the hard lockup as a WARNING from kernel/watchdog.c: that warning is the lockup report.
    if (row.kind === 'hard-lockup' && open?.ev.kind === 'warning' && /watchdog/.test(open.ev.details.location ?? '')) {
      open.ev.kind = 'hard-lockup';
      open.ev.cpu = info.cpu;
      this.touch(open, line, ts);
      return true;
    }
    const closed = open;
    if (open) this.close(open);
    const start = preamble && preamble.route === route && preamble.line === line - 1 ? preamble.line : line;
    const ev: LogEvent = {
      id: '',
      kind: row.kind,
      title,
      source: this.source,
      line: start,
      endLine: line,
      timestamp: ts,
      wallclock,
      cpu: info.cpu,
      task: info.task,
      registers: [],
      trace: [],
      details: { ...info.details },
    };
    if (ev.details.blockers) ev.details.blockers = ev.details.blockers.map((b) => ({ ...b, line }));
    if (row.kind === 'panic') {
      ev.details.panicCause = panicCauseOf(ev.details.panicReason ?? '');
      if (ev.details.panicCause === 'oops-in-interrupt') ev.details.inInterrupt = true;
    }
    const o: Open = {
      ev,
      seq: this.seq++,
      route,
      lastTs: ts,
      lines: 1,
      main: new Target(),
      cur: undefined as unknown as Target,
      // lockdep prints its chains before `stack backtrace:`; a non-static-key report has only the trace
      section: row.kind === 'lockdep' && !/non-static key/.test(info.details.lockdepTitle ?? '') ? 'lockdep-chains' : 'main',
      tasks: [],
      eat: 0,
      related: [],
      unknownRun: 0,
    };
    o.cur = o.main;
    if (info.symbol) (o as Open & { symbol?: typeof info.symbol }).symbol = info.symbol;
    if (row.kind === 'oom' && row.id === 'oom-killed') o.oomKilled = true;
    this.events.push({ open: o });
    this.open.set(route, o);
    if (row.kind === 'nmi-backtrace') {
      const pn = this.pendingNmi;
      if (pn && line - pn.line < 20000 && (!pn.targets || pn.targets.includes(ev.cpu ?? -1))) {
        if (pn.from !== undefined) ev.details.nmiFromCpu = pn.from;
        if (pn.targets) ev.details.nmiTargets = pn.targets;
        if (pn.source && pn.source !== o) pn.source.related.push(o);
      } else if (closed && ['rcu-stall', 'hard-lockup', 'soft-lockup', 'csd-lock'].includes(closed.ev.kind)) {
        closed.related.push(o);
      }
      if (ev.details.idle) o.closing = true;
    }
    if (row.kind === 'panic' || row.kind === 'hard-lockup') {
      // A panic right after a report names what it panics about.
      const prev = closed ?? (this.lastClosed && this.lastClosed.route === route && line - this.lastClosed.ev.endLine <= 3 ? this.lastClosed : undefined);
      if (prev && prev.ev.kind !== 'panic' && prev.ev.line < line && ev.details.panicCause !== 'other') prev.related.push(o);
    }
    if (o.closing) this.close(o);
    return true;
  }

  private recentHung(task: TaskRef | undefined, route: string, line: number): Open | undefined {
    if (!task) return undefined;
    const cur = this.open.get(route);
    if (cur) {
      if (cur.ev.kind === 'hung-task' && cur.ev.task?.pid === task.pid) return cur;
      return undefined;
    }
    for (let i = this.events.length - 1; i >= 0 && i >= this.events.length - 50; i--) {
      const o = this.events[i].open;
      if (o.ev.kind === 'hung-task' && o.ev.task?.pid === task.pid && line - o.ev.endLine < 200 && o.route === route) {
        this.open.set(route, o); // reopen: the hint and the owner's stack belong to it
        return o;
      }
    }
    return undefined;
  }

  private attach(o: Open, row: HeaderRow, info: HeaderInfo, line: number): void {
    const d = o.ev.details;
    if (row.kind === 'hung-task') {
      const b: BlockerHint[] = (info.details.blockers ?? []).map((x) => ({ ...x, line }));
      d.blockers = [...(d.blockers ?? []), ...b];
      o.main.state = o.main.state === 'none' ? 'none' : 'closed';
      o.section = 'blocker';
      return;
    }
    if (row.kind === 'oops') {
      d.oopsText = info.details.oopsText;
      d.oopsNumber = info.details.oopsNumber;
      return;
    }
    if (row.kind === 'oom') {
      o.oomKilled = true;
      d.oomVictim ??= info.details.oomVictim;
      d.oomConstraint ??= info.details.oomConstraint;
      return;
    }
    if (row.kind === 'io-error' || row.kind === 'fs-error') {
      d.count = (d.count ?? 1) + 1;
      for (const dev of info.details.devices ?? []) if (!(d.devices ??= []).includes(dev) && d.devices.length < 32) d.devices.push(dev);
      d.device ??= info.details.device;
      if (info.details.fsType) {
        d.fsType ??= info.details.fsType;
        if (!d.fsAction || /read-only|shut down|journal aborted/.test(info.details.fsAction ?? '')) d.fsAction = info.details.fsAction;
      }
      return;
    }
    if (row.id === 'kasan-range') {
      d.bugType = info.details.bugType;
      return;
    }
    // rcu kthread starved, csd follow-ups, mce lines: merge facts
    for (const [k, v] of Object.entries(info.details)) {
      if (v === undefined) continue;
      const key = k as keyof typeof d;
      if (key === 'mceText' && d.mceText) d.mceText = `${d.mceText}\n${v as string}`;
      else if (d[key] === undefined) (d as Record<string, unknown>)[key] = v;
    }
    if (info.cpu !== undefined && o.ev.cpu === undefined) o.ev.cpu = info.cpu;
  }

  /** One line inside an open report: true when it belongs to it. */
  private consume(o: Open, body: string, t: string, line: number): boolean {
    const ev = o.ev;
    const kind = ev.kind;
    if (ev.details.garbledLine === undefined && isGarbled(t, o.main.state === 'active')) ev.details.garbledLine = line;

    // Stack markers (old kernels put a frame on the same line).
    const mk = parseMarker(body);
    if (mk) {
      const tg = o.cur;
      if (tg.state === 'none') tg.state = 'active';
      if (mk.marker.kind === 'push') tg.markers.push(mk.marker.stack);
      else {
        const popped = tg.markers.pop();
        if (popped === 'task' && tg.markers.length === 0 && /^\s*<\/TASK>/.test(body)) {
          tg.state = 'closed';
          if (o.section === 'task') o.section = 'main';
        }
      }
      if (mk.rest.trim()) this.frameLine(o, mk.rest, line, false);
      return true;
    }
    const th = RE_TRACE_HDR.exec(t);
    if (th && !/^Backtrace for cpu/.test(t)) {
      o.structured = true;
      if (o.section === 'lockdep-chains') return true;
      const tg = o.cur;
      if (tg.state === 'none') tg.state = 'active';
      if (th[1]) this.frameLine(o, th[1], line, false);
      return true;
    }
    if (o.eat > 0) {
      if (parseFrame(body, false)) {
        o.eat--;
        return true;
      }
      o.eat = 0;
    }
    if (this.frameLine(o, body, line, o.cur.state !== 'active')) {
      o.lastWasFrame = true;
      return true;
    }
    o.lastWasFrame = false;

    // arm32 prints each frame's saved registers inside its backtrace: ` r8:ddea5c20 r7:84ccd4dc r6:00000000`.
    if (o.cur.state === 'active' && /^(?:r\d+\s?:\s?[0-9a-f]{8}\s*)+$/.test(t)) return true;
    // A decoded PC (scripts/decode_stacktrace.sh): `RIP: 0010:jbd2__journal_start (fs/jbd2/transaction.c:477 (discriminator 1))`.
    const dm = ev.registers.length ? null : /^(?:RIP|EIP|pc|NIP|epc)\s*:\s*(?:[0-9a-f]{4}:)?([A-Za-z_][\w.]*) \([\w./+?-]+:[\d?]+/.exec(t);
    if (dm) {
      (o as Open & { ipSym?: { function: string } }).ipSym ??= { function: dm[1] };
      return true;
    }
    const reg = parseRegisterLine(body);
    if (reg) {
      o.structured = true;
      this.registerLine(o, reg, line);
      return true;
    }
    const code = parseCode(t, line);
    if (code) {
      if (o.cur === o.main && !ev.code) ev.code = code;
      // old kernels print Code: after the trace; inside a trace it follows a register dump
      if (o.lastWasFrame) this.closeTrace(o);
      return true;
    }
    // ppc: `--- interrupt: 700 at func+0x10/0x20` / `--- Exception: 700 at .func+0x10/0x20`: an in-trace exception frame
    const ppc = /^--- (?:interrupt|Exception): ([0-9a-f]+) at (\S+)/.exec(t);
    if (ppc) {
      const tg = o.cur;
      const trap = parseInt(ppc[1], 16);
      tg.segHints.set(tg.segment, [0x500, 0x900, 0xa00, 0xe60, 0xe80, 0xea0, 0xf00].includes(trap) ? 'irq' : 'exception');
      tg.segment++;
      const sym = parseSymbol(ppc[2]);
      if (sym) tg.push({ ...sym, reliable: true, stack: 'unknown', line, exceptionRip: true }, true);
      return true;
    }
    if (/^LR = /.test(t)) return true;

    // Lines that end the trace section but stay in the report.
    const endTrace = /^---\[ end (trace|Kernel panic)/.test(t);
    if (endTrace) {
      if (/^---\[ end trace/.test(t)) ev.details.endTrace = true;
      this.closeTrace(o);
      o.closing = true;
      return true;
    }
    let m: RegExpExecArray | null;
    // A workqueue lockup lists the busy pools' work items: `in-flight: 1234:func, 5678:func2`, `pending: f1, f2`.
    if (kind === 'workqueue-lockup') {
      if ((m = /^in-flight: (.*)$/.exec(t))) {
        for (const x of m[1].matchAll(/(\d+):([\w.]+)/g)) (ev.details.inFlight ??= []).push({ pid: Number(x[1]), func: x[2] });
        return true;
      }
      if ((m = /^(?:pending|delayed|inactive): (.*)$/.exec(t))) {
        for (const x of m[1].split(/,\s*/)) if (x && (ev.details.pending ??= []).length < 64) ev.details.pending.push(x.replace(/\s.*$/, ''));
        return true;
      }
      if (/^(Showing busy workqueues|workqueue \S+: flags=|pwq \d+: cpus=|pool \d+: cpus=|Showing backtraces of running workers)/.test(t)) return true;
    }
    // Sanitizer reports: which access (KASAN), where each racing access's stack starts (KCSAN), kmemleak's object lines.
    if ((kind === 'kasan' || kind === 'kfence') && (m = /^(Read|Write) of size \d+/.exec(t))) {
      ev.details.access ??= m[1] as 'Read' | 'Write';
      this.closeTrace(o);
      return true;
    }
    if (kind === 'kcsan' && /^(?:race at unknown origin, with )?(?:read|write)(?: \((?:marked|reordered)\))?(?:-write)? to 0x[0-9a-f]+ of \d+ bytes by (?:task \d+|interrupt) on cpu \d+:$/.test(t)) {
      // The first access's stack is the report's trace; the second one's ends it.
      if (o.main.state === 'none') o.main.state = 'active';
      else this.closeTrace(o);
      return true;
    }
    if (kind === 'kcsan' && /^(value changed: |Reported by Kernel Concurrency Sanitizer on:)/.test(t)) {
      this.closeTrace(o);
      return true;
    }
    if (kind === 'memory-leak') {
      if (/^backtrace(?: \(crc [0-9a-f]+\))?:$/.test(t)) {
        if (o.main.state === 'none') o.main.state = 'active';
        return true;
      }
      if (/^(comm "|hex dump \(first \d+ bytes\):|(?:[0-9a-f]{2} ){8,}|unreferenced object )/.test(t)) {
        this.closeTrace(o);
        return true;
      }
    }
    // `caller is F+0x1/0x2` (smp_processor_id in preemptible code), `last function: F` (workqueue leaked lock or atomic).
    if ((m = /^(?:caller is|last function:) ([A-Za-z_][\w.]*)/.exec(t))) {
      ev.details.namedFunction ??= m[1];
      return true;
    }
    // Bad page state with page_owner: the stack that allocated the page, then the one that last freed it.
    if (kind === 'bug' && /^page last allocated via /.test(t)) {
      this.closeTrace(o);
      const tg = new Target();
      tg.state = 'active';
      o.allocTarget = tg;
      o.cur = tg;
      return true;
    }
    if (kind === 'bug' && /^page (last free|has been migrated)/.test(t)) {
      this.closeTrace(o);
      return true;
    }
    // lockdep's inconsistent-state report: the lock the context `takes:` and where, on the next line.
    if (kind === 'lockdep' && /\btakes:$/.test(t)) {
      o.takes = true;
      return true;
    }
    if (kind === 'lockdep' && o.takes) {
      o.takes = false;
      m = /, at: (?:\[<[0-9a-f]+>\] )?([A-Za-z_][\w.]*)/.exec(t);
      if (m) {
        ev.details.namedFunction ??= m[1];
        return true;
      }
    }
    // lockdep's held-lock lines: `#0: ffff888... (&foo->lock){+.+.}-{3:3}, at: foo_ioctl+0x1/0x2 [mod]`.
    if (kind === 'lockdep' && (m = /^#\d+: .*\bat: (?:\[<[0-9a-f]+>\] )?([A-Za-z_][\w.]*)/.exec(t))) {
      (ev.details.lockSites ??= []).push(m[1]);
      return true;
    }
    // `Workqueue: events_freezable mmc_rescan`: the work this CPU (or the task being dumped) runs.
    if ((m = /^Workqueue: (\S+) (\S+)/.exec(t))) {
      const wq = { name: m[1], func: m[2] };
      if (o.section === 'task' && o.task) o.task.workqueue = wq;
      else ev.details.workqueue ??= wq;
      return true;
    }
    // Spinlock debugging names the lock and its owner: ` lock: 0xffff..., .magic: dead4ead, .owner: comm/pid, .owner_cpu: n`.
    if (ev.details.spinlockDebug && (m = /^lock: (?:0x)?([0-9a-f]+),? \.magic: [0-9a-f]+, \.owner: (.+)\/(-?\d+), \.owner_cpu: (-?\d+)/.exec(t))) {
      const d = ev.details.spinlockDebug;
      d.lock = m[1].replace(/^0+(?=.)/, '');
      if (Number(m[3]) >= 0 && m[2] !== '<none>') d.owner = { comm: m[2], pid: Number(m[3]) };
      if (Number(m[4]) >= 0) d.ownerCpu = Number(m[4]);
      return true;
    }
    if ((m = RE_CPU_LINE.exec(t))) {
      this.cpuLine(o, Number(m[1]), { comm: m[3], pid: Number(m[2]) }, m[5], m[6]);
      return true;
    }
    if ((m = RE_PID_OLD.exec(t))) {
      this.cpuLine(o, undefined, { comm: m[2], pid: Number(m[1]) }, m[4], m[5]);
      return true;
    }
    if ((m = RE_CPU_ARM_OLD.exec(t))) {
      this.cpuLine(o, Number(m[1]), undefined, m[3], m[4]);
      return true;
    }
    if ((m = /^Hardware name: (.*)$/.exec(t))) {
      ev.hardware ??= m[1].trim();
      this.hardwareFromEvent ??= { text: m[1].trim(), line };
      return true;
    }
    if ((m = /^Modules linked in:(.*)$/.exec(t))) {
      const mods = m[1]
        .replace(/\[last unloaded:[^\]]*\]/, '')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((x) => x.replace(/\(.*$/, ''));
      ev.details.modules = mods;
      o.modules = true;
      o.structured = true;
      this.closeTrace(o);
      return true;
    }
    if ((m = /^(Not tainted|Tainted: (.*?))\s+(\S+) #\S+/.exec(t)) && o.section === 'main') {
      if (/\d/.test(m[3])) ev.release ??= m[3];
      if (m[2] !== undefined) ev.taint ??= m[2].trim().replace(/\s+/g, ' ') || undefined;
      return true;
    }
    if (/^#PF: /.test(t) && !ev.details.accessText) {
      ev.details.accessText = t.slice(5);
      return true;
    }
    // A symbolized report's PC inside inlined functions: `RIP: 0010:lockdep_assert_cpus_held kernel/cpu.c:347 [inline]`.
    if ((m = /^(?:RIP|EIP|pc|PC is at|NIP|epc)\s*:\s*(?:[0-9a-f]{4}:)?([A-Za-z_][\w.]*) ([\w./+-]+:\d+)(?::\d+)? \[inline\]$/.exec(t))) {
      (o.pcInline ??= []).push({ function: m[1], source: m[2], inline: true, reliable: true, stack: 'unknown', line });
      return true;
    }
    if ((m = /^IP: (.*)$/.exec(t))) {
      const sym = parseSymbol(m[1]);
      if (sym && !ev.registers.length) (o as Open & { ipSym?: typeof sym }).ipSym = sym;
      return true;
    }
    if (/^Preemption disabled at:/.test(t)) {
      o.eat = 1;
      return true;
    }
    if (/^Last Breaking-Event-Address:/.test(t)) {
      this.closeTrace(o);
      o.eat = 1;
      return true;
    }
    if (/^stack backtrace:/.test(t)) {
      o.section = 'main';
      return true;
    }
    // Task lines: sched_show_task in hung-task reports, sysrq dumps, RCU task dumps, blocker owners.
    const tl = parseTaskLine(t);
    if (tl) {
      if (kind === 'hung-task' && o.section === 'main' && !ev.details.taskState) {
        ev.details.taskState = t;
        ev.details.ppid = tl.ppid;
        ev.task ??= { comm: tl.comm, pid: tl.pid };
        return true;
      }
      this.closeTrace(o);
      const target = new Target();
      const entry: TaskEntry = { comm: tl.comm, pid: tl.pid, state: tl.state, line, trace: target.frames, target, ...(o.dumpCpu !== undefined ? { cpu: o.dumpCpu } : {}) };
      o.dumpCpu = undefined;
      o.tasks.push(entry);
      o.task = entry;
      o.cur = target;
      o.section = 'task';
      return true;
    }
    if ((m = /^Task dump for CPU (\d+):/.exec(t))) {
      this.closeTrace(o);
      o.section = 'task';
      o.dumpCpu = Number(m[1]);
      return true;
    }
    // Kind-specific text.
    if (kind === 'rcu-stall' && this.rcuLine(o, t)) return true;
    if (kind === 'csd-lock' && /^(?:smp: )?csd: /.test(t)) return true;
    if (kind === 'mce' && /^(?:mce: |MCE: )?(\[Hardware Error\]|Bank \d+: |TSC |RIP |PROCESSOR |ADDR |MISC |MCG |CPU \d+: Machine Check)/.test(t)) {
      ev.details.mceText = ev.details.mceText ? `${ev.details.mceText}\n${t}` : t;
      return true;
    }
    if (kind === 'oom') {
      if (!o.oomKilled) return true; // memory and task tables until the kill line
      const k = /^oom-kill:constraint=(\w+)/.exec(t);
      if (k) o.ev.details.oomConstraint ??= k[1];
      return /^(oom_reaper: |Killed process |oom-kill:|Memory cgroup stats)/.test(t);
    }
    if (kind === 'lockdep' && (o.section === 'lockdep-chains' || o.main.state === 'none')) return true;
    if ((kind === 'kasan' || kind === 'kfence' || kind === 'kmsan' || kind === 'kcsan' || kind === 'ubsan' || kind === 'lockdep' || kind === 'bug' || kind === 'memory-leak') && SANITIZER_TEXT.test(t)) {
      this.closeTrace(o);
      return true;
    }
    if (kind === 'sysrq-blocked' || kind === 'sysrq-tasks') {
      if (/^(Showing (busy workqueues|all locks)|Sched Debug Version|runnable tasks:|cpu#\d+|workqueue |pool \d+:|  pwq |  in-flight:|  pending:|\s*\.\w+\s*:|rt_rq\[|cfs_rq\[|dl_rq\[|S\s+task\s+PID|-{10,})/.test(t)) return true;
    }
    if (kind === 'unknown-nmi' && /^(Do you have a strange|Dazed and confused)/.test(t)) return true;
    for (const re of KNOWN) {
      if (re.test(t)) {
        if (!/^(Code: |Stack:|\(?:?[0-9a-f]{8,16}\s*){2,}$/.test(t)) this.closeTraceSoft(o, t);
        return true;
      }
    }
    return false;
  }

  /** A known non-frame line after frames: the trace section is over (registers, Code: and markers do not end it). */
  private closeTraceSoft(o: Open, t: string): void {
    if (/^(Call Trace|Call trace|CR2: |Modules linked in|---\[|irq event stamp|(hard|soft)irqs last|Kernel Offset|Task dump|Preemption disabled|Workqueue: |Hardware name: |Tainted: \[|\S+ #\S+ (Not|Tainted)|Sending NMI|NMI backtrace for cpu \d+ skipped)/.test(t)) {
      if (/^(Hardware name|Workqueue|Tainted: \[)/.test(t) && o.cur.state === 'none') return;
      this.closeTrace(o);
    }
  }

  private closeTrace(o: Open): void {
    if (o.cur.state === 'active') o.cur.state = 'closed';
    if (o.cur !== o.main && o.section !== 'task') o.cur = o.main;
  }

  private frameLine(o: Open, text: string, line: number, strict: boolean): boolean {
    const pf = parseFrame(text, strict);
    if (!pf) return false;
    if (o.section === 'lockdep-chains') return true;
    const tg = o.cur;
    if (tg.state === 'none') {
      // kfence prints its stack straight after the header, no "Call Trace:".
      // A pasted trace may have lost its "Call Trace:" line: a frame with offset and size cannot be anything else.
      if (o.ev.kind === 'kfence' || o.ev.kind === 'kmsan' || (o.section === 'task' && tg !== o.main) || pf.frame.address !== undefined || (pf.frame.offset !== undefined && pf.frame.size !== undefined && (PASTED_TRACE_KINDS.has(o.ev.kind) || /^kernel BUG at /.test(o.ev.title)))) tg.state = 'active';
      else return true;
    }
    if (tg.state === 'closed') return true;
    const f = pf.frame;
    f.line = line;
    if (pf.from) {
      // A symbolized arm32 trace repeats a frame once per function inlined into its caller, innermost first:
      // `(__list_add_valid) from (__list_add include/linux/list.h:67 [inline])`, then `... from (rdma_listen+0x17c/0x37c ...)`.
      const last = [...tg.frames].reverse().find((x) => !x.inline);
      if (tg.armFrom?.inline && last && last.function === f.function && last.address === f.address) {
        tg.push(tg.armFrom);
        tg.armFrom = { ...pf.from, line };
        return true;
      }
      if (tg.armFrom && tg.armFrom.function !== f.function) tg.push(tg.armFrom);
      tg.armFrom = undefined;
      tg.push(f);
      tg.armFrom = { ...pf.from, line };
      return true;
    }
    const prev = tg.frames[tg.frames.length - 1];
    const prevMeta = tg.meta[tg.meta.length - 1];
    if (prev && prevMeta?.synthetic && f.reliable && prev.function === f.function && (prev.offset === undefined || prev.offset === f.offset)) {
      // arm64 / ppc print the PC's function again as the first frame: one frame, not two.
      prev.address ??= f.address;
      prev.size ??= f.size;
      prev.offset ??= f.offset;
      return true;
    }
    tg.push(f);
    return true;
  }

  private registerLine(o: Open, r: ReturnType<typeof parseRegisterLine> & object, line: number): void {
    const tg = o.cur;
    const isMain = tg === o.main;
    if (Object.keys(r.values).length === 0 && !r.starts && !r.pcSymbol) return;
    let set = o.regs;
    const clash = set && Object.keys(r.values).some((k) => k in set!.values && k !== 'cs');
    const archSwitch = set && set.arch !== r.arch && !((set.arch === 'x86' || set.arch === 'x86_64') && (r.arch === 'x86' || r.arch === 'x86_64'));
    if (!set || r.starts || clash || archSwitch) {
      this.finishRegs(o);
      set = { arch: r.arch, values: {}, line };
      if (tg.state === 'active') {
        tg.segment++;
        set.atFrame = tg.frames.length;
      } else if (tg.frames.length) set.atFrame = tg.frames.length;
      o.regs = set;
      (set as RegisterSet & { main?: boolean }).main = isMain;
    }
    Object.assign(set.values, r.values);
    if (r.mode) set.mode = r.mode;
    if (r.arch === 'x86' && set.arch === 'x86_64' && r.starts) set.arch = 'x86';
    if (r.pcSymbol && !set.pcSymbol) {
      set.pcSymbol = r.pcSymbol;
      if (r.mode !== 'user') {
        for (const f of o.pcInline ?? []) tg.push(f, true);
        o.pcInline = undefined;
        tg.push({ ...r.pcSymbol, reliable: true, stack: 'unknown', line, exceptionRip: true }, true);
        (set as RegisterSet & { frameIndex?: number }).frameIndex = tg.frames.length - 1;
      }
    }
  }

  private finishRegs(o: Open): void {
    const set = o.regs as (RegisterSet & { main?: boolean; frameIndex?: number }) | undefined;
    o.regs = undefined;
    if (!set) return;
    if (set.mode === undefined) set.mode = modeOf(set);
    const ie = irqsEnabledOf(set);
    if (ie !== undefined) set.irqsEnabled = ie;
    if (set.main) o.ev.registers.push(set);
  }

  private cpuLine(o: Open, cpu: number | undefined, task: TaskRef | undefined, taint: string | undefined, release: string | undefined): void {
    const ev = o.ev;
    o.structured = true;
    if (o.section === 'task') return;
    if (cpu !== undefined && ev.cpu === undefined) ev.cpu = cpu;
    // A hard lockup printed by another CPU (the buddy detector, a panic on the detecting CPU): its trace is that CPU's.
    if (ev.kind === 'hard-lockup' && cpu !== undefined && ev.cpu !== cpu) ev.details.detectedBy ??= cpu;
    const same = cpu === undefined || ev.cpu === cpu;
    if (task && same && (!ev.task || ev.task.pid < 0 || ev.kind === 'oom')) ev.task = task;
    if (release && /\d/.test(release)) ev.release ??= release;
    if (taint !== undefined) ev.taint ??= taint.trim().replace(/\s+/g, ' ') || undefined;
  }

  private rcuLine(o: Open, t: string): boolean {
    const d = o.ev.details;
    const s = t.replace(/^rcu: /, '').trim();
    let m: RegExpExecArray | null;
    if ((m = /^(\d+)-?(?:[.\w!]{3,5})?: \(/.exec(s)) || (m = /^(\d+): \(/.exec(s))) {
      const cpu = Number(m[1]);
      d.stalledCpus = [...new Set([...(d.stalledCpus ?? []), cpu])];
      if (d.selfDetected && o.ev.cpu === undefined) o.ev.cpu = cpu;
      return true;
    }
    if ((m = /^\(detected by (\d+),/.exec(s))) {
      d.detectedBy = Number(m[1]);
      return true;
    }
    if (/^\(t=\d+ jiffies/.test(s)) return true;
    if ((m = /^Tasks blocked on level-\d+ rcu_node \([^)]*\):(.*)$/.exec(s)) || (m = /^((?:P\d+\s*)+)$/.exec(s))) {
      const pids = [...m[1].matchAll(/P(\d+)/g)].map((x) => Number(x[1]));
      if (pids.length) d.stalledTasks = [...new Set([...(d.stalledTasks ?? []), ...pids])];
      return true;
    }
    if (/kthread starved for \d+ jiffies/.test(s)) {
      d.kthreadStarved = true;
      return true;
    }
    // Older kernels: every quiescent state is in, yet the grace-period kthread has not run for a long time.
    if ((m = /^All QSes seen, last (\w+) kthread activity (\d+)/.exec(s))) {
      const ago = Number(m[2]);
      if (ago > 1000) {
        d.kthreadStarved = true;
        d.starvedKthread ??= { name: `${m[1]} kthread`, jiffies: ago };
      }
      return true;
    }
    if (/^rcu: /.test(t) || /^(blocking rcu_node|All QSes seen|Possible timer handling|Unless \w+ kthread|RCU grace-period kthread stack dump|Stack dump where RCU|INFO: Stall ended|\{)/.test(s)) return true;
    return false;
  }

  private close(o: Open): void {
    if (this.open.get(o.route) === o) this.open.delete(o.route);
    this.lastClosed = o;
    this.finishRegs(o);
    o.main.finish();
    for (const tk of o.tasks) tk.target.finish();
    if (o.allocTarget) {
      o.allocTarget.finish();
      o.ev.details.allocatedBy = o.allocTarget.frames;
    }
    const ev = o.ev;
    ev.trace = o.main.frames;
    // register set stacks: the stack of the frame made from its PC (or of the next frame), user for user mode
    for (const r of ev.registers as Array<RegisterSet & { main?: boolean; frameIndex?: number }>) {
      if (r.mode === 'user') r.stack = 'user';
      else if (r.frameIndex !== undefined) r.stack = ev.trace[r.frameIndex]?.stack;
      else if (r.atFrame !== undefined && ev.trace[r.atFrame]) r.stack = ev.trace[r.atFrame].stack;
      delete r.main;
      delete r.frameIndex;
    }
    if (o.tasks.length) {
      ev.details.tasks = o.tasks.map((tk) => ({ comm: tk.comm, pid: tk.pid, state: tk.state, line: tk.line, trace: tk.target.frames, ...(tk.cpu !== undefined ? { cpu: tk.cpu } : {}), ...(tk.workqueue ? { workqueue: tk.workqueue } : {}) }));
    } else if (ev.kind === 'sysrq-blocked' || ev.kind === 'sysrq-tasks') ev.details.tasks = [];
    // In interrupt context: an IRQ/softirq frame comes before the first task frame (NMI frames of the reporting
    // mechanism do not count).
    for (const f of ev.trace) {
      if (!f.reliable || f.stack === 'nmi') continue;
      if (f.stack === 'irq' || f.stack === 'softirq') {
        ev.details.inInterrupt = true;
        break;
      }
      if (f.stack === 'task' || f.stack === 'user' || f.stack === 'entry') break;
    }
    const ipSym = (o as Open & { ipSym?: { function: string; module?: string } }).ipSym;
    const hdrSym = (o as Open & { symbol?: { function: string; module?: string } }).symbol;
    ev.culprit = culpritOf(ev, hdrSym, ipSym);
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * A line that shows the console lost output: text run into stack words (`... disabfd5bb59b0 0000000000000086`), a
 * trace header cut behind them (`ffff8Trace:`), or a stray number alone inside a trace.
 */
function isGarbled(t: string, inTrace: boolean): boolean {
  // a word of letters run into 8+ hex digits (`disabfd5bb59b0`) beside stack words
  if (/\b[0-9a-f]{16}\b/.test(t) && t.split(/\s+/).some((w) => /^[A-Za-z]*[g-zG-Z][A-Za-z]*[0-9a-f]{8,}$/.test(w))) return true;
  if (/[0-9a-f](Call )?Trace:\s*$/.test(t)) return true;
  return inTrace && /^\d{1,3}$/.test(t);
}

function matchHeader(t: string): { row: HeaderRow; m: RegExpExecArray } | undefined {
  for (const row of HEADERS) {
    const m = row.re.exec(t);
    if (m) return { row, m };
  }
  return undefined;
}

export function parseTaskLine(t: string): { comm: string; pid: number; ppid: number; state: string } | undefined {
  let m = RE_TASK_NEW.exec(t);
  if (m) return { comm: m[1].trim(), state: m[2], pid: Number(m[4]), ppid: Number(m[6]) };
  m = RE_TASK_OLD.exec(t);
  if (m && !/^(CPU|RIP|RSP|Code|Call|Modules|Hardware)\b/.test(m[1])) return { comm: m[1].trim(), state: m[2], pid: Number(m[4]), ppid: Number(m[5]) };
  return undefined;
}

function archOfRelease(t: string): string | undefined {
  if (/amd64|x86_64/.test(t)) return 'x86_64';
  if (/aarch64|arm64/.test(t)) return 'arm64';
  if (/ppc64/.test(t)) return 'ppc64';
  if (/s390x/.test(t)) return 's390x';
  if (/\bi[3-6]86\b|\.i686/.test(t)) return 'x86';
  return undefined;
}

const NO_CULPRIT: EventKind[] = ['oom', 'sysrq-blocked', 'sysrq-tasks', 'mce', 'unknown-nmi', 'io-error', 'fs-error'];

/**
 * The most specific function to blame (the report's guilty frame, guilty.ts), and the report's title in the
 * kernel-community convention, kept in `details.report`.
 */
export function culpritOf(
  ev: LogEvent,
  headerSym?: { function: string; module?: string },
  ipSym?: { function: string; module?: string },
): LogEvent['culprit'] {
  if (NO_CULPRIT.includes(ev.kind) || ev.details.idle) return undefined;
  const type = reportTypeOf(ev);
  const guilty = guiltyFrame(ev, type, headerSym, ipSym);
  if (type) ev.details.report = describeReport(type, ev, guilty);
  return guilty;
}

// ---------------------------------------------------------------------------------------------
// Which stack each frame is on

const NMI_ENTRY = /^(asm_exc_nmi|exc_nmi|end_repeat_nmi|repeat_nmi|first_nmi|nmi|do_nmi|default_do_nmi|nmi_handle|asm_exc_nmi_noist|exc_nmi_noist)$/;
const IRQ_ENTRY = /^(asm_sysvec_\w+|sysvec_\w+|asm_common_interrupt|common_interrupt|apic_timer_interrupt|ret_from_intr|irq_entries_start|__irq_svc|irq_svc|el1_irq|el1h_64_irq|el1h_64_irq_handler|el1_interrupt|el0_interrupt|call_on_irq_stack|asm_call_irq_on_stack|asm_call_sysvec_on_stack|do_IRQ|smp_apic_timer_interrupt|gic_handle_irq|hardware_interrupt_common\w*|decrementer_common\w*|io_int_handler|ext_int_handler|call_function_interrupt|call_function_single_interrupt|reschedule_interrupt|irq_work_interrupt|x86_platform_ipi|smp_call_function_interrupt|smp_call_function_single_interrupt|handle_irq)$/;
const EXC_ENTRY = /^(asm_exc_(?!nmi)\w+|exc_(page_fault|general_protection|invalid_op|int3|debug|double_fault|stack_segment|divide_error|alignment_check|control_protection|machine_check|bounds|overflow)|page_fault|async_page_fault|general_protection|invalid_op|divide_error|double_fault|stack_segment|machine_check|do_page_fault|el1_abort|el1_da|el1h_64_sync|el1h_64_sync_handler|el1_sync|el1_sync_handler|__dabt_svc|__und_svc|do_DataAbort|data_access_common\w*|program_check_common\w*|pgm_check_handler|error_entry)$/;
const SOFTIRQ_ENTRY = /^(__do_softirq|handle_softirqs)$/;

function entryKind(fn: string): StackKind | undefined {
  const b = baseName(fn);
  if (NMI_ENTRY.test(b)) return 'nmi';
  if (SOFTIRQ_ENTRY.test(b)) return 'softirq';
  if (EXC_ENTRY.test(b)) return 'exception';
  if (IRQ_ENTRY.test(b)) return 'irq';
  return undefined;
}

/**
 * Fills `frame.stack`. Explicit markers (<IRQ>, <NMI>, <SOFTIRQ>, <#DF>) decide for the frames inside them; elsewhere
 * a frame is in the context of the nearest entry frame printed after it in the same segment (a segment ends at an
 * in-trace register dump, i.e. where an interrupt or exception interrupted something); frames after the last entry
 * frame are task context. A frame made from a register dump's PC takes the stack of the next reliable frame.
 */
export function classifyStacks(frames: Frame[], meta: Meta[], segHints: Map<number, StackKind>): void {
  const n = frames.length;
  const kinds: Array<StackKind | undefined> = frames.map((f, i) => (f.reliable && !meta[i].synthetic ? entryKind(f.function) : undefined));
  for (let i = 0; i < n; i++) {
    if (meta[i].synthetic) continue;
    const mk = meta[i].marker;
    let s: StackKind | undefined;
    let near: StackKind | undefined;
    for (let j = i; j < n && meta[j].segment === meta[i].segment; j++) {
      if (kinds[j]) {
        near = kinds[j];
        break;
      }
    }
    if (mk && mk !== 'task') s = mk === 'irq' && near === 'softirq' ? 'softirq' : mk;
    else s = near ?? segHints.get(meta[i].segment) ?? 'task';
    frames[i].stack = s;
  }
  for (let i = 0; i < n; i++) {
    if (!meta[i].synthetic) continue;
    let s: StackKind | undefined;
    for (let j = i + 1; j < n; j++) {
      if (!meta[j].synthetic && frames[j].reliable) {
        s = frames[j].stack;
        break;
      }
    }
    if (!s) {
      const mk = meta[i].marker;
      s = mk && mk !== 'task' ? mk : 'task';
    }
    frames[i].stack = s;
  }
}
