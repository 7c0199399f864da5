/** x86_64 disassembly (iced-x86) into the model's instructions, AT&T syntax as crash's `dis` prints it. */
import { createRequire } from 'node:module';
import type * as Iced from 'iced-x86';
import type { Instruction, MemoryOperand } from '../../../../model/queries.ts';
import { addX86Facts } from '../../../code/x86-insn.ts';

const require = createRequire(import.meta.url);
let icedModule: typeof Iced | undefined;
/** iced-x86 is CommonJS + WASM compiled synchronously: loaded on the first disassembly only. */
function iced(): typeof Iced {
  icedModule ??= require('iced-x86') as typeof Iced;
  return icedModule;
}

/** Decodes x86_64 code at `addr` into model instructions (AT&T syntax, like crash's dis). */
export function decode(bytes: Uint8Array, addr: bigint): Instruction[] {
  const i = iced();
  const decoder = new i.Decoder(64, bytes, i.DecoderOptions.None);
  const formatter = new i.Formatter(i.FormatterSyntax.Gas);
  const info = new i.InstructionInfoFactory();
  formatter.uppercaseHex = false;
  formatter.branchLeadingZeros = false;
  formatter.leadingZeros = false;
  formatter.smallHexNumbersInDecimal = false;
  formatter.ripRelativeAddresses = true;
  // As GNU tools print memory operands: `0x0(%rax,%rax,1)`, not `(%rax,%rax)` (the scale is added below).
  formatter.showZeroDisplacements = true;
  const out: Instruction[] = [];
  try {
    decoder.ip = addr;
    while (decoder.canDecode) {
      const insn = decoder.decode();
      try {
        if (insn.isInvalid) {
          out.push({ address: insn.ip, length: insn.length, text: '(bad)', mnemonic: '(bad)', flow: 'other' });
          continue;
        }
        const text = formatter.format(insn).replace(/\((%\w+),(%\w+)\)/g, '($1,$2,1)');
        const mnemonic = formatter.formatMnemonic(insn).trim().split(/\s+/).pop() ?? '';
        const x: Instruction = { address: insn.ip, length: insn.length, text, mnemonic, flow: flowOf(i, insn.flowControl) };
        if (x.flow === 'branch' || x.flow === 'conditional-branch' || x.flow === 'call') {
          const t = insn.nearBranch64;
          if (t) x.target = t;
        }
        const ii = info.info(insn);
        for (const m of ii.usedMemory()) {
          const um = m as Iced.UsedMemory;
          if (x.memory) break;
          const mem: MemoryOperand = {
            scale: um.scale,
            displacement: BigInt.asIntN(64, um.displacement),
            size: i.MemorySizeExt.size(um.memorySize),
          };
          if (um.segment === i.Register.GS || um.segment === i.Register.FS) mem.segment = regName(i, um.segment);
          if (insn.isIpRelMemoryOperand) mem.ripRelative = insn.ipRelMemoryAddress;
          else {
            if (um.base !== i.Register.None) mem.base = regName(i, um.base);
            if (um.index !== i.Register.None) mem.index = regName(i, um.index);
          }
          x.memory = mem;
          um.free();
        }
        for (const r of ii.usedRegisters()) {
          const ur = r as Iced.UsedRegister;
          if ([i.OpAccess.Write, i.OpAccess.CondWrite, i.OpAccess.ReadWrite, i.OpAccess.ReadCondWrite].includes(ur.access)) {
            const name = regName(i, ur.register);
            if (name !== 'rsp' && name !== 'rflags' && !x.writes) x.writes = name;
          }
          ur.free();
        }
        ii.free();
        addX86Facts(x);
        out.push(x);
      } finally {
        insn.free();
      }
    }
  } finally {
    decoder.free();
    formatter.free();
    info.free();
  }
  return out;
}

function regName(i: typeof Iced, r: Iced.Register): string {
  return (i.Register[i.RegisterExt.fullRegister(r)] ?? '?').toLowerCase();
}

function flowOf(i: typeof Iced, f: Iced.FlowControl): Instruction['flow'] {
  const F = i.FlowControl;
  switch (f) {
    case F.Next:
      return 'next';
    case F.UnconditionalBranch:
      return 'branch';
    case F.ConditionalBranch:
      return 'conditional-branch';
    case F.IndirectBranch:
      return 'indirect-branch';
    case F.Call:
      return 'call';
    case F.IndirectCall:
      return 'indirect-call';
    case F.Return:
      return 'return';
    case F.Interrupt:
      return 'interrupt';
    case F.Exception:
      return 'exception';
    default:
      return 'other';
  }
}

