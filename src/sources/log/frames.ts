/** Call-trace frames, stack markers, register dumps and `Code:` lines as the kernel prints them on each arch. */
import type { Arch, CodeBytes, Frame, RegisterSet } from '../../model/trace.ts';

export type Symbol = { function: string; offset?: number; size?: number; module?: string };

const SYM = String.raw`([A-Za-z_.$][\w.$]*?)\+0x([0-9a-f]+)\/0x([0-9a-f]+)(?: \[([\w-]+)\])?`;
/** `func+0x10/0x40 [mod]` anywhere. */
const RE_SYM = new RegExp(SYM);
/** New x86_64 / arm64 frame: ` ? func+0x10/0x40 [mod]` (arm64 6.14+ adds ` (P)` / ` (L)`). */
const RE_FRAME_NEW = new RegExp(String.raw`^\s*(\? )?${SYM}(?: \([PL]\)| (\(unreliable\)))?(?: ([\w./+-]+:\d+)(?::\d+)?(?: \[inline\])?(?: [\w./+-]+:\d+(?::\d+)?)*| ([a-z][\w-]*))?\s*$`);
/** A symbolized report's inlined function: ` __dump_stack lib/dump_stack.c:88 [inline]` (no offset: it has no frame of its own). */
const RE_FRAME_INLINE = /^\s+([A-Za-z_][\w.$]*) ([\w./+-]+:\d+)(?::\d+)? \[inline\](?: [\w./+-]+:\d+(?::\d+)?)*\s*$/;
/** Old x86 / s390 / arm64 4.x: ` [<ffffffff81234567>] ? func+0x10/0x40 [mod]`, s390 `([<...>] func...)`. */
const RE_FRAME_CRASH = /^\s*(?:#\d+\s+\[[0-9a-f]+\]\s+)?([A-Za-z_][\w.]*) at ([0-9a-f]{8,16})(?: \[([\w-]+)\])?\s*$/;
const RE_FRAME_ADDR = new RegExp(String.raw`^\s*(\()?\[<([0-9a-f]+)>\] (\? )?(?:${SYM}|(0x[0-9a-f]+)|([A-Za-z_][\w.$]*)(?= ))(?: ([\w./+-]+:\d+)(?::\d+)?)?( \[inline\])?\)?\s*$`);
const RE_FRAME_DECODED = /^\s*(\? )?([A-Za-z_.][\w.$]*)(?:\+0x[0-9a-f]+\/0x[0-9a-f]+)? \(([\w./+?-]+:[\d?]+)(?: \(discriminator \d+\))?(?: [\w./+?-]+:[\d?]+(?: \(discriminator \d+\))?)*\)( \[inline\])?(?: \[?([\w-]+)\]?)?\s*$/;
const RE_FRAME_EATEN = new RegExp(String.raw`^\s*\[\] (\? )?${SYM}\s*$`);
/** arm32: `[<c0014318>] (dump_backtrace+0x0/0x10c) from [<c001457c>] (show_stack+0x24/0x2c)`. */
const RE_FRAME_ARM = /^\s*\[<([0-9a-f]+)>\] \(([^()\s+]+)(?:\+0x([0-9a-f]+)\/0x([0-9a-f]+))?(?: \[([\w-]+)\])?(?: [\w./+-]+:\d+)?\) from \[<([0-9a-f]+)>\] \(([^()\s+]+)(?:\+0x([0-9a-f]+)\/0x([0-9a-f]+))?(?: \[([\w-]+)\])?(?: ([\w./+-]+:\d+))?( \[inline\])?\)/;
/** ppc64: `[c000000010f930b0] [c000000008068df8] .func+0x278/0x390 [mod] (unreliable)`. */
const RE_FRAME_PPC = new RegExp(String.raw`^\s*\[([0-9a-f]+)\] \[([0-9a-f]+)\] \.?${SYM}( \(unreliable\))?\s*$`);
/** Address-only frame (unknown symbol): ` 0xffffff8003477508` / ` ? 0xffffffffc0123456`. */
const RE_FRAME_HEX = /^\s+(\? )?0x([0-9a-f]{6,16})\s*$/;

export interface ParsedFrame {
  frame: Frame;
  /** arm32: the caller named after `from`, added when the trace ends. */
  from?: Frame;
}

const int = (h: string | undefined) => (h === undefined ? undefined : parseInt(h, 16));
const stripDot = (f: string) => (f.startsWith('.') && f.length > 1 ? f.slice(1) : f);

/** One frame line, or null. `strict` demands the leading indentation of new-style frames (outside a trace). */
export function parseFrame(s: string, strict: boolean): ParsedFrame | null {
  let m = RE_FRAME_NEW.exec(s);
  if (m) {
    // Outside a trace section only an indented frame, or one with offset and size (a paste that lost its indentation), counts.
    if (strict && !/^\s/.test(s) && (m[3] === undefined || m[4] === undefined)) return null;
    // decode_stacktrace.sh prints a module without brackets: `btrfs_get_delayed_node+0xda/0x1b0 btrfs`.
    const frame: Frame = { function: m[2], offset: int(m[3]), size: int(m[4]), module: m[5] ?? m[8], reliable: !m[1] && !m[6], stack: 'unknown' };
    if (m[7]) frame.source = m[7];
    return { frame };
  }
  if (s.indexOf(' (') > 0) {
    // scripts/decode_stacktrace.sh output: ` jbd2__journal_start (fs/jbd2/transaction.c:477 (discriminator 1))`, `dump_stack (??:?)`.
    m = RE_FRAME_DECODED.exec(s);
    if (m && (/^\s/.test(s) || !strict)) {
      const frame: Frame = { function: stripDot(m[2]), reliable: !m[1], stack: 'unknown' };
      if (m[5]) frame.module = m[5];
      if (!m[3].startsWith('??')) frame.source = m[3];
      if (m[4]) frame.inline = true;
      return { frame };
    }
  }
  if (s.includes(' [inline]')) {
    m = RE_FRAME_INLINE.exec(s);
    if (m) return { frame: { function: m[1], source: m[2], inline: true, reliable: true, stack: 'unknown' } };
  }
  if (s.indexOf('[] ') >= 0) {
    // A mail client ate the `<ffffffff81234567>` of an old-style frame: `[] func+0x10/0x40 [mod]`.
    m = RE_FRAME_EATEN.exec(s);
    if (m) return { frame: { function: stripDot(m[2]), offset: int(m[3]), size: int(m[4]), module: m[5], reliable: !m[1], stack: 'unknown' } };
  }
  if (s.indexOf('[<') >= 0) {
    // 2.6.2x x86_64 printed a module before the function: `[<ffffffffa0099645>] :dvb_core:dvb_unregister_frontend+0xb5/0x100`.
    const old = /^(\s*\[<[0-9a-f]+>\] (?:\? )?):([\w-]+):([A-Za-z_][\w.]*\+0x[0-9a-f]+\/0x[0-9a-f]+)\s*$/.exec(s);
    if (old) s = `${old[1]}${old[3]} [${old[2]}]`;
    m = RE_FRAME_ADDR.exec(s);
    if (m) {
      const fn = m[4] ?? m[8] ?? m[9];
      // kmemleak's symbolized backtraces print inlined functions at their caller's address: `[<ffff...>] kmalloc include/linux/slab.h:590 [inline]`.
      if (m[9] !== undefined && !m[10]) return null;
      const frame: Frame = { function: stripDot(fn), offset: int(m[5]), size: int(m[6]), module: m[7], address: m[2], reliable: !m[3] && !m[1], stack: 'unknown' };
      if (m[10]) frame.source = m[10];
      if (m[11]) frame.inline = true;
      return { frame };
    }
    m = RE_FRAME_ARM.exec(s);
    if (m) {
      return {
        frame: { function: m[2], offset: int(m[3]), size: int(m[4]), module: m[5], address: m[1], reliable: true, stack: 'unknown' },
        from: { function: m[7], offset: int(m[8]), size: int(m[9]), module: m[10], address: m[6], reliable: true, stack: 'unknown', ...(m[11] ? { source: m[11] } : {}), ...(m[12] ? { inline: true } : {}) },
      };
    }
  }
  if (s.indexOf('] [') >= 0) {
    m = RE_FRAME_PPC.exec(s);
    if (m) {
      return { frame: { function: stripDot(m[3]), offset: int(m[4]), size: int(m[5]), module: m[6], address: m[2], reliable: !m[7], stack: 'unknown' } };
    }
  }
  // crash's bt: `#3 [ffffb3a4c0003e10] lpfc_cmf_timer at ffffffffc0abbc67 [lpfc]`, or without the frame number and stack address.
  if (s.indexOf(' at ') > 0) {
    m = RE_FRAME_CRASH.exec(s);
    if (m) return { frame: { function: m[1], address: m[2], module: m[3], reliable: true, stack: 'unknown' } };
  }
  m = RE_FRAME_HEX.exec(s);
  if (m) return { frame: { function: `0x${m[2]}`, address: m[2], reliable: !m[1], stack: 'unknown' } };
  return null;
}

/** `func+0x10/0x40 [mod]` inside a text (RIP lines, headers). */
export function parseSymbol(s: string): Symbol | undefined {
  const m = RE_SYM.exec(s);
  if (!m) return undefined;
  return { function: stripDot(m[1]), offset: int(m[2]), size: int(m[3]), module: m[4] };
}

export type Marker = { kind: 'push'; stack: Frame['stack'] } | { kind: 'pop' };

const MARKERS: Record<string, Marker> = {
  IRQ: { kind: 'push', stack: 'irq' },
  '/IRQ': { kind: 'pop' },
  EOI: { kind: 'pop' },
  NMI: { kind: 'push', stack: 'nmi' },
  '/NMI': { kind: 'pop' },
  SOFTIRQ: { kind: 'push', stack: 'softirq' },
  '/SOFTIRQ': { kind: 'pop' },
  TASK: { kind: 'push', stack: 'task' },
  '/TASK': { kind: 'pop' },
  '<EOE>': { kind: 'pop' },
  EOE: { kind: 'pop' },
  ENTRY_TRAMPOLINE: { kind: 'push', stack: 'entry' },
  '/ENTRY_TRAMPOLINE': { kind: 'pop' },
};

const RE_MARKER = /^\s*<(\/?[A-Z_]+|<EOE>|#[A-Z]{2})>\s*/;

/** A leading `<IRQ>` / `</NMI>` / `<#DF>` ... marker; `rest` is what follows on the same line (old kernels put a frame there). */
export function parseMarker(s: string): { marker: Marker; rest: string } | null {
  const m = RE_MARKER.exec(s);
  if (!m) return null;
  const name = m[1];
  const marker: Marker | undefined = name.startsWith('#') ? { kind: 'push', stack: 'exception' } : MARKERS[name];
  if (!marker) return null;
  return { marker, rest: s.slice(m[0].length) };
}

// ---------------------------------------------------------------------------------------------
// Register dumps

export interface RegLine {
  arch: Arch;
  values: Record<string, string>;
  /** This line starts a new register set (RIP:, EIP:, NIP:, PSW). */
  starts?: boolean;
  pcSymbol?: Symbol;
  mode?: 'kernel' | 'user';
}

const RE_PAIRS_X86 = /\b(R[A-Z0-9]{1,2}|E[A-Z]{2}|EFLAGS|ORIG_RAX|CS|DS|ES|FS|GS|SS|knlGS|CR[0234]|DR[0-7]|PKRU|XCR0):\s*([0-9a-f]+)/g;
const RE_PAIRS_ARM64 = /\b(x\d{1,2}|sp|lr|pc|pstate|fp)\s*:\s*([0-9a-f]{8,16})\b/g;
const RE_PAIRS_ARM = /\b(r\d{1,2}|sp|ip|fp|lr|pc|psr)\s*:\s*(?:\[<)?([0-9a-f]{8})(?:>\])?/g;

function pairs(re: RegExp, s: string, lower = true): Record<string, string> {
  const v: Record<string, string> = {};
  re.lastIndex = 0;
  for (let m = re.exec(s); m; m = re.exec(s)) v[lower ? m[1].toLowerCase() : m[1]] = m[2];
  return v;
}

/** A register line of one of the supported archs, or null. */
export function parseRegisterLine(s: string): RegLine | null {
  const t = s.trimStart();
  const c = t.charCodeAt(0);
  // x86_64: `RIP: 0010:func+0x1/0x2 [mod]`, `RIP: 0033:0x43cc77`, old `RIP: 0010:[<ffffffff81234>]  [<...>] func+...`
  if (t.startsWith('RIP: ')) {
    const m = /^RIP: ([0-9a-f]{4}):(?:\[<([0-9a-f]+)>\]\s*(?:\[<[0-9a-f]+>\]\s*)?)?(?:0x([0-9a-f]+)|(\S.*))?/.exec(t);
    if (!m) return null;
    const cs = m[1];
    const values: Record<string, string> = { cs };
    if (m[2]) values.rip = m[2];
    if (m[3]) values.rip = m[3];
    const sym = m[4] ? parseSymbol(m[4]) : undefined;
    return { arch: 'x86_64', values, starts: true, pcSymbol: sym, mode: (parseInt(cs, 16) & 3) === 3 ? 'user' : 'kernel' };
  }
  // x86 32-bit: `EIP: 0060:[<c1234567>] EFLAGS: 00010246 CPU: 0`, 4.x+ `EIP: func+0x1/0x2`; `EIP is at func+...`
  if (t.startsWith('EIP: ')) {
    if (/SS:ESP/.test(t)) return { arch: 'x86', values: {} }; // the summary line after the trace
    const m = /^EIP: (?:([0-9a-f]{4}):\[<([0-9a-f]+)>\])?\s*(.*)$/.exec(t)!;
    const values: Record<string, string> = pairs(RE_PAIRS_X86, m[3]);
    if (m[1]) values.cs = m[1];
    if (m[2]) values.eip = m[2];
    const sym = parseSymbol(m[3]);
    const mode = m[1] ? ((parseInt(m[1], 16) & 3) === 3 ? 'user' : 'kernel') : sym ? 'kernel' : undefined;
    return { arch: 'x86', values, starts: true, pcSymbol: sym, mode };
  }
  if (t.startsWith('EIP is at ')) return { arch: 'x86', values: {}, pcSymbol: parseSymbol(t) };
  if (/^(RSP|RAX|RDX|RBP|R10|R13|FS|CS|CR2|DR0|DR3|DR6|PKRU|EAX|ESI|DS|EFLAGS|CR0):\s/.test(t) || (c === 0x52 && /^R\d{2}:/.test(t))) {
    const values = pairs(RE_PAIRS_X86, t);
    if (Object.keys(values).length === 0) return null;
    return { arch: /^(EAX|ESI|DS|CR0)/.test(t) && !/R[A-Z]X|RSP/.test(t) ? 'x86' : 'x86_64', values };
  }
  // arm64: `pstate: 60400005 (nZCv daif ...)`, `pc : func+0x10/0x20 [mod]`, `lr : ...`, `sp : ffff...`, `x29: ... x28: ...`
  if (t.startsWith('pstate: ')) {
    const m = /^pstate: ([0-9a-f]+)/.exec(t);
    if (m) return { arch: 'arm64', values: { pstate: m[1] } };
  }
  if (/^(pc|lr) : /.test(t)) {
    if (/\[<[0-9a-f]{8}>\]/.test(t) && /psr: /.test(t)) {
      // arm32: `pc : [<c01a2b3c>]    lr : [<c01a2b00>]    psr: 60000013`
      return { arch: 'arm', values: pairs(RE_PAIRS_ARM, t), starts: false };
    }
    const m = /^(pc|lr) : (?:\[<([0-9a-f]+)>\]\s*)?(.*)$/.exec(t)!;
    const values: Record<string, string> = {};
    if (m[2]) values[m[1]] = m[2];
    const old = pairs(RE_PAIRS_ARM64, m[3]);
    Object.assign(values, old);
    if (/^[0-9a-f]{16}$/.test(m[3].trim())) values[m[1]] = m[3].trim();
    const sym = parseSymbol(m[3]);
    return { arch: 'arm64', values, pcSymbol: m[1] === 'pc' ? sym : undefined, mode: m[1] === 'pc' ? (sym ? 'kernel' : undefined) : undefined };
  }
  if (/^(sp|x\d{1,2}) ?: [0-9a-f]{16}/.test(t)) return { arch: 'arm64', values: pairs(RE_PAIRS_ARM64, t) };
  // arm32
  if (t.startsWith('PC is at ')) return { arch: 'arm', values: {}, starts: true, pcSymbol: parseSymbol(t), mode: 'kernel' };
  if (t.startsWith('LR is at ')) return { arch: 'arm', values: {} };
  if (/^(sp|r\d{1,2}) ?: [0-9a-f]{8}\b/.test(t)) return { arch: 'arm', values: pairs(RE_PAIRS_ARM, t) };
  if (/^Flags: [nN][zZ][cC][vV]/.test(t) || /^Control: [0-9a-f]+/.test(t)) return { arch: 'arm', values: {} };
  // ppc64
  if (t.startsWith('NIP: ')) {
    const v = pairs(/\b(NIP|LR|CTR):\s*([0-9a-f]+)/g, t);
    return { arch: 'ppc64', values: v, starts: true };
  }
  if (/^NIP \[[0-9a-f]+\] /.test(t)) return { arch: 'ppc64', values: {}, pcSymbol: parseSymbol(t) };
  if (/^LR \[[0-9a-f]+\] /.test(t)) return { arch: 'ppc64', values: {} };
  if (/^(REGS|MSR|SOFTE|CFAR|DAR|DSISR|IRQMASK|PACATMSCRATCH|TRAP)[: ]/.test(t) || /^GPR\d\d: /.test(t)) {
    const v = pairs(/\b(MSR|CR|XER|SOFTE|CFAR|DAR|DSISR|IRQMASK|TRAP):\s*([0-9a-f]+)/g, t);
    const g = /^GPR(\d\d): ((?:[0-9a-f]{8,16}\s*)+)/.exec(t);
    if (g) g[2].trim().split(/\s+/).forEach((w, i) => (v[`r${Number(g[1]) + i}`] = w));
    return { arch: 'ppc64', values: v };
  }
  // s390x: `Krnl PSW : 0704f00180000000 000003ff8086d03a (func+0x3a/0x1000 [mod])`, `User PSW : ...`
  if (/^(Krnl|User) PSW : /.test(t)) {
    const m = /^(Krnl|User) PSW : ([0-9a-f]+) ([0-9a-f]+)(?: \((.*)\))?/.exec(t);
    if (m) {
      return {
        arch: 's390x',
        values: { psw_mask: m[2], psw_addr: m[3] },
        starts: true,
        pcSymbol: m[4] ? parseSymbol(m[4]) : undefined,
        mode: m[1] === 'Krnl' ? 'kernel' : 'user',
      };
    }
  }
  if (/^(Krnl|User) GPRS: /.test(t)) return { arch: 's390x', values: {} };
  // crash's bt: `[exception RIP: native_queued_spin_lock_slowpath+91]` (decimal offset) and the register block after it
  const ex = /^\[?exception RIP: ([A-Za-z_][\w.]*)(?:\+(\d+))?\]?$/.exec(t);
  if (ex) return { arch: 'x86_64', values: {}, starts: true, pcSymbol: { function: ex[1], ...(ex[2] ? { offset: Number(ex[2]) } : {}) }, mode: 'kernel' };
  // riscv: `epc : func+0x42/0x44`, ` ra : func+...`, `epc : ffffffff809f9d24 ra : ffffffff800f93e0 sp : ...`, `status: ... cause: ...`
  if (/^(epc|ra) : /.test(t)) {
    const values = pairs(/\b(epc|ra|sp|gp|tp|t\d|s\d{1,2}|a\d)\s*:\s*([0-9a-f]{16})\b/g, t);
    const sym = /^epc : [^0-9\s]/.test(t) || /^epc : [0-9a-f]+[^0-9a-f\s]/.test(t) ? parseSymbol(t.slice(6)) : undefined;
    return { arch: 'riscv64', values, ...(/^epc/.test(t) ? { starts: true } : {}), ...(sym ? { pcSymbol: sym, mode: 'kernel' as const } : {}) };
  }
  if (/^(gp|t1|s1|a2|a5|s2|s5|s8|s11|t5) : [0-9a-f]{16}/.test(t)) return { arch: 'riscv64', values: pairs(/\b(sp|gp|tp|t\d|s\d{1,2}|a\d)\s*:\s*([0-9a-f]{16})\b/g, t) };
  if (/^status: [0-9a-f]{16} badaddr: /.test(t)) return { arch: 'riscv64', values: pairs(/\b(status|badaddr|cause)\s*:\s*([0-9a-f]{16})\b/g, t) };
  // parisc: `IAOQ[0]: func+0x30/0x80` is the PC; `PSW:`, `r00-03`, `sr00-03`, `IASQ:`, `IIR:`, `RP(r2):` belong to the register dump
  if (t.startsWith('IAOQ[0]: ')) return { arch: 'parisc', values: {}, starts: true, pcSymbol: parseSymbol(t.slice(9)), mode: 'kernel' };
  if (/^(IAOQ\[1\]|RP\(r2\)|PSW|IASQ|IIR|ORIG_R28|CPU:\s+\d+\s+CR30)[: ]/.test(t) || /^s?r\d\d-\d\d\s+[0-9a-f]{8}/.test(t) || /^fr\d\d-\d\d\s/.test(t) || /^[A-Za-z]{32}$/.test(t)) return { arch: 'parisc', values: {} };
  if (/^R:\d T:\d IO:\d/.test(t)) return { arch: 's390x', values: {} };
  return null;
}

/** Interrupts enabled according to a finished register set, when the arch says. */
export function irqsEnabledOf(r: RegisterSet): boolean | undefined {
  const v = r.values;
  if (r.arch === 'x86_64' || r.arch === 'x86') {
    return v.eflags !== undefined ? (parseInt(v.eflags, 16) & 0x200) !== 0 : undefined;
  }
  if (r.arch === 'arm64') return v.pstate !== undefined ? (parseInt(v.pstate, 16) & 0x80) === 0 : undefined;
  if (r.arch === 'arm') return v.psr !== undefined ? (parseInt(v.psr, 16) & 0x80) === 0 : undefined;
  if (r.arch === 'ppc64') return v.msr !== undefined ? (Number(BigInt('0x' + v.msr) & 0x8000n) !== 0) : undefined;
  return undefined;
}

/** Kernel or user mode from what the set holds. */
export function modeOf(r: RegisterSet): 'kernel' | 'user' | undefined {
  if (r.mode) return r.mode;
  if (r.arch === 'arm64' && r.values.pstate) return (parseInt(r.values.pstate, 16) & 0xf) === 0 ? 'user' : 'kernel';
  if (r.arch === 'ppc64' && r.values.msr) return (BigInt('0x' + r.values.msr) & 0x4000n) !== 0n ? 'user' : 'kernel';
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Code bytes

/** `Code: 55 48 89 e5 <0f> 0b ...`, arm `Code: e5933000 (e5933001)`, `Code: Unable to access opcode bytes at 0x...`. */
export function parseCode(s: string, line: number): CodeBytes | null {
  const m = /^\s*Code: (.*)$/.exec(s);
  if (!m) return null;
  const text = m[1].trim();
  if (/^Unable to access opcode bytes|^Bad RIP value|^Bad EIP value/.test(text)) return { bytes: '', markIndex: -1, unavailable: true, line };
  const words = text.split(/\s+/);
  let mark = -1;
  const out: string[] = [];
  for (const w of words) {
    const mm = /^[<(]([0-9a-f]+)[>)]$/.exec(w);
    if (mm) {
      mark = out.length;
      out.push(mm[1]);
    } else if (/^[0-9a-f]+$/.test(w)) out.push(w);
  }
  return { bytes: out.join(' '), markIndex: mark, line };
}
