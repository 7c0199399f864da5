/**
 * Output of the `crash` utility pasted as text (a ticket, a mail, a write-up): with or without `crash>` prompts, in any
 * order, mixed with kernel log lines, indented or mail-quoted. Each command's output is recognised by its shape:
 * `sys`, `bt` / `bt -a` / `bt -f` / `foreach bt` (frames, exception frames and their registers, stack markers), `ps`
 * (and `ps -m`, `ps -l`, `ps -t`), `dis`, `p` / `struct` / `px` (nested braces, `-o` member addresses), `rd`, `waitq`,
 * `files`. Lines of none of these shapes are returned for the log parser; those that are no kernel log line either are
 * kept as "not understood" chunks.
 */
import type { Frame, RegisterSet, StackKind } from '../../model/trace.ts';
import { irqsEnabledOf, modeOf } from '../log/frames.ts';

export interface CrashTask {
  pid: number;
  ppid?: number;
  cpu?: number;
  /** task_struct address, hex without 0x. */
  task?: string;
  /** crash's two-letter state: RU, IN, UN, ID, ZO, ST, TR, DE, SW, WA, PA, NE. */
  state?: string;
  comm: string;
  /** Marked `>` by ps: the task running on its CPU. */
  active?: boolean;
  /** Virtual size in KiB (0 for kernel threads). */
  vszKiB?: number;
  line: number;
}

export interface CrashStack {
  pid: number;
  task: string;
  cpu: number;
  comm: string;
  frames: Frame[];
  /** Register sets printed in the stack (exception frames, the user registers at the entry), in order. */
  registers: RegisterSet[];
  /** The command that printed it, when a prompt said (`bt -a`, `foreach UN bt`). */
  command?: string;
  line: number;
  endLine: number;
}

export interface CrashInstruction {
  address: bigint;
  function: string;
  offset: number;
  /** The instruction as crash prints it: `mov    0x189f4b5(%rip),%eax        # 0xffffffffb2a07a00 <jiffies_seq>`. */
  text: string;
  line: number;
}

/** One printed value (`p`, `struct`, `px`): its leaves flattened to dotted paths. */
export interface CrashValue {
  /** The expression or symbol printed (`jiffies_seq`), when known. */
  name?: string;
  /** `struct userfaultfd_ctx` for a struct printed by type. */
  type?: string;
  /** Where it lies, when the command or a `-o` listing says. */
  address?: bigint;
  /** Leaves in print order: `seqcount.sequence` -> `2085`. */
  leaves: Array<{ path: string; value: string }>;
  /** Member addresses from `struct -o ADDR`: `refcount` -> address. */
  members: Map<string, bigint>;
  line: number;
  endLine: number;
}

export interface CrashWaitq {
  name?: string;
  address?: bigint;
  tasks: Array<{ pid: number; task: string; cpu: number; comm: string; line: number }>;
  line: number;
}

export interface CrashFiles {
  pid: number;
  task: string;
  comm: string;
  fds: Array<{ fd: number; file: string; dentry: string; inode: string; type: string; path: string; line: number }>;
  line: number;
}

export interface CrashText {
  source: string;
  lines: number;
  /** Lines that were crash output. */
  recognized: number;
  commands: Array<{ command: string; line: number }>;
  sys: Map<string, { value: string; line: number }>;
  tasks: Map<number, CrashTask>;
  /** `ps -m`: time since each task last ran, seconds, and its state. */
  lastRun: Map<number, { seconds: number; state: string; line: number }>;
  /** `ps -l`: each task's last_run timestamp, ns. */
  lastRunNs: Map<number, { ns: bigint; state: string; line: number }>;
  /** `ps -t`: start time, seconds after boot. */
  startTimes: Map<number, { seconds: number; line: number }>;
  stacks: CrashStack[];
  code: Map<bigint, CrashInstruction>;
  /** Symbol start addresses seen (`0xADDR <name+off>`, exception RIP with its RIP). */
  symbols: Map<string, bigint>;
  values: CrashValue[];
  /** Memory words (`rd`, `bt -f`): address -> value and size in bytes. */
  words: Map<bigint, { value: bigint; size: number; line: number }>;
  waitqs: CrashWaitq[];
  files: CrashFiles[];
  /** `mod`: loaded modules. */
  modules: Array<{ name: string; base: string; size: number; line: number }>;
  /** `help -r`: each CPU's register note. */
  cpuRegisters: Map<number, RegisterSet>;
  /** `kmem -i`: memory summary rows (`TOTAL MEM`, `FREE`, `SLAB`...) in pages. */
  memory: Map<string, { pages: number; line: number }>;
  /** `runq`: tasks on each CPU's run queue (the current one first). */
  runqueues: Map<number, Array<{ pid: number; comm: string; current: boolean; line: number }>>;
  /** `mach` and other `KEY: value` header lines. */
  machine: Map<string, string>;
  /** Lines not consumed, with their line numbers: the kernel log parser reads them. */
  rest: Array<{ text: string; line: number }>;
}

const TASK_HEADER = /^PID:\s*(\d+)\s+TASK:\s*([0-9a-f]+)\s+CPU:\s*(\d+)\s+COMMAND:\s*"(.*)"\s*$/;
const FRAME = /^#(\d+)\s+\[([0-9a-f]+)\]\s+(\S+?)(?:\+(0x[0-9a-f]+|\d+))?\s+at\s+([0-9a-f]+)(?:\s+\[(\S+)\])?\s*$/;
const EXCEPTION_RIP = /^\[exception RIP: (?:([^\s+\]]+)(?:\+(\d+))?|unknown or invalid address)\]$/;
const MARKER = /^--- <([^>]+)> ---$/;
const REG_PAIR = /\b([A-Z][A-Z0-9_]*):\s+([0-9a-f]{4,16})\b/g;
const REG_LINE = /^(?:(?:RIP|RSP|RFLAGS|RAX|RBX|RCX|RDX|RSI|RDI|RBP|R\d+|ORIG_RAX|CS|SS|DS|ES|FS|GS):\s+[0-9a-f]+\s*)+$/;
const STACK_WORDS = /^([0-9a-f]{16}):\s+((?:[0-9a-f]{8}|[0-9a-f]{16})(?:\s+(?:[0-9a-f]{8}|[0-9a-f]{16}))*)(?:\s{2,}.*)?$/;
const PS_HEADER = /^PID\s+PPID\s+CPU\s+TASK\s+ST\s+%MEM\s+VSZ\s+RSS\s+COMM$/;
const PS_ROW = /^(>?)\s*(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{8,16})\s+([A-Z?]{2})\s+([\d.]+)\s+(\d+)\s+(\d+)\s+(.+?)\s*$/;
const PS_M = /^\[\s*(\d+)\s+(\d+):(\d+):(\d+)\.(\d+)\]\s+\[(\w\w)\]\s+PID:\s*(\d+)\s+TASK:\s*([0-9a-f]+)\s+CPU:\s*(\d+)\s+COMMAND:\s*"(.*)"/;
const PS_L = /^\[(\d+)\]\s+\[(\w\w)\]\s+PID:\s*(\d+)\s+TASK:\s*([0-9a-f]+)\s+CPU:\s*(\d+)\s+COMMAND:\s*"(.*)"/;
const DIS = /^(0x[0-9a-f]+)\s+<([^>+\s]+)(?:\+(0x[0-9a-f]+|\d+))?>:\s*(.*?)\s*$/;
const SOURCE_LINE = /^\S+\.[chSs]: \d+$/;
const SYS = /^(KERNEL|DUMPFILE|CPUS|DATE|UPTIME|LOAD AVERAGE|TASKS|NODENAME|RELEASE|VERSION|MACHINE|MEMORY|PANIC):\s*(.*)$/;
const SYMREF = /\b0x([0-9a-f]{8,16}) <([A-Za-z_.$][\w.$]*)(?:\+(\d+))?>/g;
const FILES_HEADER = /^FD\s+FILE\s+DENTRY\s+INODE\s+TYPE\s+PATH$/;
const FILES_ROW = /^(\d+)\s+([0-9a-f]{8,16})\s+([0-9a-f]{8,16})\s+([0-9a-f]{8,16})\s+(\S+)\s*(.*)$/;
const VALUE_START = /^(?:(\S+) = )?\$(\d+) = (.*)$/;
const STRUCT_START = /^(struct|union) ([\w]+) \{$/;
const MEMBER_OFFSET = /^\[(?:0x)?([0-9a-f]+)\]\s+(.*?)([\w]+)(\[\d*\])*(?::\s*\d+)?;$/;
const SYM = /^([0-9a-f]{16}) \(([A-Za-z])\) ([A-Za-z_.$][\w.$]*)(?:\+(\d+))?(?: \[(\S+)\])?(?:\s+\S+: \d+)?$/;
const WAITQ_EMPTY = /^wait queue ([0-9a-f]+) is empty$/;
const WAITQ_HEADING = /\bwaitq\b\s+(?:([A-Za-z_][\w.>-]*)\s+)?\(?(?:0x)?([0-9a-f]{12,16})\)?/;

/**
 * Mail quoting (`> ` before every line): stripped when most lines carry it. A ps row's own `>` (the active task)
 * is then the second one.
 */
function unquoter(lines: string[]): (s: string) => string {
  const nonEmpty = lines.filter((l) => l.trim());
  const quoted = nonEmpty.filter((l) => /^\s*>/.test(l)).length;
  if (nonEmpty.length < 3 || quoted < nonEmpty.length * 0.8) return (s) => s;
  return (s) => s.replace(/^\s*> ?/, '');
}

/** Seconds from `00:00:33` or `1 days, 02:03:04`. */
export function clockSeconds(s: string): number | undefined {
  const m = /(?:(\d+) days?,\s*)?(\d+):(\d\d):(\d\d)/.exec(s);
  if (!m) return undefined;
  return Number(m[1] ?? 0) * 86400 + Number(m[2]) * 3600 + Number(m[3]) * 60 + Number(m[4]);
}

function stackKindOf(marker: string): StackKind {
  if (/NMI/i.test(marker)) return 'nmi';
  if (/soft ?irq/i.test(marker)) return 'softirq';
  if (/IRQ/i.test(marker)) return 'irq';
  if (/exception/i.test(marker)) return 'exception';
  return 'unknown';
}

/** Register set from crash's register block lines (x86_64 `RIP: ... RFLAGS:`, arm64 `X0: ... PC: ... PSTATE:`). */
function registerSet(lines: string[], at: number, line: number): RegisterSet {
  const values: Record<string, string> = {};
  for (const l of lines) for (const m of l.matchAll(REG_PAIR)) values[m[1].toLowerCase() === 'rflags' ? 'eflags' : m[1].toLowerCase()] = m[2];
  const arm64 = values.rip === undefined && (values.x0 !== undefined || values.pc !== undefined);
  const out: RegisterSet = { arch: arm64 ? 'arm64' : 'x86_64', values, atFrame: at, line };
  const mode = !arm64 && values.cs !== undefined ? ((parseInt(values.cs, 16) & 3) === 3 ? 'user' : 'kernel') : modeOf(out);
  if (mode) out.mode = mode;
  const irqs = irqsEnabledOf(out);
  if (irqs !== undefined) out.irqsEnabled = irqs;
  return out;
}

/** Whether a text holds crash output at all (a few lines of its shapes). */
export function looksLikeCrashText(text: string): boolean {
  let hits = 0;
  for (const raw of text.split('\n', 4000)) {
    const t = raw.replace(/^(?:\s*>(?=\s*(?:>|crash|PID|#|\[|0x)))+\s?/, '').trim();
    if (/^crash(?:64)?> /.test(t) || TASK_HEADER.test(t) || FRAME.test(t) || PS_HEADER.test(t) || EXCEPTION_RIP.test(t) || DIS.test(t) || PS_M.test(t) || /^>>>\s.*stack_trace\(/.test(t) || /^#\d+\s+[A-Za-z_][\w.]*\s+\([^)]*:\d+(:\d+)?\)$/.test(t)) hits++;
    if (hits >= 3) return true;
  }
  return false;
}

/** Parses pasted crash output. */
export function parseCrashText(text: string, source: string): CrashText {
  const raw = text.split(/\r?\n/);
  const unquote = unquoter(raw);
  // Authors' margin notes (`<----- target function`, `^^^^`) are not output.
  const lines = raw.map((l) => unquote(l.replace(/\t/g, '    ')).replace(/\s+(?:<-{2,}|<={2,}|-{2,}>|\^{3,}).*$/, '').trim());
  const out: CrashText = {
    source,
    lines: raw.length,
    recognized: 0,
    commands: [],
    sys: new Map(),
    tasks: new Map(),
    lastRun: new Map(),
    lastRunNs: new Map(),
    startTimes: new Map(),
    stacks: [],
    code: new Map(),
    symbols: new Map(),
    values: [],
    words: new Map(),
    waitqs: [],
    files: [],
    modules: [],
    cpuRegisters: new Map(),
    memory: new Map(),
    runqueues: new Map(),
    machine: new Map(),
    rest: [],
  };
  let regsCpu: number | undefined;
  let runqCpu: number | undefined;
  let irqTable = false;
  const symbol = (name: string, address: bigint) => {
    if (!out.symbols.has(name)) out.symbols.set(name, address);
  };
  let command: string | undefined;
  let waitq: CrashWaitq | undefined;
  let i = 0;
  const take = (n: number) => {
    out.recognized += n;
    i += n;
  };
  while (i < lines.length) {
    const t = lines[i];
    const lineNo = i + 1;
    for (const m of t.matchAll(SYMREF)) symbol(m[2], BigInt('0x' + m[1]) - BigInt(m[3] ?? 0));
    // drgn: `>>> prog.stack_trace(1234)` / `stack_trace(find_task(prog, 1234))`, then `#0  func (file:line:col)` frames.
    const drgn = /^>>>\s.*stack_trace\((?:find_task\(\s*prog\s*,\s*)?(\d+)\)?\)/.exec(t);
    if (drgn) {
      const pid = Number(drgn[1]);
      const frames: Frame[] = [];
      let k = i + 1;
      for (; k < lines.length; k++) {
        const f = /^#(\d+)\s+(?:([A-Za-z_][\w.]*)(?:\+0x[0-9a-f]+\/0x[0-9a-f]+)?\s*(?:\(([^)]*)\))?|0x([0-9a-f]+))(?:\s+\(inlined\))?\s*$/.exec(lines[k]);
        if (!f) break;
        frames.push({ function: f[2] ?? `0x${f[4]}`, ...(f[4] ? { address: f[4] } : {}), reliable: true, stack: 'task', line: k + 1 });
      }
      if (frames.length) {
        const known = out.tasks.get(pid);
        out.stacks.push({ pid, task: known?.task ?? '0', cpu: known?.cpu ?? -1, comm: known?.comm ?? `pid ${pid}`, frames, registers: [], command: 'drgn stack_trace', line: lineNo, endLine: k });
        take(k - i);
        continue;
      }
    }
    const prompt = /^crash(?:64)?>\s?(.*)$/.exec(t);
    if (prompt) {
      command = prompt[1].trim();
      out.commands.push({ command, line: lineNo });
      waitq = undefined;
      const w = /^waitq\s+(?:(\S+)\s+)?(?:0x)?([0-9a-f]{12,16})\s*$/.exec(command);
      if (w) {
        waitq = { ...(w[1] ? { name: w[1] } : {}), address: BigInt('0x' + w[2]), tasks: [], line: lineNo };
        out.waitqs.push(waitq);
      }
      take(1);
      continue;
    }
    if (!t) {
      i++;
      continue;
    }
    // `mod`
    if (/^MODULE\s+NAME\s+(BASE|TEXT_BASE)\s+SIZE\s+OBJECT FILE$/.test(t)) {
      take(1);
      continue;
    }
    const mod = /^([0-9a-f]{16})\s+(\S+)\s+([0-9a-f]{16})\s+(\d+)\s+(.*)$/.exec(t);
    if (mod) {
      out.modules.push({ name: mod[2], base: mod[3], size: Number(mod[4]), line: lineNo });
      take(1);
      continue;
    }
    // `help -r` (and `bt`'s CPU register banners): `CPU 0:` then register lines.
    const cpuHead = /^CPU (\d+):$/.exec(t);
    if (cpuHead && (REG_LINE.test(lines[i + 1] ?? '') || /^(X\d+|LR|SP|PC|PSTATE|R[A-Z0-9]+):/.test(lines[i + 1] ?? ''))) {
      regsCpu = Number(cpuHead[1]);
      take(1);
      continue;
    }
    if (regsCpu !== undefined && /^(?:[A-Z][A-Z0-9_]*:\s+[0-9a-f]+\s*)+$/.test(t)) {
      const block: string[] = [];
      const line = lineNo;
      while (i < lines.length && /^(?:[A-Z][A-Z0-9_]*:\s+[0-9a-f]+\s*)+$/.test(lines[i])) block.push(lines[i++]);
      out.recognized += block.length;
      const rs = registerSet(block, 0, line);
      out.cpuRegisters.set(regsCpu, rs);
      regsCpu = undefined;
      continue;
    }
    // `kmem -i`
    if (/^PAGES\s+TOTAL\s+PERCENTAGE$/.test(t)) {
      take(1);
      continue;
    }
    const km = /^(TOTAL MEM|FREE|USED|SHARED|BUFFERS|CACHED|SLAB|TOTAL HUGE|HUGE FREE|TOTAL SWAP|SWAP USED|SWAP FREE|COMMIT LIMIT|COMMITTED)\s+(\d+)\s+.*$/.exec(t);
    if (km) {
      out.memory.set(km[1], { pages: Number(km[2]), line: lineNo });
      take(1);
      continue;
    }
    // `runq`
    const rq = /^CPU (\d+)(?: RUNQUEUE: [0-9a-f]+)?$/.exec(t);
    if (rq) {
      runqCpu = Number(rq[1]);
      out.runqueues.set(runqCpu, []);
      take(1);
      continue;
    }
    if (runqCpu !== undefined) {
      const cur = /^CURRENT: PID:\s*(\d+)\s+TASK:\s*[0-9a-f]+\s+COMMAND:\s*"(.*)"$/.exec(t);
      const queued = /^(?:\[\s*\d+\]\s+)?PID:\s*(\d+)\s+TASK:\s*[0-9a-f]+\s+COMMAND:\s*"(.*)"$/.exec(t);
      if (cur || (queued && /^\[/.test(t))) {
        const m = (cur ?? queued)!;
        out.runqueues.get(runqCpu)!.push({ pid: Number(m[1]), comm: m[2], current: !!cur, line: lineNo });
        take(1);
        continue;
      }
      if (/^(RT PRIO_ARRAY|CFS RB_ROOT|DL RB_ROOT|\[no tasks queued\]|\[\s*\d+\]\s*$|GROUP .*|TASK_GROUP.*)/.test(t) || /^\[\s*\d+\]\s+[0-9a-f]+/.test(t)) {
        take(1);
        continue;
      }
      runqCpu = undefined;
    }
    // `irq -s`: a CPU header row, then one row per interrupt.
    if (/^(CPU\d+\s+)+$/.test(t + ' ')) {
      irqTable = true;
      take(1);
      continue;
    }
    if (irqTable && /^\s*\w+:\s+(\d+\s+)+/.test(t)) {
      take(1);
      continue;
    }
    irqTable = false;
    // `mach` and similar `KEY: value` headers (IRQ STACKS:, DOUBLEFAULT STACK SIZE: ...).
    const kv = /^([A-Z][A-Z0-9 ()/_-]{2,40}):\s*(.*)$/.exec(t);
    if (kv && !SYS.test(t) && !REG_LINE.test(t) && !/^(PID|CPU \d+)$/.test(kv[1])) {
      out.machine.set(kv[1], kv[2]);
      take(1);
      continue;
    }
    if (/^CPU \d+: [0-9a-f]{16}$/.test(t)) {
      take(1);
      continue;
    }
    const sys = SYS.exec(t);
    if (sys) {
      out.sys.set(sys[1], { value: sys[2].trim(), line: lineNo });
      take(1);
      continue;
    }
    const wh = WAITQ_HEADING.exec(t);
    if (wh && !TASK_HEADER.test(t)) {
      waitq = { ...(wh[1] ? { name: wh[1] } : {}), address: BigInt('0x' + wh[2]), tasks: [], line: lineNo };
      out.waitqs.push(waitq);
      take(1);
      continue;
    }
    const empty = WAITQ_EMPTY.exec(t);
    if (empty) {
      const address = BigInt('0x' + empty[1]);
      if (!waitq || waitq.address !== address) {
        waitq = { address, tasks: [], line: lineNo };
        out.waitqs.push(waitq);
      }
      waitq = undefined;
      take(1);
      continue;
    }
    // `sym NAME` / `sym ADDR`: an address and the symbol there.
    const sym = SYM.exec(t);
    if (sym) {
      symbol(sym[3], BigInt('0x' + sym[1]) - BigInt(sym[4] ?? 0));
      take(1);
      continue;
    }
    const psm = PS_M.exec(t);
    if (psm) {
      const pid = Number(psm[7]);
      const seconds = Number(psm[1]) * 86400 + Number(psm[2]) * 3600 + Number(psm[3]) * 60 + Number(psm[4]) + Number(`0.${psm[5]}`);
      out.lastRun.set(pid, { seconds, state: psm[6], line: lineNo });
      mergeTask(out, { pid, task: psm[8], cpu: Number(psm[9]), comm: psm[10], state: psm[6], line: lineNo });
      take(1);
      continue;
    }
    const psl = PS_L.exec(t);
    if (psl) {
      const pid = Number(psl[3]);
      out.lastRunNs.set(pid, { ns: BigInt(psl[1]), state: psl[2], line: lineNo });
      mergeTask(out, { pid, task: psl[4], cpu: Number(psl[5]), comm: psl[6], state: psl[2], line: lineNo });
      take(1);
      continue;
    }
    if (PS_HEADER.test(t)) {
      take(1);
      continue;
    }
    const ps = PS_ROW.exec(t);
    if (ps && !TASK_HEADER.test(t)) {
      const comm = ps[10].replace(/^\[(.*)\]$/, '$1');
      mergeTask(out, { pid: Number(ps[2]), ppid: Number(ps[3]), cpu: Number(ps[4]), task: ps[5], state: ps[6], vszKiB: Number(ps[8]), comm, active: ps[1] === '>', line: lineNo });
      take(1);
      continue;
    }
    const head = TASK_HEADER.exec(t);
    if (head) {
      const task = { pid: Number(head[1]), task: head[2], cpu: Number(head[3]), comm: head[4] };
      mergeTask(out, { ...task, line: lineNo });
      const n = parseStack(lines, i + 1, out, task, command, lineNo);
      if (n > 0) {
        take(1 + n);
        waitq = undefined;
        continue;
      }
      const f = parseFiles(lines, i + 1, task, lineNo);
      if (f) {
        out.files.push(f.files);
        take(1 + f.consumed);
        continue;
      }
      // A task line alone: a listing (waitq, foreach, ps -t); inside a waitq's output it is one of its waiters.
      if (waitq) waitq.tasks.push({ ...task, line: lineNo });
      let k = i + 1;
      while (k < lines.length && /^(RUN TIME|START TIME|UTIME|STIME):/.test(lines[k])) {
        const st = /^START TIME:\s*(\d+)/.exec(lines[k]);
        if (st) out.startTimes.set(task.pid, { seconds: Number(st[1]), line: k + 1 });
        k++;
      }
      take(k - i);
      continue;
    }
    // `crash> bt 10462` whose header line the author left out: the frames are that task's.
    const btPid = command ? /^bt\s+(?:-\w+\s+)*(\d+)\s*(?:\|.*)?$/.exec(command) : null;
    if (btPid && (FRAME.test(t) || EXCEPTION_RIP.test(t))) {
      const pid = Number(btPid[1]);
      const known = out.tasks.get(pid);
      const n = parseStack(lines, i, out, { pid, task: known?.task ?? '0', cpu: known?.cpu ?? -1, comm: known?.comm ?? `pid ${pid}` }, command, lineNo);
      if (n > 0) {
        take(n);
        continue;
      }
    }
    const dis = DIS.exec(t);
    if (dis) {
      const address = BigInt(dis[1]);
      const offset = Number(dis[3] ?? 0);
      out.code.set(address, { address, function: dis[2], offset, text: dis[4], line: lineNo });
      symbol(dis[2], address - BigInt(offset));
      take(1);
      continue;
    }
    if (SOURCE_LINE.test(t) && (DIS.test(lines[i + 1] ?? '') || DIS.test(lines[i - 1] ?? ''))) {
      take(1);
      continue;
    }
    const words = STACK_WORDS.exec(t);
    if (words) {
      addWords(out, BigInt('0x' + words[1]), words[2], lineNo);
      take(1);
      continue;
    }
    const v = parseValue(lines, i, command);
    if (v) {
      out.values.push(v.value);
      take(v.consumed);
      continue;
    }
    out.rest.push({ text: raw[i], line: lineNo });
    i++;
  }
  return out;
}

function mergeTask(out: CrashText, t: CrashTask): void {
  const had = out.tasks.get(t.pid);
  // Several threads of one process share nothing here: a pid is one task. The idle tasks (pid 0) are one per CPU.
  if (t.pid === 0) {
    out.tasks.set(-1 - (t.cpu ?? 0), { ...(out.tasks.get(-1 - (t.cpu ?? 0)) ?? {}), ...t, pid: 0 });
    return;
  }
  out.tasks.set(t.pid, had ? { ...had, ...Object.fromEntries(Object.entries(t).filter(([, x]) => x !== undefined)), line: had.line } : t);
}

function addWords(out: CrashText, at: bigint, text: string, line: number): void {
  let a = at;
  for (const w of text.trim().split(/\s+/)) {
    const size = w.length / 2;
    out.words.set(a, { value: BigInt('0x' + w), size, line });
    a += BigInt(size);
  }
}

/** Frames, exception frames, registers and stack words after a `PID: ... TASK: ...` line; 0 when none follow. */
function parseStack(lines: string[], start: number, out: CrashText, task: { pid: number; task: string; cpu: number; comm: string }, command: string | undefined, headerLine: number): number {
  const frames: Frame[] = [];
  const registers: RegisterSet[] = [];
  let segment = 0;
  let i = start;
  let pendingRip: { function?: string; offset?: number; line: number } | undefined;
  while (i < lines.length) {
    const t = lines[i];
    const f = FRAME.exec(t);
    if (f) {
      frames.push({
        function: f[3],
        ...(f[4] ? { offset: Number(f[4]) } : {}),
        ...(f[6] ? { module: f[6] } : {}),
        address: f[5],
        sp: f[2],
        reliable: true,
        stack: 'task',
        line: i + 1,
      });
      i++;
      continue;
    }
    const ex = EXCEPTION_RIP.exec(t);
    if (ex) {
      pendingRip = { ...(ex[1] ? { function: ex[1] } : {}), ...(ex[2] ? { offset: Number(ex[2]) } : {}), line: i + 1 };
      i++;
      continue;
    }
    if (REG_LINE.test(t)) {
      const block: string[] = [];
      const line = i + 1;
      while (i < lines.length && REG_LINE.test(lines[i])) block.push(lines[i++]);
      const rs = registerSet(block, frames.length, line);
      if (pendingRip?.function) {
        rs.pcSymbol = { function: pendingRip.function, ...(pendingRip.offset !== undefined ? { offset: pendingRip.offset } : {}) };
        const rip = rs.values.rip;
        if (rip && pendingRip.offset !== undefined) {
          const startAt = BigInt('0x' + rip) - BigInt(pendingRip.offset);
          if (!out.symbols.has(pendingRip.function)) out.symbols.set(pendingRip.function, startAt);
        }
        // The interrupted function is a frame of its own (crash prints it as the exception RIP, not numbered).
        frames.push({ function: pendingRip.function, ...(pendingRip.offset !== undefined ? { offset: pendingRip.offset } : {}), ...(rip ? { address: rip } : {}), reliable: true, stack: 'task', exceptionRip: true, regs: rs, line: pendingRip.line });
        rs.atFrame = frames.length - 1;
      } else if (frames.length) {
        frames[frames.length - 1].regs ??= rs;
      }
      pendingRip = undefined;
      registers.push(rs);
      continue;
    }
    // An elision the author made (`...`, `[...]`): the stack goes on after it.
    if (/^(\.{3,}|\[\.{3}\])$/.test(t) && (FRAME.test(lines[i + 1] ?? '') || EXCEPTION_RIP.test(lines[i + 1] ?? ''))) {
      i++;
      continue;
    }
    const mk = MARKER.exec(t);
    if (mk) {
      const kind = stackKindOf(mk[1]);
      // Frames above the marker ran on that stack; an exception RIP printed there is the context it interrupted.
      for (let k = segment; k < frames.length; k++) if (!frames[k].exceptionRip) frames[k].stack = kind;
      segment = frames.length;
      i++;
      continue;
    }
    const words = STACK_WORDS.exec(t);
    if (words && frames.length) {
      addWords(out, BigInt('0x' + words[1]), words[2], i + 1);
      i++;
      continue;
    }
    // `bt -F`: stack words shown as symbols or slab caches (`[task_struct]`, `schedule+50`); only the hex ones are values.
    if (frames.length && /^[0-9a-f]{16}:(\s+(?:[0-9a-f]{16}|\[[\w-]+\]|[A-Za-z_][\w.]*(?:\+\d+)?))+$/.test(t)) {
      i++;
      continue;
    }
    break;
  }
  if (!frames.length && !registers.length) return 0;
  out.stacks.push({ ...task, frames, registers, ...(command ? { command } : {}), line: headerLine, endLine: i });
  // `foreach UN bt` prints only tasks in that state.
  const only = command ? /^foreach\s+(?:.*\s)?(RU|IN|UN|ID|ZO|ST|TR|DE|PA|WA|NE|SW)\s+bt\b/.exec(command) : null;
  if (only && task.pid > 0) {
    const had = out.tasks.get(task.pid);
    if (had && !had.state) had.state = only[1];
  }
  return i - start;
}

function parseFiles(lines: string[], start: number, task: { pid: number; task: string; comm: string }, line: number): { files: CrashFiles; consumed: number } | undefined {
  let i = start;
  if (/^ROOT: /.test(lines[i] ?? '')) i++;
  if (!FILES_HEADER.test(lines[i] ?? '')) return undefined;
  i++;
  const files: CrashFiles = { pid: task.pid, task: task.task, comm: task.comm, fds: [], line };
  while (i < lines.length) {
    const r = FILES_ROW.exec(lines[i]);
    if (!r) break;
    files.fds.push({ fd: Number(r[1]), file: r[2], dentry: r[3], inode: r[4], type: r[5], path: r[6], line: i + 1 });
    i++;
  }
  return { files, consumed: i - start };
}

/** `p`, `px`, `struct` output at `start`: a scalar, or a brace block flattened to leaves. */
function parseValue(lines: string[], start: number, command: string | undefined): { value: CrashValue; consumed: number } | undefined {
  const t = lines[start];
  const vs = VALUE_START.exec(t);
  const ss = STRUCT_START.exec(t);
  if (!vs && !ss) return undefined;
  const value: CrashValue = { leaves: [], members: new Map(), line: start + 1, endLine: start + 1 };
  const cmd = command ? /^(?:p|px|print|struct|union)\s+(?:-\w+\s+)*(\S+)(?:\s+(?:0x)?([0-9a-f]{8,16}))?/.exec(command) : null;
  if (vs) {
    value.name = vs[1] ?? (cmd && !cmd[2] ? cmd[1] : undefined);
  } else {
    value.type = `${ss![1]} ${ss![2]}`;
  }
  if (cmd?.[2]) value.address = BigInt('0x' + cmd[2]);
  if (vs && vs[3] !== '{') {
    value.leaves.push({ path: '', value: vs[3].replace(/,$/, '') });
    return { value, consumed: 1 };
  }
  const path: string[] = [];
  let i = start + 1;
  let depth = 1;
  while (i < lines.length && depth > 0) {
    const l = lines[i];
    const mo = MEMBER_OFFSET.exec(l);
    if (mo) {
      value.members.set([...path, mo[3]].filter(Boolean).join('.'), BigInt('0x' + mo[1]));
      i++;
      continue;
    }
    const open = /^(?:([\w[\]]+) = )?\{$/.exec(l);
    if (open) {
      path.push(open[1] ?? '');
      depth++;
      i++;
      continue;
    }
    if (/^\},?$/.test(l) || /^\}\s*\w*;?$/.test(l)) {
      path.pop();
      depth--;
      i++;
      continue;
    }
    const leaf = /^([\w[\]]+) = (.*?),?$/.exec(l);
    if (leaf) {
      value.leaves.push({ path: [...path, leaf[1]].filter(Boolean).join('.'), value: leaf[2] });
      i++;
      continue;
    }
    if (!l) break;
    i++;
  }
  value.endLine = i;
  // A `-o` listing right after carries the members' addresses (and the struct's own, at its first member).
  return { value, consumed: i - start };
}

/** Numeric value of a leaf as crash prints it: `2085`, `0xff14...`, `0x0`, `false`, `-66355042435939837`, `0 '\000'`. */
export function leafNumber(v: string): bigint | undefined {
  const t = v.trim();
  if (t === 'true') return 1n;
  if (t === 'false') return 0n;
  const m = /^(-?(?:0x[0-9a-f]+|\d+))\b/.exec(t);
  if (!m) return undefined;
  const n = BigInt(m[1].replace(/^-/, ''));
  return m[1].startsWith('-') ? -n : n;
}
