/**
 * Dump-based detectors on hand-made CaseFiles with a fake KernelQueries: the edge cases no fixture
 * has (no registers, unknown symbols, unreadable memory, corrupted lists, several roots, cycles).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../src/diagnose/index.ts';
import { applyKnownIssues, KNOWN_ISSUES } from '../../src/diagnose/known/issues.ts';
import { emptyCaseFile, type CaseFile } from '../../src/model/casefile.ts';
import type { Finding } from '../../src/model/finding.ts';
import type { CpuContext, Instruction, KernelQueries, QSpinlockState, SleepingLockState, SpinLoop, SymbolRef, TaskRefAt, TaskWait, UffdContextState } from '../../src/model/queries.ts';
import type { RegisterSet } from '../../src/model/trace.ts';
import { decodeQspinlock } from '../../src/sources/dump/queries.ts';

const NO = { unknown: 'not in this test' };

function regs(fn: string, values: Record<string, string>, irqs = false, mode: 'kernel' | 'user' = 'kernel'): RegisterSet {
  return { arch: 'x86_64', values: { rsp: 'ffffc90000003e00', ...values }, mode, irqsEnabled: irqs, pcSymbol: mode === 'kernel' ? { function: fn, offset: 0x15 } : undefined };
}

function ctx(cpu: number, r: RegisterSet, extra: Partial<CpuContext> = {}): CpuContext {
  return { cpu, registers: r, from: 'note', task: { pid: cpu === 0 ? 0 : 100 + cpu, comm: `t${cpu}`, address: 0xffff888000100000n + BigInt(cpu) * 0x1000n }, ...extra };
}

const insn = (address: bigint, text: string, mnemonic: string, flow: Instruction['flow'] = 'next', more: Partial<Instruction> = {}): Instruction => ({ address, length: 2, text, mnemonic, flow, ...more });

/** A fake memory: a table of words, symbols and canned answers. */
function fakeQueries(parts: {
  contexts: CpuContext[];
  loops?: Record<string, SpinLoop>;
  words?: Map<bigint, number>;
  symbols?: SymbolRef[];
  requests?: Array<{ from: number; to: number; csd: bigint; locked: boolean; queued: boolean; func?: SymbolRef }>;
  uffd?: UffdContextState[];
  blocked?: { waits: TaskWait[]; locks: SleepingLockState[] };
  rt?: Array<{ task: TaskRefAt; lock: bigint; symbol?: SymbolRef; owner?: TaskRefAt; ownerWord: bigint }>;
  hypervisor?: boolean;
}): KernelQueries {
  const sym = (a: bigint): SymbolRef | undefined => {
    const s = (parts.symbols ?? []).find((x) => a >= x.address && a < x.address + BigInt(x.size));
    return s ? { ...s, offset: Number(a - s.address) } : undefined;
  };
  const word = (a: bigint) => parts.words?.get(a);
  return {
    source: 'test.vmcore',
    dumpedBy: 'hypervisor',
    cpuContexts: () => parts.contexts,
    symbolAt: sym,
    addressOf: (n) => (parts.symbols ?? []).find((s) => s.name === n)?.address,
    readU8: (a) => word(a) ?? NO,
    readU32: (a) => word(a) ?? NO,
    readU64: (a) => (word(a) !== undefined ? BigInt(word(a)!) : NO),
    functionBounds: sym,
    disassemble: () => NO,
    spinLoop: (r) => parts.loops?.[r.values.rip ?? ''] ?? { unknown: 'no loop' },
    seqcount: (a) => {
      const v = word(a);
      if (v === undefined) return NO;
      const lockAddr = (parts.symbols ?? []).find((s) => s.name === 'jiffies_lock')?.address;
      return {
        address: a,
        sequence: v,
        ...(sym(a) ? { symbol: sym(a) } : {}),
        ...(lockAddr !== undefined ? { writerLock: { address: lockAddr, symbol: sym(lockAddr), how: 'beside', state: word(lockAddr) !== undefined ? decodeQspinlock(lockAddr, word(lockAddr)!, false) : NO } } : {}),
      };
    },
    qspinlock: (a): QSpinlockState | { unknown: string } => (word(a) !== undefined ? decodeQspinlock(a, word(a)!, false) : NO),
    ipiState: () => ({ requests: parts.requests ?? [], queues: [] }),
    underHypervisor: () => parts.hypervisor,
    uffdContexts: () => parts.uffd ?? [],
    blockedTasks: () => parts.blocked ?? { waits: [], locks: [] },
    rtMutexWaits: () => parts.rt ?? [],
    sleepObjects: () => [],
    disksInFlight: () => [],
    workers: () => [],
    tasks: () => NO,
    close: () => undefined,
  };
}

const SEQ = 0xffffffff82a07a00n;
const LOCK = 0xffffffff82a07a40n;
const seqSymbols: SymbolRef[] = [
  { name: 'jiffies_seq', address: SEQ, offset: 0, size: 64 },
  { name: 'jiffies_lock', address: LOCK, offset: 0, size: 64 },
  { name: 'tick_nohz_next_event', address: 0xffffffff81168530n, offset: 0, size: 0x130 },
];
function seqLoop(testsBit0 = true, symbol: SymbolRef | undefined = seqSymbols[0]): SpinLoop {
  return {
    function: { name: 'tick_nohz_next_event', address: 0xffffffff81168530n, offset: 0x15, size: 0x130 },
    pc: 0xffffffff81168545n,
    start: 0xffffffff81168543n,
    end: 0xffffffff8116854dn,
    pause: true,
    instructions: [
      insn(0xffffffff81168543n, 'pause', 'pause'),
      insn(0xffffffff81168545n, 'mov 0x189f4b5(%rip),%eax', 'mov', 'next', { memory: { scale: 1, displacement: 0n, size: 4, ripRelative: SEQ }, writes: 'rax' }),
      insn(0xffffffff8116854bn, 'test $0x1,%al', 'test'),
      insn(0xffffffff8116854dn, 'jne 0xffffffff81168543', 'jne', 'conditional-branch', { target: 0xffffffff81168543n }),
    ],
    polls: [{ address: SEQ, size: 4, via: 'rip-relative', value: 2085n, testsBit0, ...(symbol ? { symbol } : {}) }],
  };
}

function withKernel(q: KernelQueries): CaseFile {
  const c = emptyCaseFile();
  c.kernel = q;
  return c;
}

const kinds = (fs: Finding[]) => fs.map((f) => `${f.role}:${f.kind}`);

describe('seqcount-stuck-odd', () => {
  const loops = { ffffffff81168545: seqLoop() };
  const all = [0, 1, 2, 3].map((cpu) => ctx(cpu, regs('tick_nohz_next_event', { rip: 'ffffffff81168545' })));
  it('all CPUs in the read loop, odd sequence, writer lock free: a corrupted sequence (root), loop shown', () => {
    const q = fakeQueries({ contexts: all, loops, words: new Map([[SEQ, 2085], [LOCK, 0]]), symbols: seqSymbols });
    const c = withKernel(q);
    const d = diagnose(c);
    const root = d.findings.find((f) => f.id === d.verdict.roots[0])!;
    assert.equal(root.kind, 'seqcount-stuck-odd');
    assert.deepEqual(root.extra?.cpus, [0, 1, 2, 3]);
    assert.equal(root.extra?.noWriter, true);
    assert.equal((root.extra?.loop as string[]).length, 4);
    assert.match((root.extra?.loop as string[])[1], /# 0xffffffff82a07a00 <jiffies_seq>/);
    const o = c.objects.find((x) => x.kind === 'seqcount')!;
    assert.equal(o.symbol, 'jiffies_seq');
    assert.equal(o.address, 'ffffffff82a07a00');
    assert.ok(root.knownIssue?.differences?.length, 'erratum: partial match');
    assert.deepEqual(d.graph.roots().map((n) => n.id), ['seqcount:ffffffff82a07a00']);
  });
  it('an even sequence is no finding (readers get through)', () => {
    const q = fakeQueries({ contexts: all, loops, words: new Map([[SEQ, 2084], [LOCK, 0]]), symbols: seqSymbols });
    assert.deepEqual(diagnose(withKernel(q)).findings, []);
  });
  it('writer lock held: still odd, but not called corruption', () => {
    const q = fakeQueries({ contexts: all, loops, words: new Map([[SEQ, 2085], [LOCK, 1]]), symbols: seqSymbols });
    const f = diagnose(withKernel(q)).findings.find((x) => x.kind === 'seqcount-stuck-odd')!;
    assert.equal(f.extra?.noWriter, false);
    assert.ok(f.confidence < 0.7);
    assert.doesNotMatch(f.summary, /corrupted/);
  });
  it('a CPU outside the loop in kernel code is a possible writer', () => {
    const contexts = [...all.slice(0, 3), ctx(3, regs('do_something', { rip: 'ffffffff81000000' }))];
    const q = fakeQueries({ contexts, loops, words: new Map([[SEQ, 2085], [LOCK, 0]]), symbols: seqSymbols });
    const f = diagnose(withKernel(q)).findings.find((x) => x.kind === 'seqcount-stuck-odd')!;
    assert.deepEqual(f.extra?.cpus, [0, 1, 2]);
    assert.equal(f.extra?.noWriter, false);
    assert.ok(f.steps.some((s) => /could be a writer: CPU 3/.test(s)));
  });
  it('no registers (empty notes) and unreadable sequence: nothing claimed', () => {
    assert.deepEqual(diagnose(withKernel(fakeQueries({ contexts: [] }))).findings, []);
    const q = fakeQueries({ contexts: all, loops, words: new Map([[LOCK, 0]]), symbols: seqSymbols });
    assert.deepEqual(diagnose(withKernel(q)).findings, []);
  });
  it('a polled word without a symbol is still a seqcount when the loop tests bit 0; a named non-seq word is not', () => {
    const anon = { ffffffff81168545: seqLoop(true, undefined) };
    const q = fakeQueries({ contexts: all, loops: anon, words: new Map([[SEQ, 7]]), symbols: [] });
    const f = diagnose(withKernel(q)).findings.find((x) => x.kind === 'seqcount-stuck-odd')!;
    assert.equal(f.extra?.symbol, '');
    assert.match(f.summary, /0xffffffff82a07a00/);
    const named = { ffffffff81168545: seqLoop(true, { name: 'some_flags', address: SEQ, offset: 0, size: 8 }) };
    assert.deepEqual(diagnose(withKernel(fakeQueries({ contexts: all, loops: named, words: new Map([[SEQ, 7]]) }))).findings, []);
  });
  it('a CPU on the kdump panic path without its interrupted frame is not counted as a reader', () => {
    const contexts = [ctx(0, regs('__crash_kexec', { rip: 'ffffffff81100000' }), { panicPath: true, noteAt: '__crash_kexec+0x11a' }), ...all.slice(1)];
    const q = fakeQueries({ contexts, loops, words: new Map([[SEQ, 2085], [LOCK, 0]]), symbols: seqSymbols });
    const f = diagnose(withKernel(q)).findings.find((x) => x.kind === 'seqcount-stuck-odd')!;
    assert.deepEqual(f.extra?.cpus, [1, 2, 3]);
    assert.ok(f.steps.some((s) => /Unknown: where CPU 0/.test(s)));
  });
});

const RING = 0xffffffffc04a13c0n;
const ringSymbols: SymbolRef[] = [{ name: 'forge_ring0', address: RING, offset: 0, size: 0x40, module: 'wedge' }];
function lockLoop(addr: bigint): SpinLoop {
  return {
    function: { name: 'native_queued_spin_lock_slowpath', address: 0xffffffff8105a140n, offset: 0x30, size: 0x2a0 },
    pc: 0xffffffff8105a170n,
    start: 0xffffffff8105a155n,
    end: 0xffffffff8105a170n,
    pause: true,
    instructions: [insn(0xffffffff8105a155n, 'mov (%rbx),%eax', 'mov', 'next', { memory: { base: 'rbx', scale: 1, displacement: 0n, size: 4 }, writes: 'rax' })],
    polls: [{ address: addr, size: 4, via: '(rbx)', value: 1n, testsBit0: false }],
  };
}

describe('spinlock on a dump', () => {
  const spinner = ctx(1, regs('native_queued_spin_lock_slowpath', { rip: 'ffffffff8105a170', rbx: RING.toString(16), rdi: RING.toString(16) }));
  const loops = { ffffffff8105a170: lockLoop(RING) };
  it('the only other CPU in the kernel waits for its IPI: with no proof either way, that CPU is the likely holder (lock against IPI)', () => {
    const contexts = [
      ctx(0, regs('smp_call_function_many_cond', { rip: 'ffffffff81170441' }, true)),
      spinner,
      ctx(2, regs('', { rip: '401818' }, true, 'user')),
      ctx(3, regs('default_idle', { rip: 'ffffffff81a00000' }, true)),
    ];
    const q = fakeQueries({ contexts, loops, words: new Map([[RING, 1]]), symbols: ringSymbols, requests: [{ from: 0, to: 1, csd: 0xffff88800f6b84e0n, locked: true, queued: true }], hypervisor: true });
    const c = withKernel(q);
    const d = diagnose(c);
    assert.deepEqual(kinds(d.findings), ['root:deadlock', 'symptom:irqs-off-spin', 'symptom:ipi-wait']);
    const root = d.findings[0];
    assert.match(root.summary, /CPU 0 .*CPU 1|CPU 1 .*CPU 0/);
    assert.ok(root.confidence <= 0.6, 'one edge is inferred');
    const spin = d.findings[1];
    assert.equal(spin.extra?.lockAddress, 'ffffffffc04a13c0');
    assert.equal(spin.extra?.symbol, 'forge_ring0');
    assert.deepEqual(spin.extra?.holders, [0]);
    const o = c.objects.find((x) => x.kind === 'spinlock')!;
    assert.equal(o.symbol, 'forge_ring0');
    assert.equal(o.observed.module, 'wedge');
    assert.ok(spin.steps.some((s) => /virt_spin_lock/.test(s)), 'value 1 under a hypervisor: test-and-set');
    const w = d.findings[2];
    assert.deepEqual(w.extra?.targets, [1]);
    assert.deepEqual(w.causedBy, [root.id]);
    assert.deepEqual(d.graph.cycles(), [['cpu:0', 'csd:0', 'cpu:1', 'lock:ffffffffc04a13c0']]);
  });
  it('no other CPU can hold it: self-deadlock (root)', () => {
    const contexts = [spinner, ctx(2, regs('', { rip: '401818' }, true, 'user')), ctx(3, regs('default_idle', { rip: 'ffffffff81a00000' }, true))];
    const d = diagnose(withKernel(fakeQueries({ contexts, loops, words: new Map([[RING, 1]]), symbols: ringSymbols })));
    assert.deepEqual(kinds(d.findings), ['root:spinlock-self-deadlock']);
    assert.deepEqual(d.graph.cycles(), [['cpu:1', 'lock:ffffffffc04a13c0']]);
  });
  it('another CPU in kernel code and no stack evidence: an IRQs-off spin with the possible holders', () => {
    const contexts = [ctx(0, regs('some_kernel_function', { rip: 'ffffffff81000100' }, false)), spinner];
    const q = fakeQueries({ contexts, loops, words: new Map([[RING, 1]]), symbols: ringSymbols });
    const d = diagnose(withKernel(q));
    // The only CPU that could be inside the critical section is the end of the chain: a hog, not proven.
    assert.deepEqual(kinds(d.findings), ['root:cpu-hog', 'symptom:irqs-off-spin']);
    assert.equal(d.findings[0].extra?.cpu, 0);
    assert.deepEqual(d.findings[1].extra?.holders, [0]);
    assert.equal(d.verdict.status, 'inconclusive');
  });
  it('an unreadable or free lock word gives no dump finding (the log detectors keep their say)', () => {
    assert.deepEqual(diagnose(withKernel(fakeQueries({ contexts: [spinner], loops, words: new Map(), symbols: ringSymbols }))).findings, []);
    assert.deepEqual(diagnose(withKernel(fakeQueries({ contexts: [spinner], loops, words: new Map([[RING, 0]]), symbols: ringSymbols }))).findings, []);
  });
  it('an unknown symbol: the lock is named by its address', () => {
    const q = fakeQueries({ contexts: [spinner], loops, words: new Map([[RING, 1]]), symbols: [] });
    const [f] = diagnose(withKernel(q)).findings;
    assert.equal(f.kind, 'spinlock-self-deadlock');
    assert.match(f.summary, /0xffffffffc04a13c0/);
    assert.equal(f.extra?.symbol, undefined);
  });
  it('qspinlock decoding: locked byte, pending, tail CPU and index', () => {
    assert.deepEqual(decodeQspinlock(1n, 0x1, false), { address: 1n, value: 1, locked: 1, pending: false });
    assert.deepEqual(decodeQspinlock(1n, (3 << 18) | (1 << 16) | 0x100 | 1, false), { address: 1n, value: (3 << 18) | (1 << 16) | 0x101, locked: 1, pending: true, tailCpu: 2, tailIdx: 1 });
    assert.equal(decodeQspinlock(1n, (5 << 11) | (2 << 9) | 0x100, true).tailCpu, 4);
  });
});

describe('IPI wait from the dump alone', () => {
  it('a locked csd towards a CPU with IRQs off is a wait; one in flight towards a CPU with IRQs on is not', () => {
    const contexts = [ctx(0, regs('smp_call_function_many_cond', { rip: 'ffffffff81170441' }, true)), ctx(1, regs('stuck_somewhere', { rip: 'ffffffff81000200' }, false))];
    const q = fakeQueries({ contexts, requests: [{ from: 0, to: 1, csd: 0x1000n, locked: true, queued: true, func: { name: 'flush_tlb_func', address: 0n, offset: 0, size: 1 } }] });
    const c = withKernel(q);
    const w = diagnose(c).findings.find((f) => f.kind === 'ipi-wait')!;
    assert.deepEqual(w.extra?.targets, [1]);
    assert.match(w.summary, /TLB flush/);
    assert.equal(c.objects.find((o) => o.kind === 'csd')?.observed.func, 'flush_tlb_func');
    const inflight = fakeQueries({ contexts: [contexts[0], ctx(1, regs('x', { rip: 'ffffffff81000200' }, true))], requests: [{ from: 0, to: 1, csd: 0x1000n, locked: true, queued: false }] });
    assert.deepEqual(diagnose(withKernel(inflight)).findings, []);
  });
});

const task = (pid: number, comm: string, state = 'D'): TaskRefAt => ({ pid, comm, address: BigInt(0xffff888000000000 + pid * 0x1000), tgid: pid, state });

describe('sleeping-lock chains', () => {
  it('two mutexes whose owners wait for each other: mutex-deadlock (root)', () => {
    const a = task(10, 'a');
    const b = task(11, 'b');
    const m1: SleepingLockState = { kind: 'mutex', address: 0xffff888001000000n, owner: a, waiters: [{ ...b, wants: 'lock' }], observed: { flags: 1 } };
    const m2: SleepingLockState = { kind: 'mutex', address: 0xffff888002000000n, owner: b, waiters: [{ ...a, wants: 'lock' }], observed: { flags: 1 } };
    const q = fakeQueries({ contexts: [], blocked: { waits: [{ task: a, lock: m2.address, how: 'x' }, { task: b, lock: m1.address, how: 'x' }], locks: [m1, m2] } });
    const d = diagnose(withKernel(q));
    assert.deepEqual(kinds(d.findings), ['root:mutex-deadlock']);
    assert.equal(d.graph.cycles().length, 1);
  });
  it('a chain that ends in a holder doing something else makes the holder the lead', () => {
    const h = task(20, 'holder', 'S');
    const w = task(21, 'waiter');
    const m: SleepingLockState = { kind: 'mutex', address: 0xffffffff83000000n, symbol: { name: 'big_lock', address: 0xffffffff83000000n, offset: 0, size: 32 }, owner: h, waiters: [{ ...w, wants: 'lock' }], observed: { flags: 1 } };
    const c = withKernel(fakeQueries({ contexts: [], blocked: { waits: [{ task: w, lock: m.address, how: 'x' }], locks: [m] } }));
    const d = diagnose(c);
    assert.deepEqual(kinds(d.findings), ['root:lock-owner-chain', 'symptom:lock-owner-chain']);
    assert.match(d.findings[0].summary, /^holder:20 holds mutex big_lock/);
    assert.deepEqual(d.findings[1].extra?.holders, [20]);
    assert.equal(c.objects.find((o) => o.kind === 'mutex')?.symbol, 'big_lock');
    assert.deepEqual(d.graph.chainFrom('task:21'), ['task:21', 'lock:ffffffff83000000', 'task:20']);
  });
  it('a reader-owned rwsem whose readers wait on an unserved userfaultfd: the uffd is the root, the chain its symptom', () => {
    const r1 = task(30, 'dio/0');
    const r2 = task(31, 'dio/1');
    const wr = task(32, 'flush');
    const owner = task(29, 'vmm', 'S');
    const ctxAddr = 0xffff888003000000n;
    const rw: SleepingLockState = { kind: 'rwsem', address: 0xffff888004000040n, readerOwned: true, readers: 2, waitersFlag: true, owner: r2, likelyReaders: [r1, r2], waiters: [{ ...wr, wants: 'write' }], observed: { count: 0x202 } };
    const uffd: UffdContextState = { address: ctxAddr, refcount: 3, released: false, faultPending: [r1, r2], faultRead: [], readers: [], events: [], owner, holders: [{ ...owner, fd: 3 }], notes: [] };
    const c = withKernel(fakeQueries({ contexts: [], uffd: [uffd], blocked: { waits: [{ task: r1, uffd: ctxAddr, how: 'x' }, { task: r2, uffd: ctxAddr, how: 'x' }, { task: wr, lock: rw.address, how: 'x' }], locks: [rw] } }));
    const d = diagnose(c);
    const root = d.findings.find((f) => f.id === d.verdict.roots[0])!;
    assert.equal(root.kind, 'uffd-no-reader');
    assert.equal(d.verdict.roots.length, 1);
    const chain = d.findings.find((f) => f.kind === 'lock-owner-chain')!;
    assert.equal(chain.role, 'symptom');
    assert.deepEqual(chain.causedBy, [root.id]);
    assert.deepEqual(d.graph.chainFrom('task:32'), ['task:32', 'lock:ffff888004000040', 'task:30', `uffd:${ctxAddr.toString(16)}`]);
    assert.equal(c.objects.find((o) => o.kind === 'uffd-ctx')?.observed.refcount, 3);
    assert.ok(c.tasks.every((t) => !t.waitsOn), 'detectors never write into the CaseFile');
  });
  it('a lock with no waiters left (corrupted list walked to nothing) makes no finding', () => {
    const m: SleepingLockState = { kind: 'mutex', address: 0x1000n, waiters: [], observed: {} };
    assert.deepEqual(diagnose(withKernel(fakeQueries({ contexts: [], blocked: { waits: [], locks: [m] } }))).findings, []);
  });
});

describe('known issues', () => {
  const base = (kind: Finding['kind'], extra: Finding['extra'] = {}, summary = ''): Finding => ({ id: `${kind}-1`, kind, role: 'root', summary, confidence: 0.9, subjects: [], evidence: [], steps: [], confirm: [], extra });
  it('every row has a matching sample', () => {
    const c = emptyCaseFile();
    c.system.arch = 'arm64';
    const samples: Record<string, Finding> = {
      'kvm-arm64-s1ptw-exec-fault': base('frozen-instruction', { cause: 'fault-loop-below-kernel' }),
      'irq-utsname-exiting-task': base('null-deref', { address: '0000000000000000' }, 'kernel NULL pointer dereference in interrupt context'),
      'seqcount-corruption-cpu-erratum': base('seqcount-stuck-odd', { noWriter: true, loop: ['a: mov 0x0(%rip),%eax', 'b: test $0x1,%ah'] }),
      'uffd-server-restarted': base('uffd-no-reader', { holders: [5], owner: 5 }),
    };
    assert.deepEqual(Object.keys(samples).sort(), KNOWN_ISSUES.map((k) => k.id).sort());
    for (const [id, f] of Object.entries(samples)) {
      applyKnownIssues([f], c);
      assert.equal(f.knownIssue?.id, id, id);
    }
    assert.equal(samples['uffd-server-restarted'].knownIssue?.differences, undefined, 'full match');
  });
  it('partial matches say what differs; rows that do not apply leave the finding alone', () => {
    const c = emptyCaseFile();
    c.system.arch = 'x86_64';
    const seq = base('seqcount-stuck-odd', { noWriter: true, loop: ['a: test $0x1,%al'] });
    const uffd = base('uffd-no-reader', { holders: [5, 9], owner: 5 });
    const frozen = base('frozen-instruction', { cause: 'fault-loop-below-kernel' });
    const writer = base('seqcount-stuck-odd', { noWriter: false });
    applyKnownIssues([seq, uffd, frozen, writer], c);
    assert.equal(seq.knownIssue?.differences?.length, 2);
    assert.match(uffd.knownIssue!.differences![0], /9/);
    assert.equal(frozen.knownIssue, undefined);
    assert.equal(writer.knownIssue, undefined);
  });
});
