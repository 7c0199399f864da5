/**
 * The x86_64 stack unwinder: ORC entries say how to find the caller's stack pointer (and BP)
 * from the current one; `regs` entries mark a pt_regs frame (interrupt, exception, syscall
 * entry) whose saved RIP/RSP continue the trace in the interrupted context, possibly on another
 * stack (NMI/IRQ/exception stack -> task stack). Semantics follow arch/x86/kernel/unwind_orc.c.
 *
 * Pure: everything comes through an UnwindEnv (memory, ORC lookup, symbols, stack ranges), so
 * synthetic stacks can be tested. Every loop is bounded; a damaged stack ends the trace with an
 * `end` that says why, and when ORC cannot go on, a scan for return addresses continues the
 * trace with frames marked unreliable.
 */
import type { Frame, RegisterSet, StackKind } from '../../../../model/trace.ts';
import type { SymbolInfo } from '../../kernel/symbols.ts';
import {
  FP_ORC_ENTRY,
  NULL_ORC_ENTRY,
  ORC_REG_BP,
  ORC_REG_BP_INDIRECT,
  ORC_REG_DI,
  ORC_REG_DX,
  ORC_REG_PREV_SP,
  ORC_REG_R10,
  ORC_REG_R13,
  ORC_REG_SP,
  ORC_REG_SP_INDIRECT,
  ORC_REG_UNDEFINED,
  type OrcEntry,
} from './orc.ts';
import { EFLAGS_IF } from './registers.ts';

/** struct pt_regs on x86_64, in memory order (21 words). */
export const PT_REGS = ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss'] as const;
export const PT_REGS_SIZE = PT_REGS.length * 8;
/** offsetof(struct pt_regs, ip): where the hardware IRET frame starts. */
export const IRET_FRAME_OFFSET = 16 * 8;
export const IRET_FRAME_SIZE = 5 * 8;

/** A stack the CPU or task can be on, [start, end). */
export interface StackRange {
  kind: StackKind;
  /** `task`, `IRQ`, `NMI exception`, `DF exception`, ... (crash's names). */
  name: string;
  start: bigint;
  end: bigint;
}

export interface UnwindEnv {
  /** 8 bytes at addr; throws when unreadable. */
  readU64(addr: bigint): bigint;
  read(addr: bigint, len: number): Buffer;
  /** ORC entry for an IP; undefined when no table covers it. */
  orc(ip: bigint): OrcEntry | undefined;
  symbol(ip: bigint): SymbolInfo | undefined;
  /** The stack holding `addr`, if it is on one this CPU/task may use. */
  stackAt(addr: bigint): StackRange | undefined;
  /** Kernel or module text. */
  isText(ip: bigint): boolean;
}

/** Registers as read from a note or a pt_regs frame (lower-case names). */
export type Regs = Record<string, bigint>;

/** A frame of a dump backtrace: the model's Frame plus where it sits. */
export interface DumpFrame extends Frame {
  ip: bigint;
  /** crash's frame address: the stack slot holding the return address, or the pt_regs address for an exception RIP. */
  slot?: bigint;
  /** The saved registers of an exception/interrupt frame (on the frame that runs at their RIP). */
  pt?: { address?: bigint; regs: Regs };
}

export type UnwindEndKind = 'end-of-stack' | 'user-mode' | 'error' | 'limit';

export interface Backtrace {
  frames: DumpFrame[];
  /** How the trace ended: the bottom of a kernel stack, user-mode registers, or a problem (then `detail`). */
  end: { kind: UnwindEndKind; detail?: string };
  /** User-mode registers at the bottom (syscall / interrupt from user space). */
  userRegs?: Regs;
  /** Where unwinding started: `registers` (CPU note), `switch frame` (sleeping task), or a search. */
  start: string;
  notes: string[];
}

export interface UnwindStart {
  ip: bigint;
  sp: bigint;
  bp: bigint;
  /** Full registers known at the start (a CPU note): used for R10/R13/DI/DX-based entries. */
  regs?: Regs;
  /** The IP is exact (registers of a running/interrupted context) rather than a return address. */
  signal: boolean;
}

export const MAX_FRAMES = 256;

const U64 = (x: bigint) => BigInt.asUintN(64, x);

export function isUserMode(regs: Regs): boolean {
  return regs.cs !== undefined && (regs.cs & 3n) === 3n;
}

/** A pt_regs block read from memory. */
export function readPtRegs(env: UnwindEnv, addr: bigint): Regs {
  const b = env.read(addr, PT_REGS_SIZE);
  const r: Regs = {};
  PT_REGS.forEach((n, i) => (r[n] = b.readBigUInt64LE(i * 8)));
  return r;
}

/** The model's RegisterSet for saved registers. */
export function registerSetOf(regs: Regs, stack?: StackKind): RegisterSet {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(regs)) values[k] = U64(v).toString(16);
  return {
    arch: 'x86_64',
    values,
    mode: regs.cs === undefined ? undefined : (regs.cs & 3n) === 3n ? 'user' : 'kernel',
    irqsEnabled: regs.eflags === undefined ? undefined : (regs.eflags & EFLAGS_IF) !== 0n,
    ...(stack ? { stack } : {}),
  };
}

/** Whether the bytes before `ip` end with a call instruction (ip is then a return address). */
export function followsCall(env: UnwindEnv, ip: bigint): boolean {
  let b: Buffer;
  try {
    b = env.read(ip - 7n, 7);
  } catch {
    return false;
  }
  const at = (back: number) => b[7 - back];
  if (at(5) === 0xe8) return true; // call rel32
  const modrm = (back: number) => at(back - 1);
  const reg2 = (m: number) => ((m >> 3) & 7) === 2;
  // call *%reg (ff /2, mod 3), with or without REX
  if (at(2) === 0xff && reg2(at(1)) && at(1) >> 6 === 3) return true;
  // call *disp8(%reg) (ff /2, mod 1)
  if (at(3) === 0xff && reg2(modrm(3)) && modrm(3) >> 6 === 1) return true;
  // call *disp32(%rip) or *disp32(%reg) (ff /2, mod 0 rm 5, or mod 2)
  if (at(6) === 0xff && reg2(modrm(6)) && (modrm(6) === 0x15 || modrm(6) >> 6 === 2)) return true;
  // call *disp32(base,index) with SIB (ff /2, mod 2, rm 4)
  if (at(7) === 0xff && reg2(modrm(7)) && modrm(7) >> 6 === 2 && (modrm(7) & 7) === 4) return true;
  return false;
}

interface State {
  ip: bigint;
  sp: bigint;
  bp: bigint;
  signal: boolean;
  regs?: { address?: bigint; values: Regs; full: boolean };
  prevRegs?: { address?: bigint; values: Regs; full: boolean };
  stack?: StackRange;
}

/** Builds the frame for the code at `ip` (a return address unless `exact`). */
export function frameAt(env: UnwindEnv, ip: bigint, exact: boolean, stack: StackKind, reliable: boolean): DumpFrame {
  const s = env.symbol(exact || ip === 0n ? ip : ip - 1n);
  const f: DumpFrame = { ip, function: s ? s.name : `0x${U64(ip).toString(16)}`, reliable, stack, address: U64(ip).toString(16) };
  if (s) {
    f.offset = Number(ip - s.address);
    f.size = s.size;
    if (s.module) f.module = s.module;
  }
  return f;
}

/**
 * Unwinds from a starting state. The first frame is the code at `start.ip`; when the start
 * carries registers (a running CPU), that frame holds them as an exception-RIP frame.
 */
export function unwind(env: UnwindEnv, start: UnwindStart, how: string, maxFrames = MAX_FRAMES): Backtrace {
  const bt: Backtrace = { frames: [], end: { kind: 'end-of-stack' }, start: how, notes: [] };
  if (start.regs && isUserMode(start.regs)) {
    bt.end = { kind: 'user-mode' };
    bt.userRegs = start.regs;
    return bt;
  }
  const st: State = { ip: start.ip, sp: start.sp, bp: start.bp, signal: start.signal };
  if (start.regs) st.regs = { values: start.regs, full: true };
  st.stack = env.stackAt(st.sp);
  if (!st.stack) bt.notes.push(`the stack pointer 0x${U64(st.sp).toString(16)} is on no known stack of this CPU/task`);
  const first = frameAt(env, st.ip, st.signal, st.stack?.kind ?? 'unknown', true);
  if (start.regs) {
    first.exceptionRip = true;
    first.pt = { regs: start.regs };
  }
  first.slot = st.sp;
  bt.frames.push(first);
  const left = new Set<string>();
  let unreliable = false;

  for (let n = 0; ; n++) {
    if (bt.frames.length >= maxFrames) {
      bt.end = { kind: 'limit', detail: `stopped after ${maxFrames} frames` };
      return bt;
    }
    if (st.regs && isUserMode(st.regs.values)) {
      bt.end = { kind: 'user-mode' };
      bt.userRegs = st.regs.values;
      return bt;
    }
    const fail = (detail: string): Backtrace => {
      bt.end = { kind: 'error', detail };
      scanRest(env, st, bt, maxFrames);
      return bt;
    };
    const orcIp = st.signal ? st.ip : st.ip - 1n;
    let orc: OrcEntry | undefined;
    // IP 0 at the start is a call through a NULL pointer (the kernel's null entry); further down it is a zeroed stack.
    if (st.ip === 0n && bt.frames.length > 1) return fail('return address 0: the stack is zeroed or damaged here');
    try {
      orc = st.ip === 0n ? NULL_ORC_ENTRY : env.orc(orcIp);
    } catch (e) {
      return fail(`ORC data for 0x${U64(st.ip).toString(16)} unreadable: ${(e as Error).message}`);
    }
    if (!orc || orc.type === 'undefined') {
      if (!env.isText(st.ip)) return fail(`0x${U64(st.ip).toString(16)} is not kernel text (damaged or zeroed stack?)`);
      // No unwind data for this function (objtool skipped it, or generated code): find its caller's
      // return address above, recognised by a direct call to this very function.
      const caller = findCaller(env, st, orcIp);
      if (caller) {
        bt.notes.push(`no ORC data for ${frameText(env, orcIp)}: its caller was found by the call instruction that targets it`);
        st.ip = caller.ip;
        st.sp = caller.sp;
        st.regs = undefined;
        st.prevRegs = undefined;
        st.signal = false;
        const f = frameAt(env, st.ip, false, st.stack?.kind ?? 'unknown', !unreliable);
        f.slot = caller.sp - 8n;
        bt.frames.push(f);
        continue;
      }
      if (orc) return fail(`no unwind data at ${frameText(env, st.ip)} (ORC entry undefined)`);
      // Code without ORC data: guess a frame-pointer frame, as the kernel does; what follows is a guess.
      orc = FP_ORC_ENTRY;
      if (!unreliable) bt.notes.push(`no ORC data for ${bt.frames[bt.frames.length - 1].function}: frame-pointer guess, frames below are unreliable`);
      unreliable = true;
    } else if (orc.type === 'end') {
      bt.end = { kind: 'end-of-stack' };
      return bt;
    }
    const prevSp = st.sp;
    const prevStack = st.stack;
    const getReg = (name: string): bigint | undefined => {
      if (st.regs?.full) return st.regs.values[name];
      if (st.prevRegs?.full) return st.prevRegs.values[name];
      return undefined;
    };
    let sp: bigint;
    let indirect = false;
    switch (orc.spReg) {
      case ORC_REG_SP:
        sp = st.sp + BigInt(orc.spOffset);
        break;
      case ORC_REG_BP:
        sp = st.bp + BigInt(orc.spOffset);
        break;
      case ORC_REG_SP_INDIRECT:
        sp = st.sp;
        indirect = true;
        break;
      case ORC_REG_BP_INDIRECT:
        sp = st.bp + BigInt(orc.spOffset);
        indirect = true;
        break;
      case ORC_REG_R10:
      case ORC_REG_R13:
      case ORC_REG_DI:
      case ORC_REG_DX: {
        const name = { [ORC_REG_R10]: 'r10', [ORC_REG_R13]: 'r13', [ORC_REG_DI]: 'rdi', [ORC_REG_DX]: 'rdx' }[orc.spReg]!;
        const v = getReg(name);
        if (v === undefined) return fail(`the stack pointer at ${frameText(env, st.ip)} is in ${name.toUpperCase()}, which no saved registers give`);
        sp = v;
        break;
      }
      default:
        return fail(`unknown ORC SP base register ${orc.spReg} at ${frameText(env, st.ip)}`);
    }
    sp = U64(sp);
    try {
      if (indirect) {
        sp = env.readU64(sp);
        if (orc.spReg === ORC_REG_SP_INDIRECT) sp = U64(sp + BigInt(orc.spOffset));
      }
      let slot: bigint;
      let pt: DumpFrame['pt'];
      switch (orc.type) {
        case 'call': {
          slot = sp - 8n;
          if (!env.stackAt(slot)) return fail(`return address slot 0x${U64(slot).toString(16)} is on no known stack`);
          st.ip = env.readU64(slot);
          st.sp = sp;
          st.regs = undefined;
          st.prevRegs = undefined;
          break;
        }
        case 'regs': {
          if (!env.stackAt(sp)) return fail(`pt_regs at 0x${U64(sp).toString(16)} is on no known stack`);
          const regs = readPtRegs(env, sp);
          slot = sp;
          st.ip = regs.rip;
          st.sp = regs.rsp;
          st.regs = { address: sp, values: regs, full: true };
          st.prevRegs = undefined;
          pt = { address: sp, regs };
          break;
        }
        case 'regs-partial': {
          const at = sp - BigInt(IRET_FRAME_OFFSET);
          if (!env.stackAt(sp)) return fail(`IRET frame at 0x${U64(sp).toString(16)} is on no known stack`);
          const b = env.read(sp, IRET_FRAME_SIZE);
          const regs: Regs = { rip: b.readBigUInt64LE(0), cs: b.readBigUInt64LE(8), eflags: b.readBigUInt64LE(16), rsp: b.readBigUInt64LE(24), ss: b.readBigUInt64LE(32) };
          slot = at;
          st.ip = regs.rip;
          st.sp = regs.rsp;
          if (st.regs?.full) st.prevRegs = st.regs;
          st.regs = { address: at, values: regs, full: false };
          pt = { address: at, regs };
          break;
        }
        default:
          return fail(`unexpected ORC entry type at ${frameText(env, st.ip)}`);
      }
      // BP for the caller.
      switch (orc.bpReg) {
        case ORC_REG_UNDEFINED: {
          const bp = getReg('rbp');
          if (bp !== undefined) st.bp = bp;
          break;
        }
        case ORC_REG_PREV_SP:
          st.bp = env.readU64(U64(sp + BigInt(orc.bpOffset)));
          break;
        case ORC_REG_BP:
          st.bp = env.readU64(U64(st.bp + BigInt(orc.bpOffset)));
          break;
        default:
          return fail(`unknown ORC BP base register ${orc.bpReg} at ${frameText(env, st.ip)}`);
      }
      st.signal = orc.signal;
      if (pt && isUserMode(pt.regs)) {
        bt.end = { kind: 'user-mode' };
        bt.userRegs = pt.regs;
        return bt;
      }
      // Which stack now; guard against loops: same stack must grow upward, a left stack is never re-entered.
      const now = env.stackAt(st.sp);
      if (!now) return fail(`stack pointer 0x${U64(st.sp).toString(16)} after ${bt.frames[bt.frames.length - 1].function} is on no known stack`);
      if (prevStack && now.start === prevStack.start) {
        if (st.sp <= prevSp) return fail(`stack going the wrong way at ${bt.frames[bt.frames.length - 1].function} (0x${U64(st.sp).toString(16)} <= 0x${U64(prevSp).toString(16)}): loop in the frame chain`);
      } else {
        if (prevStack) left.add(String(prevStack.start));
        if (left.has(String(now.start))) return fail(`frame chain returns to the ${now.name} stack it already left: loop`);
      }
      st.stack = now;
      const f = frameAt(env, st.ip, !!pt, now.kind, !unreliable);
      f.slot = slot;
      if (pt) {
        f.exceptionRip = true;
        f.pt = pt;
      }
      bt.frames.push(f);
    } catch (e) {
      return fail(`stack memory unreadable near 0x${U64(sp).toString(16)}: ${(e as Error).message}`);
    }
  }
}

function frameText(env: UnwindEnv, ip: bigint): string {
  const s = env.symbol(ip);
  return s ? `${s.name}+0x${s.offset.toString(16)}` : `0x${U64(ip).toString(16)}`;
}

/** Bytes scanned above SP for the caller of a function without unwind data. */
const CALLER_SCAN = 4096n;

/**
 * The return address of the caller of the function at `ip`: the first slot above SP holding a text
 * address right after a `call rel32` whose target is that function's start.
 */
function findCaller(env: UnwindEnv, st: State, ip: bigint): { ip: bigint; sp: bigint } | undefined {
  const fn = env.symbol(ip);
  const stack = st.stack ?? env.stackAt(st.sp);
  if (!fn || !stack) return undefined;
  const end = st.sp + CALLER_SCAN < stack.end ? st.sp + CALLER_SCAN : stack.end;
  for (let a = (st.sp + 7n) & ~7n; a + 8n <= end; a += 8n) {
    let w: bigint;
    try {
      w = env.readU64(a);
    } catch {
      return undefined;
    }
    if (!env.isText(w)) continue;
    let b: Buffer;
    try {
      b = env.read(w - 5n, 5);
    } catch {
      continue;
    }
    if (b[0] !== 0xe8) continue;
    const target = U64(w + BigInt(b.readInt32LE(1)));
    if (target === fn.address) return { ip: w, sp: a + 8n };
  }
  return undefined;
}

/** After ORC gave up: return addresses found by scanning the rest of the current stack, marked unreliable. */
function scanRest(env: UnwindEnv, st: State, bt: Backtrace, maxFrames: number): void {
  const stack = st.stack ?? env.stackAt(st.sp);
  if (!stack) return;
  let from = st.sp < stack.start ? stack.start : st.sp;
  from = (from + 7n) & ~7n;
  let scanned = 0;
  for (let a = from; a + 8n <= stack.end && bt.frames.length < maxFrames; a += 8n) {
    if (++scanned > 65536) break;
    let w: bigint;
    try {
      w = env.readU64(a);
    } catch {
      // A page of the stack is unreadable: skip to the next page.
      a = ((a + 4096n) & ~4095n) - 8n;
      continue;
    }
    if (!env.isText(w) || !followsCall(env, w)) continue;
    const f = frameAt(env, w, false, stack.kind, false);
    f.slot = a;
    bt.frames.push(f);
  }
  if (bt.frames.length >= maxFrames) bt.notes.push(`scan stopped after ${maxFrames} frames`);
}
