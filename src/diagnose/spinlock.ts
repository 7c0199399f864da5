/**
 * A CPU spinning on a spinlock, from the dump (cases/softlockup-tlb-ipi.md): the lock address comes from the loop the
 * CPU polls (its registers + the slow path's code), the lock word from memory. Who holds it: a spinlock holder runs
 * (it cannot sleep), so it is a CPU whose own code took the lock and has not released it — proven by disassembling
 * each frame's function up to its return address and matching the lock call's argument to the lock. The holder can
 * be the spinning CPU itself (a self-deadlock), another spinning CPU (ABBA), a CPU that waits for this one's IPI
 * (lock against IPI), or one running inside the critical section. Each becomes an edge of the wait-for graph:
 * CPU -> lock (spins on), lock -> holder (held by); the graph turns them into a deadlock, a hog or a lost unlock.
 */
import type { Finding } from '../model/finding.ts';
import { isUnknown, symbolText, type CpuContext, type Instruction, type KernelQueries, type Maybe, type QSpinlockState, type SymbolRef } from '../model/queries.ts';
import type { Fact } from '../model/provenance.ts';
import type { Frame, RegisterSet } from '../model/trace.ts';
import { frameText, pcHex, spHex } from '../model/trace.ts';
import { abiOf } from '../model/abi.ts';
import { cpuNode, eventFact, finding, type DetectorContext } from './context.ts';
import { contextText, dumpFact, dumpTakenStep, hexOf } from './dump-facts.ts';
import { busyInKernel, inSpinlockSlowpath, viewLabel, viewPc, type CpuView } from './cpu-view.ts';
import { matchesAny, OOPS_PATH_FUNCTIONS, SPINLOCK_SLOWPATH_FUNCTIONS } from './known/frames.ts';

const LOCK_CALL = /^(_raw_(spin|read|write)_lock(_irqsave|_irq|_bh|_nested)?|_(spin|read|write)_lock(_irqsave|_irq|_bh)?|do_raw_(spin|read|write)_lock|queued_spin_lock|queued_(read|write)_lock|__raw_(spin|read|write)_lock)$/;
const UNLOCK_CALL = /^(_raw_(spin|read|write)_unlock(_irqrestore|_irq|_bh)?|_(spin|read|write)_unlock(_irqrestore|_irq|_bh)?|do_raw_(spin|read|write)_unlock|__raw_(spin|read|write)_unlock)$/;
/** The rwlock slow paths: the word is a qrwlock's `cnts` (writer byte 0xff when write-locked, readers << 9). */
const RWLOCK_SLOWPATH = /^queued_(read|write)_lock_slowpath$/;

/** Where one of the CPU's own callers took the lock. */
export interface TakenBy {
  frame: string;
  /** Address of the lock call. */
  at: bigint;
  /** How the lock argument was matched: `rdi = forge_ring0 (immediate)`, `rdi = rbp = 0x... (the lock)`, or undefined when unproven. */
  argument?: string;
  /** Frames between the lock request and this caller include the oops/exception path. */
  viaOops: boolean;
}

/** The lock argument of the call at index `i`: what was put in the first argument register (RDI / X0) just before. */
function lockArgument(q: KernelQueries, insns: Instruction[], i: number, lock: bigint, regSets: RegisterSet[]): { proven: string } | { other: true } | undefined {
  const abi = abiOf(regSets[0]);
  const arg = abi.arg0;
  for (let j = i - 1; j >= Math.max(0, i - 8); j--) {
    const x = insns[j];
    if (x.writes !== arg) continue;
    if (x.value !== undefined) {
      const how = /^mov/.test(x.mnemonic) && regSets[0]?.arch !== 'arm64' ? `$0x${x.value.toString(16)} (${symbolText(q.symbolAt(lock), lock)})` : `&${symbolText(q.symbolAt(lock), lock)}`;
      return x.value === lock ? { proven: `${arg} = ${how}` } : { other: true };
    }
    const src = x.copies;
    if (src && abi.calleeSaved.has(src)) {
      const hit = regSets.find((r) => r.values[src] && BigInt(`0x${r.values[src]}`) === lock);
      return hit ? { proven: `${arg} = ${regSets[0]?.arch === 'arm64' ? src : `%${src}`}, and ${src.toUpperCase()} still holds 0x${hexOf(lock)} (callee-saved)` } : undefined;
    }
    return undefined;
  }
  return undefined;
}

/** An inlined lock fast path: an acquiring compare-and-swap on a lock word, or the release store of an inlined unlock. */
function inlineLockOp(x: Instruction): 'acquire' | 'release' | undefined {
  if (!x.memory?.base) return undefined;
  if (/^(casa|casal|ldaxr)$/.test(x.mnemonic) || (/^lock\s+cmpxchgl?\b/.test(x.text) && x.memory.size === 4)) return 'acquire';
  if (/^stlrb?$/.test(x.mnemonic) || /^movb\s+\$0x0,/.test(x.text)) return 'release';
  return undefined;
}

/**
 * The value register `reg` had at instruction `k`, proven from the code and the registers along the stack: a
 * constant the code put there, or a callee-saved register (itself, or the one copied into it) that nothing wrote
 * since, so the CPU's saved registers still hold it.
 */
function registerAt(insns: Instruction[], k: number, reg: string, regSets: RegisterSet[]): { value: bigint; how: string } | undefined {
  const abi = abiOf(regSets[0]);
  const holds = (r: string) => {
    if (!abi.calleeSaved.has(r)) return undefined;
    // Callee-saved registers survive calls; a write between here and the site would change what the stack shows.
    if (insns.slice(k + 1).some((x) => x.writes === r || x.writesAlso?.includes(r))) return undefined;
    const vals = [...new Set(regSets.map((s) => s.values[r]).filter((v): v is string => !!v))];
    return vals.length === 1 ? BigInt(`0x${vals[0]}`) : undefined;
  };
  const direct = holds(reg);
  if (direct !== undefined) return { value: direct, how: `${reg.toUpperCase()} still holds 0x${hexOf(direct)} (callee-saved)` };
  for (let j = k - 1; j >= Math.max(0, k - 8); j--) {
    const x = insns[j];
    if (x.writes !== reg) continue;
    if (x.value !== undefined) return { value: x.value, how: `${reg} = 0x${hexOf(x.value)}` };
    if (x.copies) {
      const v = holds(x.copies);
      if (v !== undefined) return { value: v, how: `${reg} = ${x.copies}, and ${x.copies.toUpperCase()} still holds 0x${hexOf(v)} (callee-saved)` };
    }
    return undefined;
  }
  return undefined;
}

/** The lock word an inlined lock operation at `k` works on, proven or not. */
function inlineLockArgument(q: KernelQueries, insns: Instruction[], k: number, lock: bigint, regSets: RegisterSet[]): { proven: string } | { other: true } | undefined {
  const m = insns[k].memory!;
  const r = registerAt(insns, k, m.base!, regSets);
  if (!r) return undefined;
  const addr = BigInt.asUintN(64, r.value + m.displacement);
  if (addr !== lock) return { other: true };
  return { proven: `${insns[k].text.split(/\s+/)[0]} on [${m.base}${m.displacement ? ` + ${m.displacement}` : ''}] = ${symbolText(q.symbolAt(lock), lock)}: ${r.how}` };
}

/** The code addresses of a CPU's stack, innermost first: the PC, then each frame's return address. */
type CodeSite = { function: string; module?: string; address: bigint; pc: boolean };

function codeSites(q: KernelQueries, v: CpuView): CodeSite[] {
  const out: CodeSite[] = [];
  // A CPU caught entering an arm64 IRQ vector has no PC of its own context (its function comes from LR).
  const rip = v.ctx?.from === 'vector-entry' ? undefined : pcHex(v.regs);
  const arm64 = v.regs?.arch === 'arm64';
  if (rip && v.pc) out.push({ function: v.pc.function, ...(v.pc.module ? { module: v.pc.module } : {}), address: BigInt(`0x${rip}`), pc: true });
  for (const f of v.frames) {
    if (f.exceptionRip && out.length && f.function === out[0].function) continue;
    const start = q.addressOf(f.module ? `${f.module}:${f.function}` : f.function) ?? q.addressOf(f.function);
    let ret = f.address ? BigInt(`0x${f.address}`) : start !== undefined && f.offset !== undefined ? start + BigInt(f.offset) : undefined;
    // arm64 frames name the call instruction (return address - 4, as crash prints them): the site is after it.
    if (ret !== undefined && f.address && arm64 && !f.exceptionRip) ret += 4n;
    if (ret !== undefined) out.push({ function: f.function, ...(f.module ? { module: f.module } : {}), address: ret, pc: !!f.exceptionRip });
  }
  return out;
}

/**
 * The callers' code of a CPU's stack, innermost first, each site with the function around it and its code up to the
 * site (when the function's bounds are known and the site is inside its first 16 KiB). Lock slow paths and lock calls
 * are passed over. `entry` marks the entry code (where a walk stops), `oops` the oops/exception path, which takes no
 * lock itself.
 */
function* callerCode(q: KernelQueries, v: CpuView): Generator<{ site: CodeSite; oops: boolean; entry: boolean; fn?: SymbolRef; code: () => Maybe<Instruction[]> | undefined }> {
  let n = 0;
  for (const site of codeSites(q, v)) {
    if (n++ > 24) break;
    if (matchesAny(site.function, SPINLOCK_SLOWPATH_FUNCTIONS) || LOCK_CALL.test(site.function)) continue;
    const oops = matchesAny(site.function, OOPS_PATH_FUNCTIONS) || /^asm_exc_|^exc_/.test(site.function);
    const entry = /^(asm_|entry_|ret_from_fork|kthread$|do_syscall_64)/.test(site.function);
    const fn = q.functionBounds(site.address);
    // Disassembled only when asked: the oops path is passed over without reading its code.
    const code = () => (fn && fn.offset !== 0 && fn.offset <= 0x4000 ? q.disassemble(fn.address, fn.offset) : undefined);
    yield { site, oops, entry, ...(fn ? { fn } : {}), code };
  }
}

/** The first caller of a spinning CPU whose code cannot be read (a pasted stack without its `dis`): whether it took a lock is unknown. */
function unreadCaller(q: KernelQueries, v: CpuView): string | undefined {
  for (const { site, entry, fn, code } of callerCode(q, v)) {
    if (site.pc) continue;
    if (entry) break;
    const insns = code();
    if (!fn || (insns && isUnknown(insns))) return site.function;
  }
  return undefined;
}

/**
 * Where this CPU's own code took `lock` and has not released it: the innermost function (the PC's, or a caller's up to
 * its return address) with a lock call whose argument is the lock. The call a frame is making right now (the lock it
 * is requesting) does not count. Without a proof, the innermost unreleased lock call of a caller is returned unproven.
 */
export function stackTook(q: KernelQueries, v: CpuView, lock: bigint): TakenBy | undefined {
  let viaOops = false;
  let fallback: TakenBy | undefined;
  for (const { site, oops, entry, fn, code } of callerCode(q, v)) {
    if (oops) {
      viaOops = true;
      continue;
    }
    if (entry) break;
    const insns = code();
    if (!fn || !insns || isUnknown(insns)) continue;
    const calls: Array<{ k: number; lock: boolean; inline?: boolean }> = [];
    for (let k = 0; k < insns.length; k++) {
      const x = insns[k];
      // A lock fast path the compiler inlined: an acquiring atomic on the lock word, or the release store of an unlock.
      const inline = inlineLockOp(x);
      if (inline) {
        calls.push({ k, lock: inline === 'acquire', inline: true });
        continue;
      }
      if (x.flow !== 'call' || x.target === undefined) continue;
      const t = q.symbolAt(x.target);
      if (!t) continue;
      if (LOCK_CALL.test(t.name)) calls.push({ k, lock: true });
      else if (UNLOCK_CALL.test(t.name)) calls.push({ k, lock: false });
    }
    // The call this frame is in right now (ending at its return address) is the request, not a hold.
    const last = insns[insns.length - 1];
    if (!site.pc && calls.length && calls[calls.length - 1].k === insns.length - 1 && calls[calls.length - 1].lock && last.flow === 'call') calls.pop();
    // An inlined fast path that failed and called the slow path: its atomic is the same request.
    else if (!site.pc && last?.flow === 'call' && last.target !== undefined && matchesAny(q.symbolAt(last.target)?.name, SPINLOCK_SLOWPATH_FUNCTIONS)) {
      const i = calls.map((c) => c.inline && c.lock).lastIndexOf(true);
      if (i >= 0) calls.splice(i, 1);
    }
    const regSets = v.regSets;
    const argOf = (u: { k: number; inline?: boolean }) => (u.inline ? inlineLockArgument(q, insns, u.k, lock, regSets) : lockArgument(q, insns, u.k, lock, regSets));
    for (let c = calls.length - 1; c >= 0; c--) {
      if (!calls[c].lock) continue;
      const arg = argOf(calls[c]);
      const released = calls.slice(c + 1).some((u) => !u.lock && (() => {
        const a = argOf(u);
        return !!a && 'proven' in a;
      })());
      if (released) continue;
      const taken: TakenBy = { frame: `${fn.name}+0x${(insns[calls[c].k].address - fn.address).toString(16)}${fn.module ? ` [${fn.module}]` : ''}`, at: insns[calls[c].k].address, viaOops, ...(arg && 'proven' in arg ? { argument: arg.proven } : {}) };
      if (taken.argument) return taken;
      if (!arg && !fallback && !calls.slice(c + 1).some((u) => !u.lock) && !site.pc) fallback = taken;
    }
  }
  return fallback;
}

const ENTRY_CODE = /^(error_entry|entry_SYSCALL_64\w*|entry_SYSRETQ\w*|asm_sysvec_\w+|asm_common_interrupt|asm_exc_page_fault|swapgs_restore_regs_and_return_to_usermode|sync_regs|native_irq_return_iret)$/;
/** In entry code on the per-CPU entry stack (cpu_entry_area): just came from, or returns to, user space. */
function onEntryStack(x: CpuContext): boolean {
  const sp = spHex(x.registers);
  const rsp = sp ? BigInt(`0x${sp}`) : 0n;
  return matchesAny(x.registers.pcSymbol?.function, [ENTRY_CODE]) && rsp >= 0xfffffe0000000000n && rsp < 0xffffff0000000000n;
}

/** The lock a spinning CPU polls: the word its loop reads, validated as a held lock. */
function lockOf(q: KernelQueries, x: CpuContext): { address: bigint; state: QSpinlockState & { rw?: { writer: boolean; readers: number } }; via: string } | undefined {
  const loop = q.spinLoop(x.registers);
  const tried = new Set<bigint>();
  const candidates: Array<{ address: bigint; via: string }> = [];
  if (!isUnknown(loop)) for (const p of loop.polls) if (p.size === 4) candidates.push({ address: p.address, via: `the spin loop reads ${p.via}` });
  for (const r of abiOf(x.registers).lockRegisters) {
    const v = x.registers.values[r];
    if (v) candidates.push({ address: BigInt(`0x${v}`), via: `${r.toUpperCase()} in the slow path` });
  }
  const rw = RWLOCK_SLOWPATH.test(x.registers.pcSymbol?.function ?? '');
  for (const c of candidates) {
    if (tried.has(c.address) || c.address < 0xffff800000000000n) continue;
    tried.add(c.address);
    if (rw) {
      const cnts = q.readU32(c.address);
      if (isUnknown(cnts)) continue;
      const writer = (cnts & 0xff) === 0xff;
      const readers = cnts >>> 9;
      if (writer || readers > 0) return { address: c.address, state: { address: c.address, value: cnts, locked: writer ? 0xff : readers, pending: (cnts & 0x100) !== 0, rw: { writer, readers } }, via: c.via };
      continue;
    }
    const st = q.qspinlock(c.address);
    if (!isUnknown(st) && st.locked !== 0) return { address: c.address, state: st, via: c.via };
  }
  return undefined;
}

function lockWords(st: QSpinlockState & { rw?: { writer: boolean; readers: number } }, hypervisor: boolean | undefined): string {
  if (st.rw) return `cnts ${st.value} (0x${st.value.toString(16)}): ${st.rw.writer ? 'write-locked' : `${st.rw.readers} reader(s) inside`}${st.pending ? ', a writer waiting' : ''}`;
  const parts = [`value ${st.value}`, `locked byte ${st.locked}`, st.pending ? 'pending set' : 'no pending'];
  parts.push(st.tailCpu !== undefined ? `queue tail CPU ${st.tailCpu} (node ${st.tailIdx})` : 'no queued waiter');
  let s = parts.join(', ');
  if (hypervisor && st.tailCpu === undefined && !st.pending) s += ' — under a hypervisor the kernel spins with test-and-set (virt_spin_lock), so waiters never queue: the word only says "locked"';
  return s;
}

export function spinlockDetector(ctx: DetectorContext): Finding[] {
  const q = ctx.c.kernel;
  if (!q) return [];
  const out: Finding[] = [];
  const views = ctx.views.cpus.filter((v) => v.from === 'dump' && v.ctx);
  const ipi = q.ipiState();
  const requests = isUnknown(ipi) ? [] : ipi.requests;
  const hypervisor = q.underHypervisor();
  const locks = new Map<number, ReturnType<typeof lockOf>>();
  const lockOfView = (v: CpuView): ReturnType<typeof lockOf> => {
    if (!locks.has(v.cpu)) locks.set(v.cpu, busyInKernel(v) && inSpinlockSlowpath(v) ? lockOf(q, v.ctx!) : undefined);
    return locks.get(v.cpu);
  };
  for (const x of views) {
    if (!busyInKernel(x) || !matchesAny(x.pc?.function, SPINLOCK_SLOWPATH_FUNCTIONS)) continue;
    const lock = lockOfView(x);
    if (!lock) continue;
    const sym = q.symbolAt(lock.address);
    const lockName = sym ? `${sym.name}${sym.offset ? `+0x${sym.offset.toString(16)}` : ''}${sym.module ? ` [${sym.module}]` : ''}` : `0x${hexOf(lock.address)}`;
    const noun = lock.state.rw ? 'rwlock' : 'spinlock';
    const cpu = x.cpu;
    const objectId = `lock:${hexOf(lock.address)}`;

    // Proven holders: a CPU whose own code took this very lock (the argument of its lock call is the lock).
    const proven: Array<{ v: CpuView; taken: TakenBy }> = [];
    for (const o of views) {
      if (!busyInKernel(o)) continue;
      const t = stackTook(q, o, lock.address);
      if (t?.argument) proven.push({ v: o, taken: t });
    }
    // Without a proof: who could be inside the critical section?
    const excluded: string[] = [];
    const candidates: CpuView[] = [];
    const ipiWaiters: CpuView[] = [];
    for (const o of views) {
      if (o.cpu === cpu) continue;
      const waitsForUs = requests.some((r) => r.from === o.cpu && r.to === cpu);
      if (o.mode === 'user') excluded.push(`${viewLabel(o)} runs in user space (a spinlock is never held across a return to user space)`);
      else if (o.idle) excluded.push(`${viewLabel(o)} is idle or parked`);
      else if (o.unknownContext) excluded.push(`${viewLabel(o)}: where it was working is not readable (its note is on the panic path)`);
      else if (onEntryStack(o.ctx!)) excluded.push(`${viewLabel(o)} is in the kernel entry code (${viewPc(o)}) on its entry stack, coming from user space`);
      else if (lockOfView(o)?.address === lock.address) excluded.push(`${viewLabel(o)} spins on the same lock`);
      else if (waitsForUs) ipiWaiters.push(o);
      else candidates.push(o);
    }
    const own = proven.length ? undefined : stackTook(q, x, lock.address);
    // Its own callers may hold it too when their code is not in the evidence: then no other CPU is "the only one".
    const ownUnread = proven.length || own ? undefined : unreadCaller(q, x);
    type Holder = { cpu: number; how: string; observed: boolean; confidence?: number };
    const holders: Holder[] = [];
    for (const p2 of proven) holders.push({ cpu: p2.v.cpu, how: `taken in ${p2.taken.frame} (${p2.taken.argument})`, observed: true });
    if (!holders.length) {
      const others = [...candidates, ...ipiWaiters];
      if (others.length === 0 && (own || !x.frames.length)) {
        // Nobody else can hold it: its own callers did (one took a lock and kept it), or — its stack unknown — nobody else is left.
        holders.push({ cpu, how: own ? `a lock taken in ${own.frame} and not released; which lock could not be proven` : 'no other CPU can hold it', observed: false, confidence: own ? 0.8 : 0.7 });
      } else if (others.length === 1 && !own && !ownUnread) {
        holders.push({ cpu: others[0].cpu, how: `the only CPU that could be inside the critical section${ipiWaiters.length ? " (it waits for this CPU's IPI)" : ''}`, observed: false, confidence: 0.6 });
      }
    }
    // Every CPU ruled out, and its own callers (known) took no lock: nothing holds the lock.
    const noHolder = !holders.length && candidates.length === 0 && ipiWaiters.length === 0 && !own && !ownUnread && x.frames.length > 0;
    const self = holders.some((h) => h.cpu === cpu);
    const irqsOff = x.irqsEnabled === false;
    const taken = proven.find((p2) => p2.v.cpu === cpu)?.taken ?? own;

    const evidence: Fact[] = [
      dumpFact(q, `${contextText(x.ctx!)}`, BigInt(`0x${pcHex(x.regs) ?? '0'}`), `CPU ${cpu} registers (${x.ctx!.from === 'nmi-frame' ? 'NMI frame' : 'note'})`),
      dumpFact(q, `${lockName} lock word: ${lockWords(lock.state, hypervisor)}`, lock.address, sym?.name ?? 'lock'),
      ...(x.frames.length ? [{ text: `CPU ${cpu} stack: ${x.frames.slice(0, 8).map((f) => frameText(f)).join(' <- ')}`, from: x.fact.from }] : []),
    ];
    for (const p2 of proven) if (p2.v.cpu !== cpu) evidence.push({ text: `CPU ${p2.v.cpu} took ${lockName} in ${p2.taken.frame}: ${p2.taken.argument}`, from: p2.v.fact.from });
    const steps: string[] = [];
    steps.push(`${viewLabel(x)} is in ${viewPc(x)} with interrupts ${irqsOff ? `disabled (${abiOf(x.regs).irqsOffFlag})` : x.irqsEnabled ? 'enabled' : 'in an unknown state'}: the spinlock slow path.`);
    steps.push(`The lock it spins on is 0x${hexOf(lock.address)}${sym ? ` = ${lockName}` : ''} (${lock.via}); its word reads ${lockWords(lock.state, hypervisor)}.`);
    if (x.frames.length) steps.push(`Its callers: ${x.frames.slice(0, 8).map((f) => frameText(f)).join(' <- ')}.`);
    steps.push('A spinlock holder never sleeps: it is a CPU whose own code took the lock and has not released it.');
    for (const p2 of proven) {
      steps.push(
        p2.v.cpu === cpu
          ? `${p2.taken.frame}, one of this CPU's own callers, took this very lock (${p2.taken.argument}) and has not released it before calling down${p2.taken.viaOops ? ' — and the fault/oops path between them asks for it again' : ''}.`
          : `${viewLabel(p2.v)} holds it: ${p2.taken.frame} on its stack took this very lock (${p2.taken.argument}) and has not released it; it is now in ${viewPc(p2.v)}.`,
      );
    }
    if (!proven.length) {
      if (excluded.length) steps.push(`CPUs that cannot be the holder: ${excluded.join('; ')}.`);
      if (ipiWaiters.length) steps.push(`CPUs that wait for this CPU to answer their IPI and could hold the lock (lock against IPI): ${ipiWaiters.map(viewLabel).join(', ')}.`);
      if (candidates.length) steps.push(`CPUs that could hold it: ${candidates.map((o) => `${viewLabel(o)} at ${viewPc(o)}`).join('; ')}.`);
      if (own) steps.push(`${own.frame}, one of this CPU's own callers, took a spinlock before calling down and had not unlocked it${own.viaOops ? ' (the oops path between them asks for a lock again)' : ''}; which lock it passed could not be proven from the registers.`);
      if (noHolder) steps.push('No CPU can be holding it and none of this CPU\'s callers took a lock: the lock word says "locked" with no holder — a lost unlock or a corrupted lock word.');
    }
    if (self) steps.push('So the holder is this CPU itself: a non-recursive spinlock taken twice on one CPU never becomes free (AA deadlock).');
    if (irqsOff) steps.push('With interrupts off it answers no IPI and runs no timer: every CPU that needs it (TLB flushes, smp_call_function) waits forever behind it.');
    const dumped = dumpTakenStep(q);
    if (dumped) steps.push(dumped);

    ctx.object({
      id: objectId,
      kind: 'spinlock',
      ...(sym ? { symbol: sym.name } : {}),
      address: hexOf(lock.address),
      observed: {
        value: lock.state.value,
        locked: lock.state.locked !== 0,
        pending: lock.state.pending,
        ...(lock.state.tailCpu !== undefined ? { tailCpu: lock.state.tailCpu } : {}),
        ...(sym?.module ? { module: sym.module } : {}),
        ...(sym && sym.offset ? { offsetInSymbol: sym.offset } : {}),
        ...(holders.length === 1 ? { heldBy: `CPU ${holders[0].cpu}` } : {}),
        ...(noHolder ? { noHolder: true } : {}),
      },
      facts: [evidence[1]],
    });
    const kind = self ? 'spinlock-self-deadlock' : 'irqs-off-spin';
    const caller = x.frames.find((f) => !matchesAny(f.function, SPINLOCK_SLOWPATH_FUNCTIONS) && !LOCK_CALL.test(f.function));
    const holderText = holders.length
      ? `, held by ${holders.map((h) => (h.cpu === cpu ? 'itself' : viewLabel(views.find((v) => v.cpu === h.cpu) ?? { cpu: h.cpu }))).join(', ')}${holders[0].observed && holders[0].cpu !== cpu ? ` (${holders[0].how})` : ''}`
      : noHolder
        ? '; no CPU holds it'
        : `; holder among ${[...[...ipiWaiters, ...candidates].map((o) => `CPU ${o.cpu}`), ...(ownUnread ? [`itself (the code of ${ownUnread}, which may have taken it, is not in the evidence)`] : [])].join(', ') || 'CPUs the dump could not read'}`;
    const summary = self
      ? `CPU ${cpu}${x.task ? ` (${x.task.comm}:${x.task.pid})` : ''} spins forever${irqsOff ? ' with IRQs off' : ''} on ${noun} ${sym ? `${lockName} (0x${hexOf(lock.address)})` : lockName}${caller ? ` in ${frameText({ ...caller, size: undefined })}` : ''} that it already holds${taken ? ` (taken in ${taken.frame})` : ''}: a self-deadlock`
      : `CPU ${cpu}${x.task ? ` (${x.task.comm}:${x.task.pid})` : ''} spins${irqsOff ? ' with IRQs off' : ''} on ${noun} ${sym ? `${lockName} (0x${hexOf(lock.address)})` : lockName}${caller ? ` in ${frameText({ ...caller, size: undefined })}` : ''}${holderText}`;
    const f = finding(ctx, kind, 'root', summary, {
      confidence: self ? (taken?.argument ? 0.9 : 0.8) : holders.length ? 0.85 : 0.6,
      subjects: [{ kind: 'cpu', cpu }, { kind: 'object', id: objectId }],
      evidence,
      steps,
      confirm: [
        `crash> bt -f -c ${cpu}`,
        `crash> p ${sym && sym.offset === 0 ? sym.name : `*(unsigned int *)0x${hexOf(lock.address)}`}`,
        ...(taken ? [`crash> dis -l ${taken.frame.split(' ')[0].replace(/\+0x[0-9a-f]+$/, '')}   # the lock call at ${hexOf(taken.at)}`] : []),
        ...holders.filter((h) => h.cpu !== cpu).map((h) => `crash> bt -f -c ${h.cpu}   # the holder`),
        'crash> bt -a   # who else is inside the critical section',
      ],
      extra: {
        cpu,
        lockAddress: hexOf(lock.address),
        lock: lockName,
        ...(sym ? { symbol: sym.name } : {}),
        lockValue: lock.state.value,
        function: x.pc?.function ?? '',
        ...(caller ? { caller: caller.function } : {}),
        ...(taken ? { takenIn: taken.frame } : {}),
        ...(holders.length ? { holders: holders.map((h) => h.cpu) } : {}),
        ...(!holders.length && (candidates.length || ipiWaiters.length) ? { possibleHolders: [...ipiWaiters, ...candidates].map((o) => o.cpu) } : {}),
      },
      // The spin is the end of its chain when the holder is unknown; with a holder (or none possible) the graph goes on.
      nodes: holders.length || noHolder ? [cpuNode(cpu)] : [cpuNode(cpu), objectId],
    });
    ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}: ${viewPc(x)}`, f.id);
    ctx.node(objectId, 'lock', `${noun} ${lockName}`, f.id);
    ctx.edge(cpuNode(cpu), objectId, 'spins-on', f.id, irqsOff ? 'IRQs off' : undefined);
    for (const h of holders) ctx.edge(objectId, cpuNode(h.cpu), 'held-by', f.id, h.observed ? h.how.replace(/ \(.*$/, '') : h.how, h.observed ? undefined : { observed: false, confidence: h.confidence });
    out.push(f);
  }
  return out;
}

export type { SymbolRef };
