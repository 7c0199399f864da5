/**
 * The `Code:` bytes of a report, disassembled around the marked instruction: when the CPU sits in a
 * tight loop (a backward branch over it), the loop's instructions and what it polls become a fact of
 * the event, so detectors can tell a sequence-count reader or a lock spin from the log alone.
 */
import type { CodeLoopFact, LogEvent } from '../model/event.ts';
import { decode } from './dump/arch/x86_64/decode.ts';

/** A made-up base for the code window: the log gives the PC as symbol+offset, not as an address. */
const BASE = 0x1000_0000n;

export function codeLoopOf(e: Pick<LogEvent, 'code' | 'registers'>): CodeLoopFact | undefined {
  const code = e.code;
  const regs = e.registers.find((r) => r.mode !== 'user' && r.arch === 'x86_64');
  if (!code || code.unavailable || code.markIndex < 0 || !regs) return undefined;
  const bytes = code.bytes
    .replace(/[<>()]/g, ' ')
    .trim()
    .split(/\s+/)
    .map((h) => parseInt(h, 16));
  if (!bytes.length || bytes.some((b) => !(b >= 0 && b <= 255))) return undefined;
  const buf = Uint8Array.from(bytes);
  const pc = BASE + BigInt(code.markIndex);
  // The window starts mid-instruction: take the first start from which decoding lands on the PC.
  for (let s = 0; s <= Math.min(code.markIndex, 15); s++) {
    const insns = decode(buf.subarray(s), BASE + BigInt(s));
    const at = insns.findIndex((i) => i.address === pc);
    if (at < 0 || insns.slice(0, at).some((i) => i.mnemonic === '(bad)')) continue;
    // The smallest backward branch at or after the PC that jumps to or before it.
    let best: { from: number; to: number } | undefined;
    for (let j = at; j < insns.length; j++) {
      const b = insns[j];
      if ((b.flow !== 'branch' && b.flow !== 'conditional-branch') || b.target === undefined || b.target > pc) continue;
      const from = insns.findIndex((i) => i.address === b.target);
      if (from < 0) continue;
      if (!best || j - from < best.to - best.from) best = { from, to: j };
    }
    if (!best || best.to - best.from > 12) return undefined;
    const loop = insns.slice(best.from, best.to + 1);
    const text = loop.map((i) => (i.memory?.ripRelative !== undefined ? i.text.replace(/0x[0-9a-f]+\(%rip\)/, '<global>(%rip)') : i.text.replace(/0x1000[0-9a-f]{4}\b/, (t) => `pc${BigInt(t) - pc >= 0n ? '+' : ''}${BigInt(t) - pc}`)));
    const readsGlobal = loop.some((i) => i.memory?.ripRelative !== undefined && /^mov/.test(i.mnemonic));
    const testsBit0 = loop.some((i) => /^(test|and)[bwlq]?$/.test(i.mnemonic) && /^\$0x1,/.test(i.text.split(/\s+/)[1] ?? ''));
    return { instructions: text, pause: loop.some((i) => i.mnemonic === 'pause'), readsGlobal, testsBit0 };
  }
  return undefined;
}
