/**
 * arm64 disassembly (capstone, WASM) into the model's instructions, as the loop and lock detectors read them on
 * x86_64: flow kinds and branch targets, the memory operand (base register, or the absolute address an adrp/add pair
 * or a literal load names), the registers written (the loaded register, a writeback base), the bit a `tbnz`/`tst`
 * tests, and constants (adrp pages, adrp+add addresses, `mov #imm`) or register copies (`mov x0, x19`) along
 * straight-line code. capstone's detail mode is broken in this build, so operands are read from its text.
 * The WASM module instantiates asynchronously: `loadArm64Decoder()` once before the first `decodeArm64()`.
 */
import { createRequire } from 'node:module';
import type { Instruction, MemoryOperand } from '../../../../model/queries.ts';
import { splitOperands } from '../../../code/operands.ts';

interface CsInsn {
  address: bigint;
  size: number;
  mnemonic: string;
  op_str: string;
}
interface CsHandle {
  disasm(buffer: Uint8Array | number[], addr: bigint, max?: number): CsInsn[];
}
interface CsModule {
  Capstone: new (arch: number, mode: number) => CsHandle;
  ARCH_ARM64: number;
  MODE_ARM: number;
}

let handle: CsHandle | undefined;
const CHUNK = 1024;
let loading: Promise<void> | undefined;

/** Instantiates capstone (about 70 ms, once per process). */
export function loadArm64Decoder(): Promise<void> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const factory = require('@alexaltea/capstone-js') as () => Promise<CsModule>;
    const cs = await factory();
    handle = new cs.Capstone(cs.ARCH_ARM64, cs.MODE_ARM);
  })();
  return loading;
}

/** Whether `decodeArm64` can run (the WASM module is instantiated). */
export function arm64DecoderReady(): boolean {
  return handle !== undefined;
}

/** The 64-bit name of a general register operand (`w2` -> `x2`, `fp` -> `x29`), or undefined for anything else. */
export function fullRegister(op: string | undefined): string | undefined {
  if (!op) return undefined;
  const r = op.trim();
  const m = /^[wx](\d{1,2})$/.exec(r);
  if (m && Number(m[1]) <= 30) return `x${m[1]}`;
  if (r === 'sp' || r === 'wsp') return 'sp';
  if (r === 'fp') return 'x29';
  if (r === 'lr') return 'x30';
  return undefined;
}

const imm = (s: string | undefined): bigint | undefined => {
  const m = /^#(-?)(0x[0-9a-f]+|\d+)$/.exec(s?.trim() ?? '');
  if (!m) return undefined;
  const v = BigInt(m[2]);
  return m[1] ? -v : v;
};

const NO_WRITE = /^(cmp|cmn|tst|ccmp|ccmn|fcmp\w*|b|b\.\w+|bl|blr\w*|br\w*|cbn?z|tbn?z|ret\w*|eret\w*|nop|yield|wfe|wfi|sevl?|dmb|dsb|isb|sb|hint|msr|prfm|prfum|pac\w*|aut\w*|xpac\w*|bti|brk|svc|hvc|smc|udf|hlt|clrex|at|dc|ic|tlbi|csdb|esb|psb|stp|stnp|st\w*)$/;
/** Stores whose first operand is a status register they write (`stxr w2, w1, [x19]`). */
const STORE_EXCLUSIVE = /^st(l)?xr[bh]?$|^st(l)?xp$/;
/** LSE atomics: `ldadd Ws, Wt, [Xn]` writes Wt; `cas Ws, Wt, [Xn]` writes Ws; `swp Ws, Wt, [Xn]` writes Wt. */
const LSE_LOAD = /^(ld(add|clr|eor|set|smax|smin|umax|umin)|swp)(a|al|l)?[bh]?$/;
/** Load/store pair forms: two registers' worth of memory. */
const PAIR = /^(ld|st)(n|x|ax|lx)?p(sw)?$|^casp(a|al|l)?$/;
const LSE_CAS = /^cas(a|al|l)?[bh]?$|^casp(a|al|l)?$/;

/** What the decoder needs to know of a mnemonic, computed once per mnemonic (a few hundred exist). */
interface MnemonicInfo {
  flow: Instruction['flow'];
  /** Which operand it writes: the first, the second (LSE loads), or none. */
  dest: 0 | 1 | -1;
  pair: boolean;
  bitField: boolean;
}
const MNEMONICS = new Map<string, MnemonicInfo>();
function infoOf(mn: string): MnemonicInfo {
  let i = MNEMONICS.get(mn);
  if (!i) {
    const dest = STORE_EXCLUSIVE.test(mn) || LSE_CAS.test(mn) ? 0 : LSE_LOAD.test(mn) ? 1 : NO_WRITE.test(mn) || mn === '(bad)' ? -1 : 0;
    i = { flow: flowOf(mn), dest, pair: PAIR.test(mn), bitField: BIT_FIELD.test(mn) };
    MNEMONICS.set(mn, i);
  }
  return i;
}

function flowOf(mn: string): Instruction['flow'] {
  if (mn === 'b') return 'branch';
  if (/^b\.\w+$/.test(mn) || /^(cbz|cbnz|tbz|tbnz)$/.test(mn)) return 'conditional-branch';
  if (mn === 'bl') return 'call';
  if (/^blr/.test(mn)) return 'indirect-call';
  if (/^br/.test(mn) && mn !== 'brk') return 'indirect-branch';
  if (/^(ret|eret)/.test(mn)) return 'return';
  if (/^(svc|hvc|smc)$/.test(mn)) return 'interrupt';
  if (/^(brk|udf)$/.test(mn)) return 'exception';
  return 'next';
}

/** Bytes a load/store moves, from the mnemonic's size suffix or the data register's width. */
function accessSize(mn: string, data: string | undefined, pair: boolean): number {
  let size = 8;
  const r = data?.trim() ?? '';
  if (/^w/.test(r) || /^s\d/.test(r)) size = 4;
  else if (/^q\d/.test(r)) size = 16;
  else if (/^h\d/.test(r)) size = 2;
  else if (/^b\d/.test(r)) size = 1;
  if (/sw$/.test(mn)) size = 4;
  else if (/s?b$/.test(mn)) size = 1;
  else if (/s?h$/.test(mn)) size = 2;
  return pair ? size * 2 : size;
}

/**
 * Operands as gdb (crash's `dis`) prints them: addresses bare (`b.ne 0xffff...`, `adrp x3, 0xffff...`), memory offsets
 * in decimal (`[sp, #-48]!`, `[x0], #8`), other immediates in hex (`cmn w1, #0x1`), bit numbers and shifts in decimal.
 */
const BIT_FIELD = /^(lsl|lsr|asr|ror|[su]bfiz|[su]bfx|[su]bfm|bfi|bfxil|bfc|extr)$/;

function gdbOperands(mn: string, flow: Instruction['flow'], ops: string[]): string {
  const address = ['branch', 'conditional-branch', 'call'].includes(flow) || mn === 'adrp' || mn === 'adr' || /^ldr/.test(mn);
  const dec = (h: string) => BigInt(h).toString();
  return ops
    .map((o, i) => {
      if (o.startsWith('[')) return o.replace(/#(-?)(0x[0-9a-f]+)/g, (_m, sign: string, h: string) => `#${sign}${dec(h)}`);
      if (i > 0 && ops[i - 1].endsWith(']') && /^#-?(0x)?[0-9a-f]+$/.test(o)) return o.replace(/#(-?)(0x[0-9a-f]+)/, (_m, sign: string, h: string) => `#${sign}${dec(h)}`);
      if (address && /^#0x[0-9a-f]+$/.test(o) && i === ops.length - 1) return o.slice(1);
      if (((mn === 'tbz' || mn === 'tbnz') && i === 1) || infoOf(mn).bitField) return o.replace(/^#(0x[0-9a-f]+)$/, (_m, h: string) => `#${dec(h)}`);
      if (/^(lsl|lsr|asr|ror|msl|[su]xt[bhwx])\b/.test(o)) return o;
      return o.replace(/^#(-?)(\d+)$/, (_m, sign: string, d: string) => `#${sign}0x${BigInt(d).toString(16)}`);
    })
    .join(', ');
}

/** Decodes arm64 code at `addr` (4-byte instructions; an undecodable word becomes `(bad)`). */
export function decodeArm64(bytes: Uint8Array, addr: bigint): Instruction[] {
  if (!handle) throw new Error('the arm64 disassembler is not loaded (loadArm64Decoder() first)');
  const raw: Array<{ address: bigint; mnemonic: string; ops: string }> = [];
  let off = 0;
  const end = bytes.length - (bytes.length % 4);
  while (off < end) {
    let got: CsInsn[];
    try {
      // At most CHUNK bytes a call: capstone's heap grows by kilobytes per instruction decoded in one call and never shrinks.
      got = handle.disasm(bytes.subarray(off, Math.min(end, off + CHUNK)), addr + BigInt(off));
    } catch {
      // capstone throws (a string) when the first word does not decode.
      got = [];
    }
    for (const x of got) raw.push({ address: BigInt.asUintN(64, x.address), mnemonic: x.mnemonic, ops: x.op_str });
    off += got.length * 4;
    if (off < end) {
      raw.push({ address: addr + BigInt(off), mnemonic: '(bad)', ops: '' });
      off += 4;
    }
  }
  // Branch targets end straight-line code: constants known before one do not hold after it.
  const targets = new Set<bigint>();
  for (const r of raw) {
    const t = /#(0x[0-9a-f]+)$/.exec(r.ops);
    if (t && infoOf(r.mnemonic).flow !== 'next') targets.add(BigInt(t[1]));
  }
  const known = new Map<string, bigint>();
  const out: Instruction[] = [];
  for (const r of raw) {
    if (targets.has(r.address)) known.clear();
    // gdb's names for the carry conditions.
    const mn = r.mnemonic === 'b.hs' ? 'b.cs' : r.mnemonic === 'b.lo' ? 'b.cc' : r.mnemonic;
    const ops = splitOperands(r.ops);
    const info = infoOf(mn);
    const flow = info.flow;
    // As gdb prints it: addresses bare, memory offsets in decimal (`[sp, #-48]!`, `[x0], #8`).
    const text = r.ops ? `${mn} ${gdbOperands(mn, flow, ops)}` : mn;
    const x: Instruction = { address: r.address, length: 4, text, mnemonic: mn, flow };
    if (flow === 'branch' || flow === 'conditional-branch' || flow === 'call') {
      const t = /#(0x[0-9a-f]+)$/.exec(r.ops);
      if (t) x.target = BigInt(t[1]);
    }
    if (mn === 'tbz' || mn === 'tbnz') {
      const reg = fullRegister(ops[0]);
      const bit = imm(ops[1]);
      if (reg && bit !== undefined) x.testsBit = { reg, bit: Number(bit) };
    } else if ((mn === 'tst' || mn === 'ands') && imm(ops[ops.length - 1]) === 1n) {
      const reg = fullRegister(ops[mn === 'tst' ? 0 : 1]);
      if (reg) x.testsBit = { reg, bit: 0 };
    }
    // The memory operand: `[base{, #imm | , index{, ext}}]{!}`, `[base], #imm`, or a literal `ldr x0, #addr`.
    const memAt = ops.findIndex((o) => o.startsWith('['));
    const writes: string[] = [];
    if (memAt >= 0 && !/^prf/.test(mn)) {
      const inner = ops[memAt].replace(/^\[/, '').replace(/\]!?$/, '');
      const parts = splitOperands(inner);
      const base = fullRegister(parts[0]);
      const m: MemoryOperand = { scale: 1, displacement: 0n, size: accessSize(mn, ops[memAt - 1], info.pair) };
      const pre = ops[memAt].endsWith('!');
      const post = memAt + 1 < ops.length && imm(ops[memAt + 1]) !== undefined;
      if (parts[1] !== undefined) {
        const d = imm(parts[1]);
        if (d !== undefined) m.displacement = d;
        else {
          const index = fullRegister(parts[1]);
          if (index) m.index = index;
          const sh = /(lsl|sxtw|uxtw|sxtx)\s*#(\d+)/.exec(parts[2] ?? '');
          m.scale = sh ? 1 << Number(sh[2]) : 1;
        }
      }
      if (base) m.base = base;
      if (base && base !== 'sp' && known.has(base) && !m.index) m.ripRelative = BigInt.asUintN(64, known.get(base)! + m.displacement);
      x.memory = m;
      if ((pre || post) && base) writes.push(base);
    } else if (/^ldr\w*$/.test(mn) && imm(ops[1]) === undefined && /^#0x/.test(ops[1] ?? '')) {
      // A literal load: the word at a PC-relative address.
      x.memory = { scale: 1, displacement: 0n, size: accessSize(mn, ops[0], false), ripRelative: BigInt(ops[1].slice(1)) };
    }
    // Registers written.
    let dest: string | undefined;
    if (info.dest >= 0) dest = fullRegister(ops[info.dest]);
    if (info.pair && mn.startsWith('ld')) {
      const second = fullRegister(ops[1]);
      if (second) writes.unshift(second);
    }
    if (dest === 'sp') dest = undefined;
    // Constants along straight-line code.
    let value: bigint | undefined;
    if (dest) {
      if (mn === 'adrp' || mn === 'adr') value = BigInt(ops[1]?.replace(/^#/, '') ?? 'x');
      else if (mn === 'mov' || mn === 'movz') {
        const v = imm(ops[1]);
        if (v !== undefined) value = BigInt.asUintN(64, v);
        else {
          const src = fullRegister(ops[1]);
          if (src && src !== 'sp') {
            x.copies = src;
            if (known.has(src)) value = known.get(src);
          }
        }
      } else if ((mn === 'add' || mn === 'sub') && ops.length >= 3) {
        const src = fullRegister(ops[1]);
        let v = imm(ops[2]);
        if (v !== undefined && /lsl\s*#12/.test(ops[3] ?? '')) v <<= 12n;
        if (src && v !== undefined && known.has(src)) value = BigInt.asUintN(64, mn === 'add' ? known.get(src)! + v : known.get(src)! - v);
      }
    }
    for (const w of [dest, ...writes]) if (w) known.delete(w);
    if (dest) {
      x.writes = dest;
      if (value !== undefined) {
        x.value = value;
        known.set(dest, value);
      }
    }
    const more = writes.filter((w) => w !== dest && w !== 'sp');
    if (more.length) x.writesAlso = more;
    if (flow === 'call' || flow === 'indirect-call') known.clear();
    out.push(x);
  }
  return out;
}
