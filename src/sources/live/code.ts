/** The instruction at a user PC: bytes read from /proc/PID/mem, decoded with iced-x86 (x86_64) or capstone (arm64). */
import { closeSync, openSync, readSync } from 'node:fs';
import type * as Iced from 'iced-x86';
import type { CodeAtPc } from '../../model/casefile.ts';
import type { Arch } from '../../model/trace.ts';

/** Reads `len` bytes of a process's memory; the error code (EIO for an unmapped page, EACCES, ESRCH...) otherwise. */
export function readProcessMemory(pid: number, address: bigint, len: number): Buffer | string {
  let fd: number | undefined;
  try {
    fd = openSync(`/proc/${pid}/mem`, 'r');
    const buf = Buffer.alloc(len);
    const n = readSync(fd, buf, 0, len, address);
    return n > 0 ? buf.subarray(0, n) : 'nothing readable';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** iced-x86 (WASM) is loaded on first use: most runs never disassemble, and loading it costs half a second. */
let iced: typeof Iced | undefined;
async function loadIced(): Promise<typeof Iced> {
  iced ??= (await import('iced-x86')) as typeof Iced;
  return iced;
}

function flowName(i: typeof Iced, f: Iced.FlowControl): string {
  const F = i.FlowControl;
  const names: Array<[Iced.FlowControl, string]> = [
    [F.Next, 'next'],
    [F.UnconditionalBranch, 'branch'],
    [F.IndirectBranch, 'indirect-branch'],
    [F.ConditionalBranch, 'conditional-branch'],
    [F.Return, 'return'],
    [F.Call, 'call'],
    [F.IndirectCall, 'indirect-call'],
    [F.Interrupt, 'interrupt'],
    [F.XbeginXabortXend, 'transaction'],
    [F.Exception, 'exception'],
  ];
  return names.find(([k]) => k === f)?.[1] ?? 'other';
}

/** Decodes the first instruction of `bytes` at `address` (x86_64). */
export async function decodeX86(bytes: Uint8Array, address: bigint): Promise<Omit<CodeAtPc, 'from'> | undefined> {
  const i = await loadIced();
  const { Decoder, DecoderOptions, Formatter, FormatterSyntax } = i;
  const decoder = new Decoder(64, bytes, DecoderOptions.None);
  const formatter = new Formatter(FormatterSyntax.Gas);
  formatter.uppercaseHex = false;
  formatter.branchLeadingZeros = false;
  try {
    decoder.ip = address;
    const insn = decoder.decode();
    try {
      if (insn.isInvalid) return undefined;
      const len = insn.length;
      const flow = flowName(i, insn.flowControl);
      const out: Omit<CodeAtPc, 'from'> = {
        address: address.toString(16),
        bytes: Buffer.from(bytes.subarray(0, len)).toString('hex'),
        text: formatter.format(insn),
        flow,
      };
      if (flow === 'branch' || flow === 'conditional-branch' || flow === 'call') {
        const target = insn.nearBranch64;
        if (target) {
          out.target = target.toString(16);
          // `jmp .` (and a conditional `jcc .` whose condition never changes) re-executes itself.
          out.branchesToItself = flow !== 'call' && target === address;
        }
      }
      if (out.branchesToItself === undefined) out.branchesToItself = false;
      if (insn.hasRepPrefix || insn.hasRepnePrefix) out.repeats = /^(rep|repe|repz|repne|repnz)\s+(movs|stos|cmps|scas|lods|ins|outs)/.test(out.text ?? '');
      return out;
    } finally {
      insn.free();
    }
  } finally {
    decoder.free();
    formatter.free();
  }
}

/** Decodes the arm64 instruction at `address` (4 bytes): `b .` and a conditional branch to itself re-execute it forever. */
export async function decodeArm64One(bytes: Uint8Array, address: bigint): Promise<Omit<CodeAtPc, 'from'>> {
  const { loadArm64Decoder, decodeArm64 } = await import('../dump/arch/arm64/decode.ts');
  await loadArm64Decoder();
  const word = bytes.subarray(0, 4);
  const [insn] = decodeArm64(word, address);
  const out: Omit<CodeAtPc, 'from'> = { address: address.toString(16), bytes: Buffer.from(word).toString('hex'), text: insn?.text ?? '(bad)', flow: insn?.flow ?? 'other' };
  if (insn?.target !== undefined) {
    out.target = insn.target.toString(16);
    out.branchesToItself = insn.flow !== 'call' && insn.target === address;
  } else out.branchesToItself = false;
  return out;
}

/** The instruction at `pc` in process `pid`, or why it could not be had. */
export async function codeAtPc(pid: number, pc: string, arch: Arch): Promise<CodeAtPc | string> {
  const address = BigInt(`0x${pc}`);
  const path = `/proc/${pid}/mem`;
  const mem = readProcessMemory(pid, address, 16);
  if (typeof mem === 'string') return `cannot read ${path} at 0x${pc} (${mem})`;
  if (arch === 'arm64') {
    const d = await decodeArm64One(mem, address);
    return { ...d, from: { kind: 'live', path, what: `code at 0x${pc}` } };
  }
  if (arch !== 'x86_64') {
    return { address: pc, bytes: mem.subarray(0, 4).toString('hex'), from: { kind: 'live', path, what: `code at 0x${pc}` } };
  }
  const d = await decodeX86(mem, address);
  if (!d) return { address: pc, bytes: mem.toString('hex'), text: '(invalid instruction)', from: { kind: 'live', path, what: `code at 0x${pc}` } };
  return { ...d, from: { kind: 'live', path, what: `code at 0x${pc}` } };
}
