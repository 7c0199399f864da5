/**
 * arm64 stacks by frame records: each function's prologue stores {caller's x29, x30} at its frame pointer, so the
 * chain from x29 (a CPU's registers, or a switched-out task's thread.cpu_context.fp) walks to the stack's base, where a
 * zero record ends it. Return addresses carry pointer-authentication bits in their top bits: a kernel address has them
 * set back (KERNELPACMASK). As crash prints them, frame N shows the record's address and the call site (return
 * address - 4); frame 0 the frame pointer and the PC - 4.
 */
import type { Symbols } from '../../kernel/symbols.ts';
import type { AddressSpace } from '../space.ts';
import type { Backtrace, DumpFrame } from '../x86_64/unwind.ts';
import type { StackKind } from '../../../../model/trace.ts';

const MAX_FRAMES = 128;
/** The exception vector stubs for exceptions taken from EL1 (6.1: el1h_64_sync, el1h_64_irq, el1t_64_error...). */
const EL1_ENTRY = /^el1[th]_64_(sync|irq|fiq|error)$/;
const hex = (v: bigint) => v.toString(16).padStart(16, '0');

/** A code address without its pointer-authentication bits: a kernel address (bit 55 set) gets the `mask` bits set back. */
export function stripPacBits(addr: bigint, mask: bigint): bigint {
  return (addr >> 55n) & 1n ? addr | mask : addr & ~mask;
}

export class Arm64Unwinder {
  constructor(
    private readonly mem: AddressSpace,
    private readonly symbols: Symbols,
    /** The bits pointer authentication may use in a kernel address (NUMBER(KERNELPACMASK), or those above VA_BITS). */
    private readonly pacMask: bigint,
    /** sizeof(struct pt_regs): the entry from user space saves them at the top of the kernel stack. */
    private readonly ptRegsSize: number,
    /** offsetof(struct pt_regs, stackframe): the frame record an EL1 exception entry links into the chain. */
    private readonly ptRegsStackframe?: number,
    /** Per-CPU stacks other than task stacks (IRQ, overflow): a frame whose record is inside one is on it. */
    private readonly otherStacks: Array<{ start: bigint; end: bigint; kind: StackKind }> = [],
  ) {}

  private stackOf(slot: bigint): StackKind {
    for (const r of this.otherStacks) if (slot >= r.start && slot < r.end) return r.kind;
    return 'task';
  }

  /** The pt_regs at `at`: x0-x30, sp, pc, pstate, orig_x0 and syscallno; undefined when unreadable. */
  ptRegs(at: bigint): Record<string, bigint> | undefined {
    let b: Buffer;
    try {
      b = this.mem.read(at, 36 * 8);
    } catch {
      return undefined;
    }
    const regs: Record<string, bigint> = {};
    for (let i = 0; i < 31; i++) regs[`x${i}`] = b.readBigUInt64LE(i * 8);
    regs.sp = b.readBigUInt64LE(31 * 8);
    regs.pc = b.readBigUInt64LE(32 * 8);
    regs.pstate = b.readBigUInt64LE(33 * 8);
    regs.orig_x0 = b.readBigUInt64LE(34 * 8);
    regs.syscallno = BigInt(b.readInt32LE(35 * 8));
    return regs;
  }

  /**
   * The caller of interrupted code that had not (or never) set up a frame record — a leaf function, or one caught in
   * its prologue: its return address is still in LR, and the record chain skips it. LR names it when it is a kernel
   * address in another function, right after a call instruction (BL, or BLR and its authenticated forms).
   */
  private leafCaller(entry: DumpFrame): DumpFrame | undefined {
    const lrRaw = entry.pt!.regs.x30;
    if (lrRaw === undefined) return undefined;
    const lr = this.strip(lrRaw);
    if (((lr >> 63n) & 1n) !== 1n) return undefined;
    const s = this.symbols.lookup(lr - 4n);
    if (!s || (s.name === entry.function && s.module === entry.module)) return undefined;
    let insn: number;
    try {
      insn = this.mem.read(lr - 4n, 4).readUInt32LE(0);
    } catch {
      return undefined;
    }
    // (>>> 0: JavaScript's bitwise results are signed.)
    const isCall = (insn & 0xfc000000) >>> 0 === 0x94000000 || (insn & 0xfffffc1f) >>> 0 === 0xd63f0000 || (insn & 0xfefff800) >>> 0 === 0xd63f0800;
    if (!isCall) return undefined;
    // Code past its prologue (before its first call) has LR in its own record already: the chain names that caller.
    const fp = entry.pt!.regs.x29;
    try {
      if (fp !== undefined && fp !== 0n && this.strip(this.mem.readU64(fp + 8n)) === lr) return undefined;
    } catch {
      return undefined;
    }
    return this.frame(entry.slot ?? 0n, lr);
  }

  /**
   * The registers an EL1 exception entry saved (user_pt_regs: x0-x30, sp, pc, pstate), when `record` is the frame
   * record inside its pt_regs and `link` the return address read from it; the frame of the interrupted code runs at
   * their PC exactly (not a return address).
   */
  private exceptionFrame(record: bigint, link: bigint): DumpFrame | undefined {
    if (this.ptRegsStackframe === undefined) return undefined;
    const at = record - BigInt(this.ptRegsStackframe);
    const regs = this.ptRegs(at);
    if (!regs) return undefined;
    // The record mirrors the saved PC: anything else is not this entry's pt_regs.
    if (regs.pc !== link) return undefined;
    const s = this.symbols.lookup(regs.pc);
    return {
      function: s ? s.name : `0x${regs.pc.toString(16)}`,
      ...(s ? { offset: s.offset, size: s.size } : {}),
      ...(s?.module ? { module: s.module } : {}),
      address: hex(regs.pc),
      reliable: true,
      stack: this.stackOf(record),
      ip: regs.pc,
      // crash's frame address for it: the interrupted code's frame pointer (the record's link).
      slot: regs.x29,
      sp: hex(regs.sp),
      exceptionRip: true,
      pt: { address: at, regs },
    };
  }

  /** A return address without its PAC bits: kernel addresses (bit 55 set) get the top bits set back. */
  strip(addr: bigint): bigint {
    return stripPacBits(addr, this.pacMask);
  }

  private frame(slot: bigint, ip: bigint): DumpFrame {
    const at = ip - 4n;
    const s = this.symbols.lookup(at);
    return {
      function: s ? s.name : `0x${at.toString(16)}`,
      ...(s ? { offset: s.offset, size: s.size } : {}),
      ...(s?.module ? { module: s.module } : {}),
      address: hex(at),
      reliable: true,
      stack: this.stackOf(slot),
      ip: at,
      slot,
      sp: hex(slot),
    };
  }

  /** The chain from a PC and frame pointer (x29). */
  unwind(pc: bigint, fp: bigint, start: string): Backtrace {
    const frames: DumpFrame[] = [this.frame(fp, this.strip(pc))];
    return this.follow(frames, fp, start);
  }

  /**
   * A CPU's registers: x29 and the PC. A CPU caught in the exception vectors on its way in from user space still
   * has the user's x29: its one kernel frame is at the kernel stack pointer, and no record chain exists yet.
   */
  fromRegisters(r: Record<string, bigint>): Backtrace {
    const kernelFp = ((r.x29 >> 63n) & 1n) === 1n;
    // Its one frame is the pt_regs the entry is about to fill at the top of the kernel stack.
    if (!kernelFp && ((r.pc >> 63n) & 1n) === 1n) {
      const at = r.sp - BigInt(this.ptRegsSize);
      // What that pt_regs holds now is the user context of the previous entry (crash prints it too).
      const userRegs = this.ptRegs(at);
      return { frames: [this.frame(at, this.strip(r.pc))], end: { kind: 'user-mode' }, start: 'registers', notes: [], ...(userRegs ? { userRegs } : {}) };
    }
    return this.unwind(r.pc, r.x29, 'registers');
  }

  private follow(frames: DumpFrame[], fp: bigint, start: string): Backtrace {
    let cur = fp;
    for (let i = 0; i < MAX_FRAMES; i++) {
      if (cur === 0n) return { frames, end: { kind: 'end-of-stack' }, start, notes: [] };
      let next: bigint;
      let lr: bigint;
      try {
        next = this.mem.readU64(cur);
        lr = this.strip(this.mem.readU64(cur + 8n));
      } catch (e) {
        return { frames, end: { kind: 'error', detail: `frame record at 0x${cur.toString(16)} unreadable: ${(e as Error).message}` }, start, notes: [] };
      }
      if (next === 0n || lr === 0n) {
        // The final record at the top of the stack: below a kernel thread (ret_from_fork) or a CPU's first code
        // (__primary_switched) it is no call; below user space (el0t_64_sync) it is the entry from user mode.
        const last = frames[frames.length - 1];
        if (frames.length > 1 && last.slot === cur && !/^el0/.test(last.function)) frames.pop();
        // Below the entry from user space, the final record is the one inside its pt_regs: the user registers.
        if (/^el0/.test(last.function) && this.ptRegsStackframe !== undefined) {
          const userRegs = this.ptRegs(cur - BigInt(this.ptRegsStackframe));
          if (userRegs) return { frames, end: { kind: 'end-of-stack' }, start, notes: [], userRegs };
        }
        return { frames, end: { kind: 'end-of-stack' }, start, notes: [] };
      }
      // Below an EL1 exception entry (el1h_64_sync, el1h_64_irq...) this record is the one inside its pt_regs.
      const entry = frames.length > 0 && EL1_ENTRY.test(frames[frames.length - 1].function) ? this.exceptionFrame(cur, lr) : undefined;
      frames.push(entry ?? this.frame(next, lr));
      if (entry?.pt) {
        const caller = this.leafCaller(entry);
        if (caller) frames.push(caller);
      }
      if (next <= cur) return { frames, end: { kind: 'error', detail: `frame pointer 0x${next.toString(16)} does not move up the stack from 0x${cur.toString(16)}` }, start, notes: [] };
      cur = next;
    }
    return { frames, end: { kind: 'limit', detail: `more than ${MAX_FRAMES} frames` }, start, notes: [] };
  }
}
