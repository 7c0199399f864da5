/**
 * KernelQueries over an open vmcore: the lazy, memory-backed answers detectors ask for
 * (model/queries.ts). Every read goes through attempt(): a page the dump lacks becomes
 * `{ unknown: "because ..." }`, never an exception and never a guessed zero.
 */
import type { CaseFile } from '../../model/casefile.ts';
import type {
  CpuContext,
  CsdRequest,
  Instruction,
  IpiState,
  KernelQueries,
  Maybe,
  QSpinlockState,
  SeqcountState,
  SleepingLockState,
  SleepObject,
  SpinLoop,
  SymbolRef,
  TaskRefAt,
  TaskWait,
  UffdContextState,
} from '../../model/queries.ts';
import { isUnknown } from '../../model/queries.ts';
import { pcHex, type RegisterSet } from '../../model/trace.ts';
import { decode } from './arch/x86_64/decode.ts';
import { arm64DecoderReady, decodeArm64 } from './arch/arm64/decode.ts';
import { spinLoopAt } from '../code/spin-loop.ts';
import { PANIC_PATH } from '../code/panic-path.ts';
import { decodeQspinlock } from '../code/qspinlock.ts';
import { registerSetFromNote, noteHasRegisters } from './arch/x86_64/registers.ts';
import { arm64CpuRegisters } from './arch/arm64/registers.ts';
import type { KernelDump } from './index.ts';
import { InputError } from '../../model/errors.ts';
import { LITTLE_ENDIAN } from './format/io.ts';
import { attempt as attemptLayer, KernelLayoutError, type Result } from './kernel/errors.ts';
import type { Kernel, Value } from './kernel/value.ts';
import type { TaskInfo } from './walk/sched.ts';
import { rtMutexWaits, sleepingLockWaits } from './walk/locking.ts';
import { ipiState } from './walk/smp.ts';
import { uffdContexts } from './walk/userfaultfd.ts';
import type { WalkContext } from './walk/context.ts';
import { disksInFlight } from './walk/block.ts';
import { waitLayout, waitObjectsOf, workers, workqueueFlushers, type WorkerInfo } from './walk/waits.ts';



export { decodeQspinlock } from '../code/qspinlock.ts';

/** attempt(), plus input errors of the symbol layer (a System.map that does not match) as unknowns. */
function attempt<T>(fn: () => T): Result<T> {
  try {
    return attemptLayer(fn);
  } catch (e) {
    if (e instanceof InputError) return { ok: false, unknown: e.message, error: new KernelLayoutError(e.message) };
    throw e;
  }
}

function unknownOf(r: { ok: false; unknown: string }): { unknown: string } {
  return { unknown: r.unknown };
}

/** Builds the queries for `dump`. Nothing is read until a detector asks. */
export function dumpQueries(dump: KernelDump): KernelQueries {
  return new DumpQueries(dump);
}

/** Attaches memory queries over `dump` to the CaseFile (the dump stays open until `c.kernel.close()`). */
export function attachKernelQueries(c: CaseFile, dump: KernelDump): void {
  c.kernel?.close();
  c.kernel = dumpQueries(dump);
}

class DumpQueries implements KernelQueries {
  readonly source: string;
  readonly dumpedBy: 'kdump' | 'hypervisor' | 'unknown';
  readonly release?: string;
  private contexts?: CpuContext[];
  private ipi?: Maybe<IpiState>;
  private textCache = new Map<bigint, Maybe<Instruction[]>>();
  private _tasks?: Maybe<TaskInfo[]>;
  private _threadSize?: number;
  private _uffd?: Maybe<UffdContextState[]>;
  private _blocked?: Maybe<{ waits: TaskWait[]; locks: SleepingLockState[] }>;

  constructor(private readonly dump: KernelDump) {
    this.source = dump.path;
    this.release = dump.release;
    const c = dump.container;
    const hypervisor = c.cpuNotes.some((n) => n.source === 'qemu-cpustate' || n.control?.cr3 !== undefined);
    this.dumpedBy = dump.vmcoreinfo.crashTime !== undefined ? 'kdump' : hypervisor ? 'hypervisor' : 'unknown';
  }

  private get k(): Kernel {
    return this.dump.kernel;
  }

  close(): void {
    this.dump.close();
  }

  symbolAt(addr: bigint): SymbolRef | undefined {
    const r = attempt(() => this.dump.symbols.lookup(addr));
    if (!r.ok || !r.value) return undefined;
    const s = r.value;
    return { name: s.name, address: s.address, offset: s.offset, size: s.size, ...(s.module ? { module: s.module } : {}) };
  }

  addressOf(name: string): bigint | undefined {
    const r = attempt(() => this.dump.symbols.address(name));
    return r.ok ? r.value : undefined;
  }

  private readBytes(addr: bigint, n: number, what: string): Maybe<Buffer> {
    const r = attempt(() => {
      try {
        return this.k.read(addr, n, what);
      } catch (e) {
        if (e instanceof KernelLayoutError) return this.dump.memory.read(addr, n);
        throw e;
      }
    });
    return r.ok ? r.value : unknownOf(r);
  }

  readU8(addr: bigint): Maybe<number> {
    const b = this.readBytes(addr, 1, `byte at 0x${addr.toString(16)}`);
    return isUnknown(b) ? b : b[0];
  }

  readU32(addr: bigint): Maybe<number> {
    const b = this.readBytes(addr, 4, `u32 at 0x${addr.toString(16)}`);
    return isUnknown(b) ? b : b.readUInt32LE(0);
  }

  readU64(addr: bigint): Maybe<bigint> {
    const b = this.readBytes(addr, 8, `u64 at 0x${addr.toString(16)}`);
    return isUnknown(b) ? b : b.readBigUInt64LE(0);
  }

  functionBounds(addr: bigint): SymbolRef | undefined {
    const s = this.symbolAt(addr);
    if (!s || s.size <= 0) return undefined;
    return s;
  }

  disassemble(addr: bigint, length: number): Maybe<Instruction[]> {
    const key = (addr << 20n) | BigInt(length & 0xfffff);
    const hit = this.textCache.get(key);
    if (hit) return hit;
    const bytes = this.readBytes(addr, length, `code at 0x${addr.toString(16)}`);
    let out: Maybe<Instruction[]>;
    if (isUnknown(bytes)) out = bytes;
    else if (this.dump.arch === 'arm64') out = arm64DecoderReady() ? decodeArm64(bytes, addr) : { unknown: 'the arm64 disassembler was not loaded' };
    else out = decode(bytes, addr);
    this.textCache.set(key, out);
    return out;
  }

  spinLoop(regs: RegisterSet): Maybe<SpinLoop> {
    return spinLoopAt(this, regs, (addr, size) => this.readBytes(addr, size, `polled word at 0x${addr.toString(16)}`));
  }

  qspinlock(addr: bigint): Maybe<QSpinlockState> {
    const v = this.readU32(addr);
    if (isUnknown(v)) return v;
    return decodeQspinlock(addr, v, this.bigCpus());
  }

  private bigCpus(): boolean {
    const s = this.symbolAt(this.addressOf('__per_cpu_offset') ?? 0n);
    return !!s && s.name === '__per_cpu_offset' && s.size >= 16384 * 8;
  }

  seqcount(addr: bigint): Maybe<SeqcountState> {
    const seq = this.readU32(addr);
    if (isUnknown(seq)) return seq;
    const symbol = this.symbolAt(addr);
    const out: SeqcountState = { address: addr, sequence: seq, ...(symbol ? { symbol } : {}) };
    const lock = this.writerLockOf(addr, symbol);
    if (lock) out.writerLock = { ...lock, state: this.qspinlock(lock.address) };
    return out;
  }

  /** The spinlock that serialises a seqcount's writers: a seqlock_t's own lock, else a `*_lock` neighbour of a `*_seq` symbol. */
  private writerLockOf(addr: bigint, symbol: SymbolRef | undefined): { address: bigint; symbol?: SymbolRef; how: string } | undefined {
    if (!symbol) return undefined;
    const k = attempt(() => this.k);
    if (k.ok) {
      const typed = attempt(() => k.value.variable(symbol.name));
      if (typed.ok) {
        const t = typed.value.type;
        if (t.name === 'seqlock_t' || t.name === 'struct seqlock') {
          const off = attempt(() => t.offsetOf('lock'));
          if (off.ok) {
            const a = symbol.address + BigInt(off.value);
            return { address: a, symbol: this.symbolAt(a), how: `${symbol.name} is a seqlock_t: its writers hold ${symbol.name}.lock` };
          }
        }
      }
    }
    if (symbol.offset !== 0) return undefined;
    for (const name of [symbol.name.replace(/_seq(count)?$/, '_lock'), symbol.name.replace(/seq$/, 'lock'), symbol.name.replace(/_seqcount$/, '_lock')]) {
      if (name === symbol.name) continue;
      const a = this.addressOf(name);
      if (a === undefined) continue;
      const dist = a > addr ? a - addr : addr - a;
      if (dist > 0x1000n) continue;
      return { address: a, symbol: this.symbolAt(a), how: `${name}, the lock declared beside ${symbol.name}, serialises its writers` };
    }
    return undefined;
  }

  underHypervisor(): boolean | undefined {
    const r = attempt(() => {
      const v = this.k.variable('boot_cpu_data').member('x86_capability');
      // X86_FEATURE_HYPERVISOR: word 4, bit 31.
      return ((v.index(4).u32() >>> 31) & 1) === 1;
    });
    return r.ok ? r.value : undefined;
  }

  cpuContexts(): CpuContext[] {
    if (this.contexts) return this.contexts;
    const out: CpuContext[] = [];
    if (this.dump.arch === 'arm64') return (this.contexts = this.arm64Contexts());
    for (const note of this.dump.container.cpuNotes) {
      if (!noteHasRegisters(note)) continue;
      const registers = this.withSymbol(registerSetFromNote(note, { withControl: false }));
      const ctx: CpuContext = { cpu: note.cpu, registers, from: 'note' };
      const fn = registers.pcSymbol?.function;
      if (fn && PANIC_PATH.test(fn)) {
        ctx.panicPath = true;
        ctx.noteAt = `${fn}+0x${(registers.pcSymbol!.offset ?? 0).toString(16)}`;
        const nmi = this.nmiInterrupted(note.cpu, BigInt(`0x${registers.values.rsp ?? '0'}`));
        if (nmi) {
          ctx.registers = nmi;
          ctx.from = 'nmi-frame';
        }
      }
      const task = this.currentTask(note.cpu);
      if (task) ctx.task = task;
      out.push(ctx);
    }
    this.contexts = out;
    return out;
  }

  /** arm64: each CPU's user_pt_regs note; a CPU caught entering an IRQ vector is placed in the function its LR is in. */
  private arm64Contexts(): CpuContext[] {
    const out: CpuContext[] = [];
    for (const note of this.dump.container.cpuNotes) {
      const r = note.arm64;
      if (!r || !Object.values(r).some((v) => v !== 0n)) continue;
      const read = arm64CpuRegisters(r, (a) => this.symbolAt(a), (a) => this.dump.stripPac(a));
      const registers = read.registers;
      const ctx: CpuContext = { cpu: note.cpu, registers, from: read.vectorEntry ? 'vector-entry' : 'note', ...(read.vectorEntry ? { noteAt: read.vectorEntry } : {}) };
      const fn = registers.pcSymbol?.function;
      if (ctx.from === 'note' && fn && PANIC_PATH.test(fn)) {
        ctx.panicPath = true;
        ctx.noteAt = `${fn}+0x${(registers.pcSymbol!.offset ?? 0).toString(16)}`;
      }
      const task = this.currentTask(note.cpu);
      if (task) ctx.task = task;
      out.push(ctx);
    }
    return out;
  }

  private withSymbol(r: RegisterSet): RegisterSet {
    const rip = pcHex(r);
    if (rip && r.mode !== 'user') {
      const s = this.symbolAt(BigInt(`0x${rip}`));
      if (s) r.pcSymbol = { function: s.name, offset: s.offset, size: s.size, ...(s.module ? { module: s.module } : {}) };
    }
    return r;
  }

  /**
   * The registers of the context an NMI interrupted, when `rsp` is on this CPU's NMI stack: the
   * entry code saves a full pt_regs (orig_ax = -1, then a copy of the hardware iret frame) below the
   * frame the CPU pushed at the top of the stack.
   */
  private nmiInterrupted(cpu: number, rsp: bigint): RegisterSet | undefined {
    const r = attempt(() => {
      const k = this.k;
      const stacks = k.perCpu('cea_exception_stacks', cpu).pointer();
      if (stacks === 0n) return undefined;
      const t = k.type('struct cea_exception_stacks');
      const m = t.member('NMI_stack');
      const base = stacks + BigInt(m.bitOffset / 8);
      const top = base + BigInt(m.type.sizeof);
      if (rsp < base || rsp >= top) return undefined;
      const span = Number(top - rsp);
      const b = k.read(rsp, span, `NMI stack of CPU ${cpu}`);
      const words: bigint[] = [];
      for (let i = 0; i + 8 <= span; i += 8) words.push(b.readBigUInt64LE(i));
      const n = words.length;
      if (n < 27) return undefined;
      const hw = words.slice(n - 5); // rip, cs, flags, sp, ss pushed by the CPU
      for (let i = n - 6; i >= 15; i--) {
        if (words[i] !== 0xffffffffffffffffn) continue;
        if (!hw.every((w, j) => words[i + 1 + j] === w)) continue;
        const names = ['r15', 'r14', 'r13', 'r12', 'rbp', 'rbx', 'r11', 'r10', 'r9', 'r8', 'rax', 'rcx', 'rdx', 'rsi', 'rdi', 'orig_rax', 'rip', 'cs', 'eflags', 'rsp', 'ss'];
        const values: Record<string, string> = {};
        names.forEach((nm, j) => (values[nm] = words[i - 15 + j].toString(16)));
        const cs = words[i + 2];
        const flags = words[i + 3];
        const regs: RegisterSet = { arch: 'x86_64', values, mode: (cs & 3n) === 3n ? 'user' : 'kernel', irqsEnabled: (flags & (1n << 9n)) !== 0n, stack: 'nmi' };
        return this.withSymbol(regs);
      }
      return undefined;
    });
    return r.ok ? r.value : undefined;
  }

  private currentTask(cpu: number): CpuContext['task'] | undefined {
    const r = attempt(() => {
      const k = this.k;
      let p: bigint;
      if (k.symbols.address('current_task') !== undefined) p = k.perCpu('current_task', cpu).pointer();
      else if (k.symbols.address('pcpu_hot') !== undefined) p = k.perCpu('pcpu_hot', cpu).member('current_task').pointer();
      // arm64 keeps current in sp_el0: the runqueue's curr says it.
      else p = this.dump.scheduler.runqueue(cpu).curr ?? 0n;
      if (p === 0n) return undefined;
      const t = k.value(p, 'struct task_struct');
      return { pid: t.member('pid').number(), comm: t.member('comm').string(16), address: p };
    });
    return r.ok ? r.value : undefined;
  }

  ipiState(): Maybe<IpiState> {
    this.ipi ??= this.readIpiState();
    return this.ipi;
  }

  private readIpiState(): Maybe<IpiState> {
    return ipiState(this.walk(), this.cpuContexts().map((c) => c.cpu));
  }

  private taskInfos(): Maybe<TaskInfo[]> {
    if (!this._tasks) {
      const r = attempt(() => this.dump.scheduler.tasks());
      this._tasks = r.ok ? r.value : unknownOf(r);
    }
    return this._tasks;
  }

  /** The context walkers get: the kernel and the helpers that speak the model's terms. */
  private walk(): WalkContext {
    return {
      k: this.k,
      ref: (t) => this.ref(t),
      symbolAt: (a) => this.symbolAt(a),
      addressOf: (n) => this.addressOf(n),
      stackWords: (t) => this.stackWords(t),
      framesOf: (t) => {
        const r = attempt(() => this.dump.backtracer.task(t).trace.frames.map((f) => f.function));
        return r.ok ? r.value : [];
      },
    };
  }

  private ref(t: TaskInfo): TaskRefAt {
    return { pid: t.pid, comm: t.comm, address: t.address, tgid: t.tgid, state: t.state.letter, ...(t.startTime !== undefined ? { startTime: t.startTime } : {}) };
  }

  tasks(): Maybe<TaskRefAt[]> {
    const ts = this.taskInfos();
    return isUnknown(ts) ? ts : ts.map((t) => this.ref(t));
  }

  /** The words of a sleeping task's kernel stack, from its saved stack pointer to the top. */
  private stackWords(t: TaskInfo): { base: bigint; words: BigUint64Array } | undefined {
    const size = this.threadSize();
    const top = t.stack + BigInt(size);
    const from = t.threadSp >= t.stack && t.threadSp < top ? t.threadSp & ~7n : t.stack;
    const r = attempt(() => this.k.read(from, Number(top - from), `stack of ${t.comm}:${t.pid}`));
    if (!r.ok) return undefined;
    const b = r.value;
    // One aligned copy viewed as 64-bit words (little-endian hosts), not a BigInt read per word.
    const n = b.length >> 3;
    let words: BigUint64Array;
    if (LITTLE_ENDIAN) {
      const copy = new Uint8Array(n * 8);
      copy.set(b.subarray(0, n * 8));
      words = new BigUint64Array(copy.buffer);
    } else {
      words = new BigUint64Array(n);
      for (let i = 0; i < n; i++) words[i] = b.readBigUInt64LE(i * 8);
    }
    return { base: from, words };
  }

  private threadSize(): number {
    if (this._threadSize === undefined) {
      const r = attempt(() => this.k.type('union thread_union').sizeof);
      this._threadSize = r.ok && r.value >= 4096 && r.value <= 65536 ? r.value : 16384;
    }
    return this._threadSize;
  }

  uffdContexts(): Maybe<UffdContextState[]> {
    this._uffd ??= this.readUffdContexts();
    return this._uffd;
  }

  private readUffdContexts(): Maybe<UffdContextState[]> {
    const ts = this.taskInfos();
    return isUnknown(ts) ? ts : uffdContexts(this.walk(), ts);
  }

  rtMutexWaits(): ReturnType<KernelQueries['rtMutexWaits']> {
    const ts = this.taskInfos();
    if (isUnknown(ts)) return ts;
    const r = attempt(() => rtMutexWaits(this.k, ts));
    if (!r.ok) return unknownOf(r);
    return r.value.waits.map((w) => {
      const sym = this.symbolAt(w.lock);
      return { task: this.ref(w.task), lock: w.lock, ownerWord: w.ownerWord, ...(sym && sym.offset < 0x100 ? { symbol: sym } : {}), ...(w.owner ? { owner: this.ref(w.owner) } : {}) };
    });
  }

  private _workers?: Maybe<WorkerInfo[]>;
  private workerInfos(): Maybe<WorkerInfo[]> {
    if (!this._workers) {
      const ts = this.taskInfos();
      if (isUnknown(ts)) return ts;
      const r = attempt(() => workers(this.k, ts));
      this._workers = r.ok ? r.value : unknownOf(r);
    }
    return this._workers;
  }

  workers(): ReturnType<KernelQueries['workers']> {
    const ws = this.workerInfos();
    if (isUnknown(ws)) return ws;
    return ws.map((w) => ({ task: this.ref(w.task), ...(w.currentFunc ? { func: this.symbolAt(w.currentFunc) } : {}), ...(w.currentWork ? { work: w.currentWork } : {}), ...(w.wq ? { wq: w.wq } : {}) }));
  }

  sleepObjects(): Maybe<SleepObject[]> {
    const ts = this.taskInfos();
    if (isUnknown(ts)) return ts;
    const L = waitLayout(this.k, (n) => this.addressOf(n));
    if (!L) return { unknown: 'the wait queue / completion layouts are not in this kernel\'s BTF' };
    // Which tasks: every D task, the owners of sleeping locks others wait for, and busy kworkers.
    const want = new Set<bigint>();
    for (const t of ts) if (t.state.letter === 'D') want.add(t.address);
    const b = this.blockedTasks();
    if (!isUnknown(b)) for (const l of b.locks) for (const o of [l.owner, ...(l.likelyReaders ?? [])]) if (o) want.add(o.address);
    const rt = this.rtMutexWaits();
    if (!isUnknown(rt)) for (const w of rt) if (w.owner) want.add(w.owner.address);
    const ws = this.workerInfos();
    const wlist = isUnknown(ws) ? [] : ws;
    for (const w of wlist) if (w.currentWork && w.task.state.letter !== 'R') want.add(w.task.address);
    const flushers = workqueueFlushers(this.k, (n) => this.addressOf(n));
    const out: SleepObject[] = [];
    let n = 0;
    for (const t of ts) {
      if (!want.has(t.address) || t.current || n++ > 4000) continue;
      const st = this.stackWords(t);
      if (!st) continue;
      for (const o of waitObjectsOf(this.k, L, t, st)) {
        const sym = o.kind === 'flush' ? undefined : this.symbolAt(o.address);
        // A completion inside a wq_flusher: the task flushes a whole workqueue.
        const flushedWq = o.kind === 'completion' ? flushers.get(o.address) : undefined;
        if (flushedWq) {
          out.push({ task: this.ref(t), kind: 'flush', address: o.address, how: `it sleeps on the completion of its wq_flusher (flush_workqueue of ${flushedWq})`, flushing: { wq: flushedWq } });
          continue;
        }
        const obj: SleepObject = { task: this.ref(t), kind: o.kind, address: o.address, how: o.how, ...(o.bit !== undefined ? { bit: o.bit } : {}), ...(sym && sym.offset < 0x200 && sym.size > 0 ? { symbol: sym } : {}) };
        if (o.kind === 'flush' && o.barrierWork !== undefined) {
          const w = wlist.find((x) => x.scheduled.includes(o.barrierWork!));
          if (w) obj.flushing = { worker: this.ref(w.task), ...(w.currentFunc ? { func: this.symbolAt(w.currentFunc) } : {}), ...(w.wq ? { wq: w.wq } : {}) };
          else {
            // Not behind a running work yet: queued on its workqueue behind others (an ordered queue runs one at a time).
            const wq = attempt(() => {
              const data = this.k.read(o.barrierWork!, 8, 'work.data').readBigUInt64LE(0);
              if ((data & 4n) === 0n) return undefined;
              return this.k.value(data & ~0xffn, 'struct pool_workqueue').member('wq').deref().member('name').string(32);
            });
            if (wq.ok && wq.value) obj.flushing = { wq: wq.value };
          }
        }
        out.push(obj);
      }
    }
    return out;
  }

  disksInFlight(): ReturnType<KernelQueries['disksInFlight']> {
    const r = attempt(() => disksInFlight(this.k, (n) => this.addressOf(n)));
    if (!r.ok) return unknownOf(r);
    return r.value.disks.map((d) => ({ name: d.name, inFlight: d.inFlight, ...(this.symbolAt(d.fops)?.module ? { driver: this.symbolAt(d.fops)!.module! } : {}), ...(d.oldestStartNs !== undefined ? { oldestStartNs: d.oldestStartNs } : {}) }));
  }

  blockedTasks(): Maybe<{ waits: TaskWait[]; locks: SleepingLockState[] }> {
    this._blocked ??= this.readBlocked();
    return this._blocked;
  }

  private readBlocked(): Maybe<{ waits: TaskWait[]; locks: SleepingLockState[] }> {
    const ts = this.taskInfos();
    return isUnknown(ts) ? ts : sleepingLockWaits(this.walk(), ts, this.uffdContexts());
  }

  /** The sleeping lock whose wait list holds the waiter node at `node` (validated list links), decoded. */
}



export type { Value };
