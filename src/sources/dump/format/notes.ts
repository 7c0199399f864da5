/** ELF note blobs (PT_NOTE segments, the kdump header's note area): NT_PRSTATUS, QEMU CPU state, VMCOREINFO. */
import type { CpuNote } from './types.ts';

export interface ElfNote {
  name: string;
  type: number;
  desc: Buffer;
  /** Offset of the note header inside the blob. */
  offset: number;
}

export const NT_PRSTATUS = 1;

/** Splits a note blob into notes; stops (and reports) at the first malformed one. */
export function parseNotes(blob: Buffer, problems?: string[]): ElfNote[] {
  const notes: ElfNote[] = [];
  let off = 0;
  const align4 = (x: number) => (x + 3) & ~3;
  while (off + 12 <= blob.length) {
    const namesz = blob.readUInt32LE(off);
    const descsz = blob.readUInt32LE(off + 4);
    const type = blob.readUInt32LE(off + 8);
    if (namesz === 0 && descsz === 0 && type === 0) break; // zero padding after the last note
    const nameStart = off + 12;
    const descStart = nameStart + align4(namesz);
    const end = descStart + align4(descsz);
    if (namesz > 4096 || descStart + descsz > blob.length) {
      problems?.push(`ELF note at offset ${off} runs past the end of its area (namesz ${namesz}, descsz ${descsz})`);
      break;
    }
    let name = blob.toString('latin1', nameStart, nameStart + namesz);
    const z = name.indexOf('\0');
    if (z >= 0) name = name.slice(0, z);
    notes.push({ name, type, desc: blob.subarray(descStart, descStart + descsz), offset: off });
    off = end;
  }
  return notes;
}

/** x86_64 user_regs_struct, the pr_reg of NT_PRSTATUS, in order. */
export const X86_64_USER_REGS = [
  'r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi',
  'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss', 'fs_base', 'gs_base', 'ds', 'es', 'fs', 'gs',
] as const;

/** Offset of pr_pid and pr_reg in the x86_64 elf_prstatus. */
const PRSTATUS_PID = 32;
const PRSTATUS_REG = 112;
const PRSTATUS_SIZE_X86_64 = 336;

function prstatusRegisters(desc: Buffer): Record<string, bigint> | undefined {
  if (desc.length < PRSTATUS_REG + X86_64_USER_REGS.length * 8) return undefined;
  const regs: Record<string, bigint> = {};
  X86_64_USER_REGS.forEach((name, i) => {
    regs[name] = desc.readBigUInt64LE(PRSTATUS_REG + i * 8);
  });
  return regs;
}

/** arm64's user_pt_regs in an NT_PRSTATUS (x0-x30, sp, pc, pstate), when the note is long enough to be one (x86_64's is shorter). */
function arm64Registers(desc: Buffer): Record<string, bigint> | undefined {
  if (desc.length < PRSTATUS_REG + 34 * 8) return undefined;
  const regs: Record<string, bigint> = {};
  for (let i = 0; i < 31; i++) regs[`x${i}`] = desc.readBigUInt64LE(PRSTATUS_REG + i * 8);
  regs.sp = desc.readBigUInt64LE(PRSTATUS_REG + 31 * 8);
  regs.pc = desc.readBigUInt64LE(PRSTATUS_REG + 32 * 8);
  regs.pstate = desc.readBigUInt64LE(PRSTATUS_REG + 33 * 8);
  return regs;
}

/** QEMUCPUState (QEMU's "QEMU" note, type 0): general registers, segments, descriptor tables, control registers. */
function qemuCpuState(desc: Buffer): { registers: Record<string, bigint>; control: Record<string, bigint> } | undefined {
  if (desc.length < 432) return undefined;
  const size = desc.readUInt32LE(4);
  const registers: Record<string, bigint> = {};
  const gp = ['rax', 'rbx', 'rcx', 'rdx', 'rsi', 'rdi', 'rsp', 'rbp', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15', 'rip', 'eflags'];
  gp.forEach((name, i) => {
    registers[name] = desc.readBigUInt64LE(8 + i * 8);
  });
  const control: Record<string, bigint> = {};
  const segs = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'ldt', 'tr', 'gdt', 'idt'];
  segs.forEach((name, i) => {
    const at = 152 + i * 24;
    const selector = BigInt(desc.readUInt32LE(at));
    const base = desc.readBigUInt64LE(at + 16);
    if (i < 6) registers[name] = selector;
    if (name === 'fs' || name === 'gs') registers[`${name}_base`] = base;
    control[`${name}_base`] = base;
    if (i >= 6) control[`${name}_limit`] = BigInt(desc.readUInt32LE(at + 4));
  });
  for (let i = 0; i < 5; i++) control[`cr${i}`] = desc.readBigUInt64LE(392 + i * 8);
  if (size >= 440 && desc.length >= 440) control.kernel_gs_base = desc.readBigUInt64LE(432);
  return { registers, control };
}

/**
 * CPU notes, one per CPU in note order. QEMU writes an NT_PRSTATUS and a "QEMU" CPU-state note per vCPU;
 * the state note's control registers are merged into the same CPU's entry. A dump with only QEMU state
 * notes gets entries with source 'qemu-cpustate'.
 */
export function cpuNotesFrom(notes: ElfNote[], problems?: string[]): CpuNote[] {
  const prs = notes.filter((n) => n.type === NT_PRSTATUS && (n.name === 'CORE' || n.name === 'LINUX' || n.name === ''));
  const qemu = notes.filter((n) => n.name === 'QEMU' && n.type === 0);
  const out: CpuNote[] = [];
  prs.forEach((n, i) => {
    const registers = prstatusRegisters(n.desc);
    if (!registers) {
      problems?.push(`NT_PRSTATUS note ${i} is ${n.desc.length} bytes, expected ${PRSTATUS_SIZE_X86_64} (x86_64)`);
      return;
    }
    const arm64 = arm64Registers(n.desc);
    out.push({ cpu: i, pid: n.desc.readInt32LE(PRSTATUS_PID), registers, source: 'prstatus', ...(arm64 ? { arm64 } : {}) });
  });
  qemu.forEach((n, i) => {
    const st = qemuCpuState(n.desc);
    if (!st) {
      problems?.push(`QEMU CPU-state note ${i} is ${n.desc.length} bytes, too short`);
      return;
    }
    const existing = out.find((c) => c.cpu === i);
    if (existing) existing.control = st.control;
    else out.push({ cpu: i, registers: st.registers, source: 'qemu-cpustate', control: st.control });
  });
  return out.sort((a, b) => a.cpu - b.cpu);
}

/** The VMCOREINFO note's text (name "VMCOREINFO" from the kernel and QEMU's vmcoreinfo device; "VMCOREINFO_XEN" ignored). */
export function vmcoreinfoFrom(notes: ElfNote[]): string | undefined {
  const n = notes.find((x) => x.name === 'VMCOREINFO');
  if (!n) return undefined;
  const z = n.desc.indexOf(0);
  return n.desc.toString('latin1', 0, z >= 0 ? z : n.desc.length);
}
