/**
 * Backtraces of a dump's CPUs and tasks: the unwinder fed with the kernel's memory, its ORC
 * tables (vmlinux and modules), its symbols and the stacks of the CPU/task being unwound.
 *
 * Starting points:
 * - a CPU with register notes: the note's RIP/RSP/RBP (QEMU: the live registers);
 * - a task switched out: thread.sp -> struct inactive_task_frame (ret_addr, bp), as the kernel does;
 * - kdump: the panic CPU's note is taken in __crash_kexec and the other CPUs' notes are the
 *   context the kdump NMI interrupted; the frames the CPU went on to run (machine_kexec, the NMI
 *   handler's crash_nmi_callback) sit below on the same or the NMI stack. They are found by
 *   looking for a return address into one of KDUMP_HALT_FUNCTIONS whose ORC chain leads back to
 *   exactly the noted registers.
 */
import type { Symbols } from '../../kernel/symbols.ts';
import { attempt } from '../../kernel/errors.ts';
import type { Kernel } from '../../kernel/value.ts';
import { OrcTable, vmlinuxOrc, type OrcEntry, type OrcFormat } from './orc.ts';
import { StackLayout, stackIn } from './stacks.ts';
import { followsCall, isUserMode, unwind, type Backtrace, type Regs, type StackRange, type UnwindEnv } from './unwind.ts';

/** Where kdump leaves a CPU: the panic CPU jumps through machine_kexec, the others halt in the NMI callback. */
export const KDUMP_HALT_FUNCTIONS = ['machine_kexec', 'crash_nmi_callback'];

/** Reads the ORC format from BTF's struct orc_entry (type:3 -> v3; a signal bit -> v2; else v1). */
export function orcFormatOf(kernel: Kernel | undefined, release?: string): OrcFormat {
  if (kernel) {
    const t = attempt(() => kernel.type('struct orc_entry'));
    if (t.ok) {
      const type = attempt(() => t.value.member('type'));
      if (type.ok && type.value.bitSize === 3) return 'v3';
      if (t.value.hasMember('signal')) return 'v2';
      if (type.ok) return 'v1';
    }
  }
  const m = /^(\d+)\.(\d+)/.exec(release ?? '');
  if (m && (Number(m[1]) > 6 || (Number(m[1]) === 6 && Number(m[2]) >= 4))) return 'v3';
  if (m && Number(m[1]) === 6 && Number(m[2]) === 3) return 'v2';
  return 'v1';
}

export class DumpUnwinder {
  readonly format: OrcFormat;
  readonly stacks: StackLayout;
  private readonly core: OrcTable | string;
  private readonly modOrc = new Map<bigint, OrcTable | undefined>();
  private readonly text: Array<[bigint, bigint]> = [];
  readonly notes: string[] = [];

  constructor(
    readonly kernel: Kernel,
    readonly symbols: Symbols,
  ) {
    this.format = orcFormatOf(kernel, kernel.release);
    this.stacks = new StackLayout(kernel);
    this.core = vmlinuxOrc((a, l) => kernel.read(a, l, 'ORC table'), symbols.core, this.format);
    if (typeof this.core === 'string') this.notes.push(`no ORC unwinding: ${this.core}`);
    for (const [s, e] of [
      ['_stext', '_etext'],
      ['_sinittext', '_einittext'],
    ]) {
      const a = symbols.core.address(s);
      const b = symbols.core.address(e);
      if (a !== undefined && b !== undefined && b > a) this.text.push([a, b]);
    }
  }

  isText(ip: bigint): boolean {
    for (const [a, b] of this.text) if (ip >= a && ip < b) return true;
    const m = this.symbols.moduleAt(ip);
    return !!m && m.regions.some((r) => r.kind.includes('text') && ip >= r.start && ip < r.end);
  }

  /** ORC entry for `ip` from vmlinux or its module. */
  orc(ip: bigint): OrcEntry | undefined {
    const core = this.core;
    if (typeof core !== 'string') {
      if (core.covers(ip)) return core.find(ip);
      for (const [a, b] of this.text) if (ip >= a && ip < b) return core.find(ip);
    }
    const m = this.symbols.moduleAt(ip);
    if (!m) return undefined;
    let t = this.modOrc.get(m.address);
    if (!this.modOrc.has(m.address)) {
      const r = attempt(() => {
        const arch = this.kernel.value(m.address, 'struct module').member('arch');
        const n = arch.member('num_orcs').u32();
        const ips = arch.member('orc_unwind_ip').pointer();
        const ents = arch.member('orc_unwind').pointer();
        if (!n || !ips || !ents || n > 10_000_000) return undefined;
        return new OrcTable((a, l) => this.kernel.read(a, l, `ORC table of ${m.name}`), ips, ents, n, this.format);
      });
      t = r.ok ? r.value : undefined;
      if (!r.ok) this.notes.push(`module ${m.name}: ORC table unknown because ${r.unknown}`);
      this.modOrc.set(m.address, t);
    }
    return t?.find(ip);
  }

  /** The unwinder's view for one CPU (its IRQ/exception stacks) and one task stack. */
  env(cpu: number | undefined, taskStack: bigint | undefined): UnwindEnv & { ranges: StackRange[] } {
    const ranges: StackRange[] = [];
    if (taskStack) ranges.push(this.stacks.taskStack(taskStack));
    if (cpu !== undefined) ranges.push(...this.stacks.cpuStacks(cpu));
    const k = this.kernel;
    return {
      ranges,
      read: (a, l) => k.read(a, l, 'stack'),
      readU64: (a) => k.read(a, 8, 'stack').readBigUInt64LE(0),
      orc: (ip) => this.orc(ip),
      symbol: (ip) => this.symbols.lookup(ip),
      stackAt: (a) => stackIn(ranges, a),
      isText: (ip) => this.isText(ip),
    };
  }

  /** From a CPU's registers (a note). */
  fromRegisters(regs: Regs, cpu: number, taskStack: bigint | undefined, how = 'registers'): Backtrace {
    const env = this.env(cpu, taskStack);
    return unwind(env, { ip: regs.rip, sp: regs.rsp, bp: regs.rbp ?? 0n, regs, signal: true }, how);
  }

  /** A task switched out: its inactive_task_frame at thread.sp. */
  sleeping(threadSp: bigint, taskStack: bigint, cpu: number | undefined): Backtrace {
    const env = this.env(cpu, taskStack);
    const k = this.kernel;
    let retOff = 48n;
    let bpOff = 40n;
    let size = 56n;
    const t = attempt(() => k.type('struct inactive_task_frame'));
    if (t.ok) {
      retOff = BigInt(t.value.offsetOf('ret_addr'));
      bpOff = BigInt(t.value.offsetOf('bp'));
      size = BigInt(t.value.sizeof);
    }
    const frame = attempt(() => ({ ip: env.readU64(threadSp + retOff), bp: env.readU64(threadSp + bpOff) }));
    if (!frame.ok) {
      return { frames: [], end: { kind: 'error', detail: `switch frame at thread.sp 0x${threadSp.toString(16)} unreadable: ${frame.unknown}` }, start: 'switch frame', notes: [] };
    }
    if (!stackIn(env.ranges, threadSp)) {
      return { frames: [], end: { kind: 'error', detail: `thread.sp 0x${threadSp.toString(16)} is outside the task's stack` }, start: 'switch frame', notes: [] };
    }
    const rff = this.symbols.core.address('ret_from_fork_asm') ?? this.symbols.core.address('ret_from_fork');
    return unwind(env, { ip: frame.value.ip, sp: threadSp + size, bp: frame.value.bp, signal: frame.value.ip === rff }, 'switch frame');
  }

  /**
   * A CPU of a kdump capture: unwinds from the note, then looks for the frames the CPU ran after
   * the note was taken (machine_kexec on the panic CPU; crash_nmi_callback on the NMI stack, or on
   * the task stack for an NMI from user mode) and, when one chains back to the note, starts there.
   */
  kdumpCpu(regs: Regs, cpu: number, taskStack: bigint | undefined): Backtrace {
    const base = this.fromRegisters(regs, cpu, taskStack);
    const env = this.env(cpu, taskStack);
    const areas: Array<{ range: StackRange; below?: bigint }> = [];
    const own = isUserMode(regs) ? undefined : stackIn(env.ranges, regs.rsp);
    if (own) areas.push({ range: own, below: regs.rsp });
    const nmi = this.stacks.nmiStack(cpu);
    if (nmi && nmi !== own) areas.push({ range: nmi });
    if (isUserMode(regs) && taskStack) areas.push({ range: this.stacks.taskStack(taskStack) });
    const halts = new Set(KDUMP_HALT_FUNCTIONS);
    for (const { range, below } of areas) {
      const end = below ?? range.end;
      let words: Buffer;
      const r = attempt(() => env.read(range.start, Number(end - range.start)));
      if (!r.ok) continue;
      words = r.value;
      for (let off = 0; off + 8 <= words.length; off += 8) {
        const w = words.readBigUInt64LE(off);
        if (!this.isText(w)) continue;
        const s = this.symbols.lookup(w - 1n);
        if (!s || !halts.has(s.name) || !followsCall(env, w)) continue;
        const slot = range.start + BigInt(off);
        const cand = unwind(env, { ip: w, sp: slot + 8n, bp: regs.rbp ?? 0n, signal: false }, `kdump: ${s.name} found at 0x${slot.toString(16)}`);
        if (joins(cand, regs, (ip) => this.symbols.lookup(ip)?.address)) {
          cand.frames[0].slot = slot;
          cand.notes.push(`the CPU's saved registers (note) are the context below ${s.name}; its frame was found on the ${range.name} stack and chains back to them`);
          return cand;
        }
      }
    }
    base.notes.push(`kdump: no ${KDUMP_HALT_FUNCTIONS.join('/')} frame chains back to the saved registers; trace starts at the note`);
    return base;
  }
}

/** Whether a trace passes through the registers of a note (same RIP and RSP), or ends in them (user mode). */
function joins(bt: Backtrace, regs: Regs, funcStart: (ip: bigint) => bigint | undefined): boolean {
  if (bt.userRegs && bt.userRegs.rip === regs.rip && bt.userRegs.rsp === regs.rsp) return true;
  for (const f of bt.frames) {
    if (f.pt && f.pt.regs.rip === regs.rip && f.pt.regs.rsp === regs.rsp) return true;
    // A call frame of the same function at the same stack pointer (the panic CPU's note is taken in __crash_kexec).
    if (!f.pt && f.slot !== undefined && f.slot + 8n === regs.rsp) {
      const a = funcStart(f.ip - 1n);
      if (a !== undefined && a === funcStart(regs.rip)) return true;
    }
  }
  return false;
}
