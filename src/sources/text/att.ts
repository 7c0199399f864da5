/**
 * x86_64 instructions from their AT&T text as crash's `dis` prints it (`mov    0x189f4b5(%rip),%eax  # 0xffff... <sym>`),
 * into the model's Instruction: mnemonic, control flow, branch target, memory operand, register written. Pasted text
 * has no instruction bytes: this is what lets the same loop analysis run on it as on a dump's decoded code.
 */
import type { Instruction, MemoryOperand } from '../../model/queries.ts';
import { addX86Facts, fullRegister } from '../code/x86-insn.ts';
import { splitOperands as operands } from '../code/operands.ts';

const PREFIXES = new Set(['lock', 'rep', 'repz', 'repnz', 'repe', 'repne', 'notrack', 'bnd', 'data16', 'addr32', 'cs', 'ds', 'ss', 'es', 'fs', 'gs']);
const NO_WRITE = /^(cmp|test|bt[a-z]?$|push|j|call|ret|nop|pause|[lms]fence|ud|int|hlt|prefetch|clflush|lgdt|lidt|wrmsr|out|sti|cli|cpuid|rdtsc|sysret|iret|leave|endbr)/;

function registerSize(name: string): number | undefined {
  const n = name.replace(/^%/, '').toLowerCase();
  if (/^(r[a-z]{2}|r\d+)$/.test(n)) return 8;
  if (/^(e[a-z]{2}|r\d+d)$/.test(n)) return 4;
  if (/^([a-d]x|[sd]i|[bs]p|r\d+w)$/.test(n)) return 2;
  if (/^([a-d][lh]|[sd]il|[bs]pl|r\d+b)$/.test(n)) return 1;
  return undefined;
}


/** One instruction from its text; `next` is the address of the instruction after it, when known (gives the length). */
export function instructionFromText(address: bigint, text: string, next?: bigint): Instruction {
  const [body, comment] = text.split(/\s+#\s+/, 2);
  const clean = body.replace(/\s*\[FTRACE NOP\]\s*$/, '').replace(/\s*<[^>]*>\s*$/, '').trim();
  const tokens = clean.split(/\s+/);
  while (tokens.length > 1 && PREFIXES.has(tokens[0])) tokens.shift();
  const mnemonic = (tokens.shift() ?? '').toLowerCase();
  const ops = operands(tokens.join(' '));
  const length = next !== undefined && next > address && next - address < 16n ? Number(next - address) : 1;
  const x: Instruction = { address, length, text: body.replace(/\s*\[FTRACE NOP\]\s*$/, '').trim(), mnemonic, flow: 'next' };
  const direct = ops[0] && /^(0x[0-9a-f]+)$/.exec(ops[0]);
  if (/^j/.test(mnemonic)) {
    const unconditional = mnemonic === 'jmp' || mnemonic === 'jmpq';
    if (ops[0]?.startsWith('*')) x.flow = 'indirect-branch';
    else x.flow = unconditional ? 'branch' : 'conditional-branch';
    if (direct) x.target = BigInt(direct[1]);
  } else if (/^call/.test(mnemonic)) {
    x.flow = ops[0]?.startsWith('*') ? 'indirect-call' : 'call';
    if (direct) x.target = BigInt(direct[1]);
  } else if (/^(ret|iret|sysret)/.test(mnemonic)) x.flow = 'return';
  else if (/^(int3?|into|syscall)$/.test(mnemonic)) x.flow = 'interrupt';
  else if (/^ud[0-2]?$/.test(mnemonic)) x.flow = 'exception';
  // Memory operand: [%seg:][disp](base[,index[,scale]]) or a bare %seg:disp.
  for (const op of ops) {
    const m = /^(?:%([a-z]s):)?(-?0x[0-9a-f]+|-?\d+)?\((%\w+)?(?:,(%\w+)(?:,(\d))?)?\)$/.exec(op.replace(/^\*/, ''));
    const seg = /^%([a-z]s):(-?0x[0-9a-f]+|\d+)$/.exec(op);
    if (!m && !seg) continue;
    const dispText = (m ? m[2] : seg![2]) ?? '0';
    const neg = dispText.startsWith('-');
    const disp = BigInt(dispText.replace(/^-/, ''));
    const mem: MemoryOperand = { scale: m?.[5] ? Number(m[5]) : 1, displacement: neg ? -disp : disp, size: 0 };
    const segment = m?.[1] ?? seg?.[1];
    if (segment === 'gs' || segment === 'fs') mem.segment = segment;
    const base = m?.[3];
    if (base === '%rip') {
      const annotated = comment && /^0x([0-9a-f]+)/.exec(comment);
      if (annotated) mem.ripRelative = BigInt('0x' + annotated[1]);
      else if (next !== undefined) mem.ripRelative = BigInt.asUintN(64, next + mem.displacement);
    } else {
      if (base) mem.base = fullRegister(base);
      if (m?.[4]) mem.index = fullRegister(m[4]);
    }
    // Size: the suffix, else the register operand beside it.
    const suffix = /^(?:mov|cmp|test|add|sub|and|or|xor|inc|dec|cmpxchg|xchg|xadd|bt)([bwlq])$/.exec(mnemonic)?.[1];
    const reg = ops.find((o) => /^%\w+$/.test(o));
    mem.size = suffix ? { b: 1, w: 2, l: 4, q: 8 }[suffix]! : reg ? (registerSize(reg) ?? 8) : 8;
    x.memory = mem;
    break;
  }
  const last = ops[ops.length - 1];
  if (last && /^%\w+$/.test(last) && !NO_WRITE.test(mnemonic)) x.writes = fullRegister(last);
  if (/^cmpxchg/.test(mnemonic) && !x.writes) x.writes = 'rax';
  addX86Facts(x);
  return x;
}
