/**
 * The tight loop a CPU is in, found in the disassembly of the function around its PC, and the memory words the loop
 * polls with their values: shared by every source that has code and memory (a vmcore, pasted crash `dis`/`rd`/`p`).
 */
import type { Instruction, Maybe, PolledWord, SpinLoop, SymbolRef } from '../../model/queries.ts';
import { isUnknown } from '../../model/queries.ts';
import { pcHex, type RegisterSet } from '../../model/trace.ts';

/** What the loop finder needs of a source: symbols and decoded code. */
export interface CodeReader {
  functionBounds(addr: bigint): SymbolRef | undefined;
  disassemble(addr: bigint, length: number): Maybe<Instruction[]>;
  symbolAt(addr: bigint): SymbolRef | undefined;
}

/** cpu_relax() and its kin: x86 `pause`, arm64 `yield` and the `wfe` of smp_cond_load's __cmpwait. */
const BUSY_WAIT = /^(pause|yield|wfe)$/;

/** The smallest loop (a backward branch) through the PC of `regs`, and the words it polls. */
export function spinLoopAt(code: CodeReader, regs: RegisterSet, readBytes: (addr: bigint, size: number) => Maybe<Uint8Array>): Maybe<SpinLoop> {
  const ripHex = pcHex(regs);
  if (!ripHex) return { unknown: 'no PC in the registers' };
  if (regs.mode === 'user') return { unknown: 'the CPU is in user mode' };
  const pc = BigInt(`0x${ripHex}`);
  const fn = code.functionBounds(pc);
  if (!fn) return { unknown: `no symbol covers RIP 0x${ripHex}` };
  const size = Math.min(fn.size, 0x8000);
  if (fn.offset >= size) return { unknown: `RIP ${fn.name}+0x${fn.offset.toString(16)} is beyond the part of the function Coroner disassembles` };
  const insns = code.disassemble(fn.address, size);
  if (isUnknown(insns)) return insns;
  const at = insns.findIndex((i) => i.address === pc);
  if (at < 0) return { unknown: `RIP ${fn.name}+0x${fn.offset.toString(16)} is not on an instruction boundary (code differs from the symbols?)` };
  // The smallest backward branch whose loop runs through the PC: the innermost loop around it.
  // (A shorter backward jump elsewhere over the PC may close a different loop the PC is not on.)
  let best: { s: number; e: number; body: Instruction[] } | undefined;
  for (let e = at; e < insns.length && insns[e].address - pc < 0x200n; e++) {
    const b = insns[e];
    if ((b.flow !== 'branch' && b.flow !== 'conditional-branch') || b.target === undefined) continue;
    if (b.target > pc || b.target < fn.address) continue;
    const s = insns.findIndex((i) => i.address === b.target);
    if (s < 0) continue;
    if (best && insns[e].address - insns[s].address >= insns[best.e].address - insns[best.s].address) continue;
    const body = loopBody(insns, s, e);
    if (body.some((i) => i.address === pc)) best = { s, e, body };
  }
  if (!best) return { unknown: `no loop around ${fn.name}+0x${fn.offset.toString(16)}: no backward branch closes a loop through it` };
  const loop = best.body;
  if (loop.length > 64) return { unknown: `the loop around ${fn.name}+0x${fn.offset.toString(16)} has ${loop.length} instructions: not a tight spin` };
  const written = new Set(loop.flatMap((i) => [i.writes, ...(i.writesAlso ?? [])]).filter((w): w is string => !!w));
  const polls: PolledWord[] = [];
  for (const i of loop) {
    const m = i.memory;
    if (!m || i.mnemonic === 'lea' || i.mnemonic.startsWith('nop') || i.mnemonic.startsWith('prefetch')) continue;
    if (m.base === 'rsp' || m.base === 'sp' || m.segment) continue;
    let address: bigint | undefined;
    let via: string;
    if (m.ripRelative !== undefined) {
      address = m.ripRelative;
      via = regs.arch === 'arm64' ? (m.base ? `adrp-relative (${m.base})` : 'pc-relative') : 'rip-relative';
    } else {
      const base = m.base ? regs.values[m.base] : '0';
      const index = m.index ? regs.values[m.index] : '0';
      if (base === undefined || index === undefined) continue;
      if ((m.base && written.has(m.base)) || (m.index && written.has(m.index))) continue;
      address = BigInt.asUintN(64, BigInt(`0x${base}`) + BigInt(`0x${index}`) * BigInt(m.scale) + m.displacement);
      via = `${m.displacement ? `0x${m.displacement.toString(16)}` : ''}(${m.base ?? ''}${m.index ? `,${m.index},${m.scale}` : ''})`;
    }
    if (polls.some((p) => p.address === address)) continue;
    const size = m.size > 0 && m.size <= 8 ? m.size : 4;
    const raw = readBytes(address, size);
    let value: Maybe<bigint>;
    if (isUnknown(raw)) value = raw;
    else {
      let v = 0n;
      for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(raw[b]);
      value = v;
    }
    const loaded = i.writes;
    const testsBit0 = !!loaded && loop.some((t) => t !== i && t.testsBit?.bit === 0 && t.testsBit.reg === loaded);
    polls.push({ address, size, via, symbol: code.symbolAt(address), value, testsBit0 });
  }
  return { function: fn, pc, start: loop[0].address, end: loop[loop.length - 1].address, instructions: loop, pause: loop.some((i) => BUSY_WAIT.test(i.mnemonic)), polls };
}

/** The instructions of [s, e] on some path from the loop head back to its closing branch (padding and exits left out). */
function loopBody(insns: Instruction[], s: number, e: number): Instruction[] {
  const idx = new Map<bigint, number>();
  for (let i = s; i <= e; i++) idx.set(insns[i].address, i);
  const succ = (i: number): number[] => {
    const x = insns[i];
    const out: number[] = [];
    if (x.flow === 'next' || x.flow === 'conditional-branch' || x.flow === 'call' || x.flow === 'indirect-call') if (i + 1 <= e) out.push(i + 1);
    if ((x.flow === 'branch' || x.flow === 'conditional-branch') && x.target !== undefined) {
      const t = idx.get(x.target);
      if (t !== undefined) out.push(t);
    }
    return out;
  };
  const fwd = new Set<number>([s]);
  const todo = [s];
  while (todo.length) for (const n of succ(todo.pop()!)) if (!fwd.has(n)) (fwd.add(n), todo.push(n));
  const back = new Set<number>([e]);
  let grew = true;
  while (grew) {
    grew = false;
    for (let i = s; i <= e; i++) if (!back.has(i) && succ(i).some((n) => back.has(n))) (back.add(i), (grew = true));
  }
  const body: Instruction[] = [];
  for (let i = s; i <= e; i++) if (fwd.has(i) && back.has(i)) body.push(insns[i]);
  return body;
}

