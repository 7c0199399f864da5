/**
 * The detectors' memory questions answered from pasted crash output: CPU registers from `bt -a`, code from `dis`,
 * words from `rd`, `bt -f` and printed values (`p NAME` of a symbol whose address the text shows; `struct T -o ADDR`
 * member addresses), userfaultfd contexts from `struct userfaultfd_ctx`, `waitq` and `files`. What the text does
 * not show is `{ unknown: "... not in the pasted text" }`, so a finding says which command would supply it.
 */
import type {
  CpuContext,
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
import type { RegisterSet } from '../../model/trace.ts';
import { decodeQspinlock } from '../code/qspinlock.ts';
import { spinLoopAt } from '../code/spin-loop.ts';
import { PANIC_OR_NMI_ENTRY as PANIC_PATH } from '../code/panic-path.ts';
import { instructionFromText } from './att.ts';
import { leafNumber, type CrashStack, type CrashText, type CrashValue } from './crash.ts';

const notPasted = (what: string, command: string) => ({ unknown: `${what} is not in the pasted text (crash> ${command})` });

/** The stacks that show what each CPU runs: `bt -a` blocks, else active tasks (ps `>`, idle tasks) with registers. */
export function activeStacks(t: CrashText): CrashStack[] {
  const byCpu = new Map<number, CrashStack>();
  const activePids = new Set([...t.tasks.values()].filter((x) => x.active).map((x) => `${x.pid}/${x.cpu}`));
  for (const s of t.stacks) {
    const fromBtA = !!s.command && /^bt\b.*\s-a\b/.test(s.command);
    const active = fromBtA || activePids.has(`${s.pid}/${s.cpu}`) || s.pid === 0 || (!s.command && s.registers.some((r) => r.mode === 'kernel' && r.pcSymbol));
    if (!active) continue;
    const had = byCpu.get(s.cpu);
    // A later block of the same CPU (bt -a then bt -a -f) replaces an earlier one only when it has registers the other lacks.
    if (!had || (!had.registers.length && s.registers.length)) byCpu.set(s.cpu, s);
  }
  return [...byCpu.values()].sort((a, b) => a.cpu - b.cpu);
}

export class TextQueries implements KernelQueries {
  readonly source: string;
  readonly dumpedBy: 'kdump' | 'hypervisor' | 'unknown' = 'unknown';
  readonly release?: string;
  private readonly starts: Array<{ name: string; address: bigint; end?: bigint }>;
  private readonly memory = new Map<bigint, { value: bigint; size: number }>();
  private contexts?: CpuContext[];

  constructor(private readonly t: CrashText) {
    this.source = t.source;
    const rel = t.sys.get('RELEASE')?.value;
    if (rel) this.release = rel;
    // Function extents from the disassembly: a function ends after its last instruction shown.
    const lastOf = new Map<string, bigint>();
    for (const i of t.code.values()) if ((lastOf.get(i.function) ?? -1n) < i.address) lastOf.set(i.function, i.address);
    this.starts = [...t.symbols].map(([name, address]) => ({ name, address, ...(lastOf.has(name) ? { end: lastOf.get(name)! + 16n } : {}) })).sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
    for (const [a, w] of t.words) this.memory.set(a, w);
    for (const v of t.values) this.valueMemory(v);
  }

  /** Words a printed value puts at known addresses: its first leaf at its own address, members at `-o` addresses. */
  private valueMemory(v: CrashValue): void {
    const base = v.address ?? (v.name && /^[A-Za-z_]\w*$/.test(v.name) ? this.t.symbols.get(v.name) : undefined) ?? this.addressOfType(v);
    if (base === undefined) return;
    const first = v.leaves.find((l) => leafNumber(l.value) !== undefined);
    if (first && !this.memory.has(base)) this.memory.set(base, { value: BigInt.asUintN(64, leafNumber(first.value)!), size: 0 });
    const members = this.membersOfType(v);
    for (const [path, address] of members) {
      const leaf = v.leaves.find((l) => l.path === path || l.path.startsWith(path + '.'));
      const n = leaf ? leafNumber(leaf.value) : undefined;
      if (n !== undefined && !this.memory.has(address)) this.memory.set(address, { value: BigInt.asUintN(64, n), size: 0 });
    }
  }

  /** A struct printed by type without address: the `-o` listing of the same type gives it (its first member's address). */
  private addressOfType(v: CrashValue): bigint | undefined {
    const m = this.membersOfType(v);
    if (!m.size) return undefined;
    let min: bigint | undefined;
    for (const a of m.values()) if (min === undefined || a < min) min = a;
    return min;
  }

  private membersOfType(v: CrashValue): Map<string, bigint> {
    if (v.members.size) return v.members;
    if (!v.type) return new Map();
    const listed = this.t.values.filter((x) => x.type === v.type && x.members.size);
    return listed.length === 1 ? listed[0].members : new Map();
  }

  close(): void {}

  cpuContexts(): CpuContext[] {
    if (this.contexts) return this.contexts;
    const out: CpuContext[] = [];
    for (const s of activeStacks(this.t)) {
      const top = s.frames[0]?.function;
      const panicPath = !!top && PANIC_PATH.test(top);
      // The context the CPU was working in: the first exception frame outside the NMI/panic machinery.
      const regs = s.registers.find((r) => r.pcSymbol && !PANIC_PATH.test(r.pcSymbol.function) && r.mode !== 'user') ?? s.registers.find((r) => r.mode !== 'user');
      if (!regs) continue;
      const below = s.registers.indexOf(regs) > 0 || (panicPath && regs !== s.registers[0]);
      out.push({
        cpu: s.cpu,
        registers: regs,
        from: below ? 'nmi-frame' : 'note',
        ...(panicPath ? { panicPath: true, noteAt: top } : {}),
        task: { pid: s.pid, comm: s.comm, address: BigInt('0x' + s.task) },
      });
    }
    this.contexts = out;
    return out;
  }

  symbolAt(addr: bigint): SymbolRef | undefined {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid].address <= addr) lo = mid + 1;
      else hi = mid;
    }
    const s = this.starts[lo - 1];
    if (!s) return undefined;
    const next = this.starts[lo]?.address;
    const end = s.end ?? (addr === s.address ? s.address + 1n : undefined);
    if (end === undefined || addr >= end) return undefined;
    const size = Number((next !== undefined && next < end ? next : end) - s.address);
    return { name: s.name, address: s.address, offset: Number(addr - s.address), size };
  }

  addressOf(name: string): bigint | undefined {
    return this.t.symbols.get(name);
  }

  private read(addr: bigint, size: number): Maybe<bigint> {
    // A word at the address, or inside a larger word that starts before it.
    for (let back = 0n; back < 8n; back++) {
      const w = this.memory.get(addr - back);
      if (!w) continue;
      const wsize = w.size || 8;
      if (back + BigInt(size) > BigInt(wsize)) continue;
      return (w.value >> (back * 8n)) & ((1n << BigInt(size * 8)) - 1n);
    }
    const s = this.symbolAt(addr);
    return notPasted(`memory at 0x${addr.toString(16)}${s ? ` (${s.name}${s.offset ? `+0x${s.offset.toString(16)}` : ''})` : ''}`, s && !s.offset ? `p ${s.name}` : `rd 0x${addr.toString(16)}`);
  }

  readU8(addr: bigint): Maybe<number> {
    const v = this.read(addr, 1);
    return isUnknown(v) ? v : Number(v);
  }

  readU32(addr: bigint): Maybe<number> {
    const v = this.read(addr, 4);
    return isUnknown(v) ? v : Number(v);
  }

  readU64(addr: bigint): Maybe<bigint> {
    return this.read(addr, 8);
  }

  functionBounds(addr: bigint): SymbolRef | undefined {
    const s = this.symbolAt(addr);
    return s && s.size > 0 ? s : undefined;
  }

  disassemble(addr: bigint, length: number): Maybe<Instruction[]> {
    const end = addr + BigInt(length);
    const shown = [...this.t.code.values()].filter((i) => i.address >= addr && i.address < end).sort((a, b) => (a.address < b.address ? -1 : 1));
    if (!shown.length) {
      const s = this.symbolAt(addr);
      return notPasted(`code at 0x${addr.toString(16)}`, `dis ${s ? s.name : `0x${addr.toString(16)}`}`);
    }
    return shown.map((i, k) => instructionFromText(i.address, i.text, shown[k + 1]?.address));
  }

  spinLoop(regs: RegisterSet): Maybe<SpinLoop> {
    return spinLoopAt(this, regs, (addr, size) => {
      const v = this.read(addr, size);
      if (isUnknown(v)) return v;
      const out = new Uint8Array(size);
      for (let b = 0; b < size; b++) out[b] = Number((v >> BigInt(8 * b)) & 0xffn);
      return out;
    });
  }

  seqcount(addr: bigint): Maybe<SeqcountState> {
    const seq = this.readU32(addr);
    if (isUnknown(seq)) return seq;
    const symbol = this.symbolAt(addr);
    const out: SeqcountState = { address: addr, sequence: seq, ...(symbol ? { symbol } : {}) };
    if (symbol && symbol.offset === 0) {
      // The writer lock declared beside a `*_seq` counter (jiffies_lock beside jiffies_seq), printed by name.
      for (const name of [symbol.name.replace(/_seq(count)?$/, '_lock'), symbol.name.replace(/seq$/, 'lock')]) {
        if (name === symbol.name) continue;
        const printed = this.t.values.find((v) => v.name === name);
        const address = this.addressOf(name);
        if (!printed && address === undefined) continue;
        const word = printed?.leaves.find((l) => leafNumber(l.value) !== undefined);
        const value = address !== undefined ? this.readU32(address) : word ? Number(leafNumber(word.value)!) : notPasted(`${name}`, `p ${name}`);
        out.writerLock = {
          ...(address !== undefined ? { address } : {}),
          symbol: { name, address: address ?? 0n, offset: 0, size: 0 },
          how: `${name}, the lock declared beside ${symbol.name}, serialises its writers`,
          state: isUnknown(value) ? value : decodeQspinlock(address ?? 0n, value, false),
        };
        break;
      }
    }
    return out;
  }

  qspinlock(addr: bigint): Maybe<QSpinlockState> {
    const v = this.readU32(addr);
    return isUnknown(v) ? v : decodeQspinlock(addr, v, false);
  }

  ipiState(): Maybe<IpiState> {
    return notPasted('the CPUs\' outstanding cross-CPU calls', 'p call_single_queue');
  }

  underHypervisor(): boolean | undefined {
    return undefined;
  }

  tasks(): Maybe<TaskRefAt[]> {
    const list = [...this.t.tasks.values()].filter((x) => x.task);
    if (!list.length) return notPasted('the task list', 'ps');
    return list.map((x) => this.ref(x.pid, x.comm, x.task!, x.state));
  }

  private ref(pid: number, comm: string, task: string, state?: string): TaskRefAt {
    const start = this.t.startTimes.get(pid)?.seconds;
    return { pid, comm, address: BigInt('0x' + task), ...(state ? { state } : {}), ...(start !== undefined ? { startTime: start } : {}) };
  }

  uffdContexts(): Maybe<UffdContextState[]> {
    const printed = this.t.values.filter((v) => v.type === 'struct userfaultfd_ctx' && v.leaves.length);
    if (!printed.length) return notPasted('a userfaultfd_ctx', 'struct userfaultfd_ctx <file.private_data>');
    const out: UffdContextState[] = [];
    for (const v of printed) {
      const members = this.membersOfType(v);
      const address = v.address ?? this.addressOfType(v);
      if (address === undefined) continue;
      const waitersOf = (member: string): TaskRefAt[] => {
        const at = members.get(member) ?? (member === 'fault_pending_wqh' ? address : undefined);
        const q = at !== undefined ? this.t.waitqs.find((w) => w.address === at) : this.t.waitqs.find((w) => w.name?.endsWith(member));
        return (q?.tasks ?? []).map((x) => this.ref(x.pid, x.comm, x.task, this.t.tasks.get(x.pid)?.state));
      };
      const leaf = (p: string) => v.leaves.find((l) => l.path === p)?.value;
      const refs = leaf('refcount.refs.counter') ?? leaf('refcount.counter') ?? leaf('refcount');
      const released = leaf('released');
      // Files whose private_data is this context, and the descriptors that hold them.
      const files = this.t.values.filter((f) => f.type === 'struct file' && leafNumber(f.leaves.find((l) => l.path === 'private_data')?.value ?? '') === address);
      const holders: UffdContextState['holders'] = [];
      for (const listing of this.t.files) {
        for (const fd of listing.fds) {
          const isUffd = /userfaultfd/.test(fd.path) && (files.length === 0 || files.some((f) => f.leaves.find((l) => l.path === 'f_inode' && leafNumber(l.value) === BigInt('0x' + fd.inode))));
          if (isUffd) holders.push({ ...this.ref(listing.pid, listing.comm, listing.task, this.t.tasks.get(listing.pid)?.state), fd: fd.fd });
        }
      }
      const notes: string[] = [];
      if (!this.t.waitqs.length) notes.push('no waitq output pasted: who waits on the context is unknown (crash> waitq userfaultfd_ctx.fault_pending_wqh <ctx>)');
      if (!this.t.files.length) notes.push('no files output pasted: who holds the context open is unknown (crash> foreach files)');
      out.push({
        address,
        refcount: refs !== undefined && leafNumber(refs) !== undefined ? Number(leafNumber(refs)) : notPasted('its refcount', `struct userfaultfd_ctx ${address.toString(16)}`),
        released: released !== undefined ? released === 'true' || released === '1' : notPasted('its released flag', `struct userfaultfd_ctx ${address.toString(16)}`),
        faultPending: waitersOf('fault_pending_wqh'),
        faultRead: waitersOf('fault_wqh'),
        readers: waitersOf('fd_wqh'),
        events: waitersOf('event_wqh'),
        holders,
        notes,
      });
    }
    return out;
  }

  blockedTasks(): Maybe<{ waits: TaskWait[]; locks: SleepingLockState[] }> {
    return notPasted('the sleeping locks blocked tasks wait on', 'bt -f <pid>; struct rw_semaphore <addr>');
  }

  rtMutexWaits(): Maybe<Array<{ task: TaskRefAt; lock: bigint; owner?: TaskRefAt; ownerWord: bigint }>> {
    return notPasted('rt-mutex waits', 'struct task_struct.pi_blocked_on <task>');
  }

  sleepObjects(): Maybe<SleepObject[]> {
    return notPasted('what sleeping tasks wait on', 'bt -f <pid>');
  }

  workers(): Maybe<Array<{ task: TaskRefAt; wq?: string }>> {
    return notPasted('the kworkers and their work', 'struct worker <kworker>');
  }

  disksInFlight(): Maybe<Array<{ name: string; inFlight: number }>> {
    return notPasted('requests in flight per disk', 'dev -d');
  }
}
