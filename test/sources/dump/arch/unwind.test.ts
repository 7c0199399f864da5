/** The ORC unwinder on synthetic stacks: entry formats, frames across stacks, and damaged stacks ending with a marker. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeOrcEntry, encodeOrcEntry, OrcTable, ORC_REG_SP, ORC_REG_SP_INDIRECT, ORC_REG_UNDEFINED, type OrcEntry, type OrcFormat } from '../../../../src/sources/dump/arch/x86_64/orc.ts';
import { unwind, PT_REGS, type StackRange, type UnwindEnv } from '../../../../src/sources/dump/arch/x86_64/unwind.ts';

const TEXT = 0xffffffff81000000n;
const TASK: StackRange = { kind: 'task', name: 'task', start: 0xffffc90000010000n, end: 0xffffc90000014000n };
const IRQ: StackRange = { kind: 'irq', name: 'IRQ', start: 0xffff888000100000n, end: 0xffff888000104000n };

/** Functions at TEXT + 0x100*i, each 0x100 long; `call` frames of `frame` bytes (sp offset = frame + 8). */
interface Fn {
  name: string;
  orc: OrcEntry;
}
const call = (frameBytes: number): OrcEntry => ({ spOffset: frameBytes + 8, bpOffset: 0, spReg: ORC_REG_SP, bpReg: ORC_REG_UNDEFINED, type: 'call', signal: false });
const END: OrcEntry = { spOffset: 0, bpOffset: 0, spReg: ORC_REG_UNDEFINED, bpReg: ORC_REG_UNDEFINED, type: 'end', signal: false };

function makeEnv(fns: Fn[], opts: { unreadable?: StackRange; noOrc?: string[] } = {}) {
  const mem = new Map<bigint, number>(); // byte map, sparse
  const code = new Map<bigint, number>();
  const env: UnwindEnv & { w(a: bigint, v: bigint): void; fnAt(name: string, off?: number): bigint } = {
    w(a, v) {
      for (let i = 0n; i < 8n; i++) mem.set(a + i, Number((BigInt.asUintN(64, v) >> (8n * i)) & 0xffn));
    },
    fnAt(name, off = 0x10) {
      const i = fns.findIndex((f) => f.name === name);
      assert.ok(i >= 0, name);
      return TEXT + BigInt(i * 0x100 + off);
    },
    read(a, len) {
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) {
        const at = a + BigInt(i);
        if (opts.unreadable && at >= opts.unreadable.start && at < opts.unreadable.end) throw new Error(`page at 0x${at.toString(16)} excluded`);
        b[i] = mem.get(at) ?? code.get(at) ?? 0;
      }
      return b;
    },
    readU64(a) {
      return env.read(a, 8).readBigUInt64LE(0);
    },
    orc(ip) {
      const i = Number((ip - TEXT) / 0x100n);
      if (ip < TEXT || i >= fns.length) return undefined;
      if (opts.noOrc?.includes(fns[i].name)) return undefined;
      return fns[i].orc;
    },
    symbol(ip) {
      const i = Number((ip - TEXT) / 0x100n);
      if (ip < TEXT || i >= fns.length) return undefined;
      return { name: fns[i].name, offset: Number((ip - TEXT) % 0x100n), size: 0x100, address: TEXT + BigInt(i * 0x100), type: 't' };
    },
    stackAt(a) {
      return [TASK, IRQ].find((r) => a >= r.start && a < r.end);
    },
    isText(ip) {
      return ip >= TEXT && ip < TEXT + BigInt(fns.length * 0x100);
    },
  };
  // Every return site TEXT+i*0x100+0x10 follows a `call rel32` to the function listed in callTargets.
  (env as unknown as { callTo(from: string, to: string): void }).callTo = (from: string, to: string) => {
    const ret = env.fnAt(from);
    const target = env.fnAt(to, 0);
    const rel = Number(BigInt.asIntN(32, target - ret));
    code.set(ret - 5n, 0xe8);
    const b = Buffer.alloc(4);
    b.writeInt32LE(rel);
    for (let i = 0; i < 4; i++) code.set(ret - 4n + BigInt(i), b[i]);
  };
  return env as typeof env & { callTo(from: string, to: string): void };
}

test('ORC entries: every format encodes and decodes', () => {
  const entries: OrcEntry[] = [
    call(24),
    { spOffset: -8, bpOffset: -16, spReg: ORC_REG_SP_INDIRECT, bpReg: 1, type: 'call', signal: false },
    { spOffset: 8, bpOffset: 0, spReg: ORC_REG_SP, bpReg: 0, type: 'regs', signal: true },
    { spOffset: 40, bpOffset: 0, spReg: ORC_REG_SP, bpReg: 0, type: 'regs-partial', signal: true },
    END,
  ];
  for (const fmt of ['v1', 'v2', 'v3'] as OrcFormat[]) for (const e of entries) assert.deepEqual(decodeOrcEntry(encodeOrcEntry(e, fmt), 0, fmt), e, `${fmt} ${e.type}`);
  // v3 keeps a signal bit on call entries; v1 has none.
  const sig = { ...call(0), signal: true };
  assert.equal(decodeOrcEntry(encodeOrcEntry(sig, 'v3'), 0, 'v3').signal, true);
  assert.equal(decodeOrcEntry(encodeOrcEntry(sig, 'v1'), 0, 'v1').signal, false);
  // v1: sp_reg undefined without the end bit is an undefined entry.
  assert.equal(decodeOrcEntry(Buffer.from([0, 0, 0, 0, 0, 0]), 0, 'v1').type, 'undefined');
  assert.equal(decodeOrcEntry(Buffer.from([0, 0, 0, 0, 0, 0]), 0, 'v3').type, 'undefined');
});

test('ORC table: relative IPs, rightmost entry <= ip, block index', () => {
  const base = 0xffffffff82000000n;
  const ipTable = base;
  const n = 1000;
  const entries = base + 0x10000n;
  const buf = new Map<bigint, Buffer>();
  const ips: bigint[] = [];
  for (let i = 0; i < n; i++) ips.push(TEXT + BigInt(i * 64));
  const mem = Buffer.alloc(0x20000);
  ips.forEach((ip, i) => mem.writeInt32LE(Number(ip - (ipTable + BigInt(i * 4))), i * 4));
  for (let i = 0; i < n; i++) encodeOrcEntry(call(i % 100), 'v3').copy(mem, 0x10000 + i * 6);
  // lookup: one u32 per 256 bytes: index of the entry covering the block start
  const lookup = base + 0x18000n;
  const blocks = (n * 64) / 256 + 1;
  for (let b = 0; b < blocks; b++) mem.writeUInt32LE(Math.min(n - 1, b * 4), 0x18000 + b * 4);
  void buf;
  const read = (a: bigint, l: number) => mem.subarray(Number(a - base), Number(a - base) + l);
  for (const idx of [undefined, { table: lookup, blocks, start: TEXT, stop: TEXT + BigInt(n * 64) }]) {
    const t = new OrcTable(read, ipTable, entries, n, 'v3', idx);
    assert.equal(t.find(TEXT + 64n * 37n + 5n)?.spOffset, call(37).spOffset);
    assert.equal(t.find(TEXT + 64n * 999n + 63n)?.spOffset, call(99).spOffset);
    assert.equal(t.find(TEXT - 1n), undefined);
  }
});

test('a plain call chain ends at the end-of-stack entry', () => {
  const env = makeEnv([{ name: 'leaf', orc: call(16) }, { name: 'middle', orc: call(0) }, { name: 'outer', orc: END }]);
  let sp = TASK.end - 0x100n;
  const start = sp;
  env.w(sp + 16n, env.fnAt('middle')); // leaf's return address above its 16-byte frame
  sp += 24n;
  env.w(sp, env.fnAt('outer'));
  const bt = unwind(env, { ip: env.fnAt('leaf', 0x20), sp: start, bp: 0n, signal: true, regs: { rip: env.fnAt('leaf', 0x20), rsp: start, cs: 0x10n, eflags: 0x246n } }, 'registers');
  assert.deepEqual(bt.frames.map((f) => f.function), ['leaf', 'middle', 'outer']);
  assert.equal(bt.end.kind, 'end-of-stack');
  assert.ok(bt.frames.every((f) => f.reliable && f.stack === 'task'));
  assert.equal(bt.frames[0].exceptionRip, true);
});

test('IRQ stack to task stack (SP_INDIRECT), then a pt_regs frame into user mode', () => {
  const env = makeEnv([
    { name: 'handler', orc: call(0) },
    { name: 'sysvec', orc: { spOffset: 8, bpOffset: 0, spReg: ORC_REG_SP_INDIRECT, bpReg: 0, type: 'call', signal: false } },
    { name: 'asm_sysvec', orc: { spOffset: 0, bpOffset: 0, spReg: ORC_REG_SP, bpReg: 0, type: 'regs', signal: true } },
  ]);
  // IRQ stack: handler's return into sysvec at the top-8, the saved task RSP in the top word.
  const irqSp = IRQ.end - 16n;
  env.w(irqSp, env.fnAt('sysvec'));
  const taskSp = TASK.end - 0x200n;
  env.w(IRQ.end - 8n, taskSp);
  // Task stack: return into asm_sysvec, then pt_regs (user mode).
  env.w(taskSp, env.fnAt('asm_sysvec'));
  const regsAt = taskSp + 8n;
  const user: Record<string, bigint> = { rip: 0x401000n, cs: 0x33n, eflags: 0x202n, rsp: 0x7ffc0000n, ss: 0x2bn };
  PT_REGS.forEach((n, i) => env.w(regsAt + BigInt(i * 8), user[n] ?? BigInt(i)));
  const bt = unwind(env, { ip: env.fnAt('handler'), sp: irqSp, bp: 0n, signal: false }, 'test');
  assert.deepEqual(bt.frames.map((f) => `${f.function}@${f.stack}`), ['handler@irq', 'sysvec@irq', 'asm_sysvec@task']);
  assert.equal(bt.end.kind, 'user-mode');
  assert.equal(bt.userRegs?.rip, 0x401000n);
});

test('a zeroed stack page ends the trace with a marker', () => {
  const env = makeEnv([{ name: 'leaf', orc: call(0) }, { name: 'middle', orc: call(0) }]);
  const sp = TASK.start + 0x1000n;
  env.w(sp, env.fnAt('middle')); // middle's return address slot is zero (the page was zeroed)
  const bt = unwind(env, { ip: env.fnAt('leaf'), sp, bp: 0n, signal: false }, 'test');
  assert.deepEqual(bt.frames.slice(0, 2).map((f) => f.function), ['leaf', 'middle']);
  assert.equal(bt.end.kind, 'error');
  assert.match(bt.end.detail!, /return address 0|not kernel text/);
});

test('a loop in the frame chain (pt_regs pointing back down the stack) ends with a marker, never hangs', () => {
  const env = makeEnv([{ name: 'entry', orc: { spOffset: 8, bpOffset: 0, spReg: ORC_REG_SP, bpReg: 0, type: 'regs', signal: true } }]);
  const sp = TASK.start + 0x2000n;
  // pt_regs right above: RIP back into `entry`, RSP back to the same place: a cycle.
  const regs: Record<string, bigint> = { rip: env.fnAt('entry'), cs: 0x10n, eflags: 0x2n, rsp: sp, ss: 0x18n };
  PT_REGS.forEach((n, i) => env.w(sp + 8n + BigInt(i * 8), regs[n] ?? 0n));
  const bt = unwind(env, { ip: env.fnAt('entry'), sp, bp: 0n, signal: true }, 'test');
  assert.equal(bt.end.kind, 'error');
  assert.match(bt.end.detail!, /wrong way|loop/);
  assert.ok(bt.frames.length < 5);
});

test('a stack that jumps back to a stack it left is a loop', () => {
  const env = makeEnv([
    { name: 'a', orc: { spOffset: 0, bpOffset: 0, spReg: ORC_REG_SP_INDIRECT, bpReg: 0, type: 'call', signal: false } },
    { name: 'b', orc: { spOffset: 0, bpOffset: 0, spReg: ORC_REG_SP_INDIRECT, bpReg: 0, type: 'call', signal: false } },
  ]);
  const t = TASK.start + 0x800n;
  const i = IRQ.start + 0x800n;
  env.w(t, i); // a: the saved RSP on top of its stack leads to the IRQ stack
  env.w(i - 8n, env.fnAt('b'));
  env.w(i, t + 0x100n); // b: and from there back to the task stack it came from
  env.w(t + 0xf8n, env.fnAt('a'));
  const bt = unwind(env, { ip: env.fnAt('a'), sp: t, bp: 0n, signal: false }, 'test');
  assert.equal(bt.end.kind, 'error', JSON.stringify(bt.end));
  assert.match(bt.end.detail!, /already left|wrong way/);
  assert.ok(bt.frames.length < 10);
});

test('an unreadable (excluded) stack page ends the trace with the reason', () => {
  const env = makeEnv([{ name: 'leaf', orc: call(0x1000) }, { name: 'middle', orc: END }], { unreadable: { ...TASK, start: TASK.start + 0x2000n, end: TASK.start + 0x3000n } });
  const sp = TASK.start + 0x1800n;
  const bt = unwind(env, { ip: env.fnAt('leaf'), sp, bp: 0n, signal: false }, 'test');
  assert.equal(bt.end.kind, 'error');
  assert.match(bt.end.detail!, /unreadable|excluded/);
});

test('a function without ORC data: its caller is found by the call that targets it; else a scan marks frames unreliable', () => {
  const env = makeEnv([{ name: 'noorc', orc: call(0) }, { name: 'caller', orc: call(0) }, { name: 'top', orc: END }], { noOrc: ['noorc'] });
  env.callTo('caller', 'noorc');
  const sp = TASK.start + 0x1000n;
  env.w(sp + 0x20n, 0xdeadbeefn); // locals
  env.w(sp + 0x28n, env.fnAt('caller'));
  env.w(sp + 0x30n, env.fnAt('top'));
  const bt = unwind(env, { ip: env.fnAt('noorc'), sp, bp: 0n, signal: true }, 'test');
  assert.deepEqual(bt.frames.map((f) => f.function), ['noorc', 'caller', 'top']);
  assert.equal(bt.end.kind, 'end-of-stack');
  assert.ok(bt.notes.some((n) => /found by the call instruction/.test(n)));

  // Without a call instruction targeting it: frame-pointer guess fails, the rest comes from a scan, unreliable.
  const env2 = makeEnv([{ name: 'noorc', orc: call(0) }, { name: 'caller', orc: call(0) }], { noOrc: ['noorc'] });
  env2.callTo('caller', 'caller');
  env2.w(sp + 0x28n, env2.fnAt('caller'));
  const bt2 = unwind(env2, { ip: env2.fnAt('noorc'), sp, bp: 0n, signal: true }, 'test');
  assert.equal(bt2.end.kind, 'error');
  assert.ok(bt2.frames.slice(1).every((f) => !f.reliable));
  assert.ok(bt2.frames.some((f) => f.function === 'caller'));
});

test('frame limit bounds a runaway trace', () => {
  const fns: Fn[] = Array.from({ length: 300 }, (_, i) => ({ name: `f${i}`, orc: call(0) }));
  const env = makeEnv(fns);
  let sp = TASK.start;
  for (let i = 1; i < 300; i++) env.w(sp + BigInt((i - 1) * 8), env.fnAt(`f${i}`));
  void sp;
  const bt = unwind(env, { ip: env.fnAt('f0'), sp: TASK.start, bp: 0n, signal: false }, 'test', 100);
  assert.equal(bt.end.kind, 'limit');
  assert.equal(bt.frames.length, 100);
});
