/**
 * A CPU spinning on a spinlock, from the dump (cases/softlockup-tlb-ipi.md): the lock address comes
 * from the loop the CPU polls (its registers + the slow path's code), the lock word from memory.
 * Who holds it: a spinlock holder runs (it cannot sleep), so it is a CPU inside a critical section.
 * If no other CPU can be holding it (user space, idle, waiting on the same lock, or waiting for this
 * CPU's IPI) and one of this CPU's own callers took the lock before calling down, the CPU waits for
 * itself: an AA self-deadlock — the root. Otherwise the spin (IRQs off) is the lead, holder named
 * among the candidates.
 */
import type { Finding } from '../model/finding.ts';
import { isUnknown, symbolText, type CpuContext, type Instruction, type KernelQueries, type QSpinlockState, type SymbolRef } from '../model/queries.ts';
import type { Fact } from '../model/provenance.ts';
import type { Frame, RegisterSet } from '../model/trace.ts';
import { frameText } from '../model/trace.ts';
import { cpuNode, eventFact, finding, type DetectorContext } from './context.ts';
import { addObject, contextText, cpuLabel, dumpFact, dumpTakenStep, hexOf, isIdleContext, pcText, working } from './dump-facts.ts';
import { latestStackEvents } from './irqs-off-spin.ts';
import { matchesAny, OOPS_PATH_FUNCTIONS, SPINLOCK_SLOWPATH_FUNCTIONS } from './known/frames.ts';
import { kernelRegisters } from './stacks.ts';

const LOCK_CALL = /^(_raw_spin_lock(_irqsave|_irq|_bh|_nested)?|_spin_lock(_irqsave|_irq|_bh)?|do_raw_spin_lock|queued_spin_lock|__raw_spin_lock)$/;
const UNLOCK_CALL = /^(_raw_spin_unlock(_irqrestore|_irq|_bh)?|_spin_unlock(_irqrestore|_irq|_bh)?|do_raw_spin_unlock|__raw_spin_unlock)$/;
const CALLEE_SAVED = new Set(['rbx', 'rbp', 'r12', 'r13', 'r14', 'r15']);

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

/** Frames of this CPU's stack, innermost first: the dump's own unwind when there is one, else the latest log backtrace. */
function stackOf(ctx: DetectorContext, x: CpuContext): { frames: Frame[]; regs: RegisterSet[]; facts: Fact[] } {
  const cpu = x.cpu;
  const st = ctx.c.cpus.find((c) => c.cpu === cpu);
  if (st?.stack?.length && st.stackFrom?.kind === 'dump') {
    // A kdump NMI (or the panic path) sits on top of the interrupted context: start where the CPU really was.
    const at = st.stack.findIndex((f) => f.exceptionRip && f.function === x.registers.pcSymbol?.function);
    const frames = at > 0 ? st.stack.slice(at) : st.stack.filter((f) => f.stack !== 'nmi');
    return { frames, regs: st.registers ? [st.registers] : [], facts: [{ text: `CPU ${cpu} stack (dump)`, from: st.stackFrom }] };
  }
  // A log backtrace of this CPU stopped at the same PC describes the same spin (it never moved since).
  const e = latestStackEvents(ctx.c.events).get(cpu);
  const pc = e ? kernelRegisters(e)[0]?.pcSymbol : undefined;
  if (!e || !pc || pc.function !== x.registers.pcSymbol?.function || (pc.offset !== undefined && pc.offset !== x.registers.pcSymbol?.offset)) return { frames: [], regs: [], facts: [] };
  return { frames: e.trace.filter((f) => f.reliable), regs: kernelRegisters(e), facts: [eventFact(e, `${e.title}: ${e.trace.filter((f) => f.reliable).slice(0, 6).map((f) => frameText(f)).join(' <- ')}`)] };
}

/** The lock argument of the call at index `i`: what was loaded into RDI just before. */
function lockArgument(q: KernelQueries, insns: Instruction[], i: number, lock: bigint, regSets: RegisterSet[]): string | undefined {
  for (let j = i - 1; j >= Math.max(0, i - 8); j--) {
    const x = insns[j];
    if (x.writes !== 'rdi') continue;
    const imm = /^mov[q]?\s+\$0x([0-9a-f]+),%rdi$/.exec(x.text);
    if (imm) return BigInt(`0x${imm[1]}`) === lock ? `rdi = $0x${imm[1]} (${symbolText(q.symbolAt(lock), lock)})` : undefined;
    if (x.mnemonic === 'lea' && x.memory?.ripRelative !== undefined) return x.memory.ripRelative === lock ? `rdi = &${symbolText(q.symbolAt(lock), lock)}` : undefined;
    const reg = /^mov[q]?\s+%(\w+),%rdi$/.exec(x.text);
    if (reg && CALLEE_SAVED.has(reg[1])) {
      const hit = regSets.find((r) => r.values[reg[1]] && BigInt(`0x${r.values[reg[1]]}`) === lock);
      return hit ? `rdi = %${reg[1]}, and ${reg[1].toUpperCase()} still holds 0x${hexOf(lock)} (callee-saved)` : undefined;
    }
    return undefined;
  }
  return undefined;
}

/** The innermost caller below the lock request that called a spin_lock function before its return address and had not unlocked since. */
export function ownCallerTook(q: KernelQueries, frames: Frame[], lock: bigint, regSets: RegisterSet[]): TakenBy | undefined {
  // Skip the slow path and the lock function itself, then the function that asked for the lock.
  let i = 0;
  while (i < frames.length && (matchesAny(frames[i].function, SPINLOCK_SLOWPATH_FUNCTIONS) || LOCK_CALL.test(frames[i].function))) i++;
  i++; // the requester
  let viaOops = false;
  let fallback: TakenBy | undefined;
  for (let n = 0; i < frames.length && n < 16; i++, n++) {
    const f = frames[i];
    if (matchesAny(f.function, OOPS_PATH_FUNCTIONS) || /^asm_exc_|^exc_/.test(f.function)) {
      viaOops = true;
      continue;
    }
    if (/^(asm_|entry_|ret_from_fork|kthread$|do_syscall_64)/.test(f.function)) break;
    const start = q.addressOf(f.module ? `${f.module}:${f.function}` : f.function) ?? q.addressOf(f.function);
    const ret = f.address ? BigInt(`0x${f.address}`) : start !== undefined && f.offset !== undefined ? start + BigInt(f.offset) : undefined;
    if (ret === undefined) continue;
    const fn = q.functionBounds(ret);
    if (!fn || fn.offset === 0 || fn.offset > 0x4000) continue;
    const insns = q.disassemble(fn.address, fn.offset);
    if (isUnknown(insns)) continue;
    let lastLock = -1;
    for (let k = 0; k < insns.length; k++) {
      const x = insns[k];
      if (x.flow !== 'call' || x.target === undefined) continue;
      const t = q.symbolAt(x.target);
      if (!t) continue;
      if (LOCK_CALL.test(t.name)) lastLock = k;
      else if (UNLOCK_CALL.test(t.name)) lastLock = -1;
    }
    if (lastLock < 0) continue;
    const argument = lockArgument(q, insns, lastLock, lock, regSets);
    const taken: TakenBy = { frame: `${fn.name}+0x${(insns[lastLock].address - fn.address).toString(16)}${fn.module ? ` [${fn.module}]` : ''}`, at: insns[lastLock].address, viaOops, ...(argument ? { argument } : {}) };
    if (argument) return taken;
    fallback ??= taken;
  }
  return fallback;
}

const ENTRY_CODE = /^(error_entry|entry_SYSCALL_64\w*|entry_SYSRETQ\w*|asm_sysvec_\w+|asm_common_interrupt|asm_exc_page_fault|swapgs_restore_regs_and_return_to_usermode|sync_regs|native_irq_return_iret)$/;
/** In entry code on the per-CPU entry stack (cpu_entry_area): just came from, or returns to, user space. */
function onEntryStack(x: CpuContext): boolean {
  const rsp = x.registers.values.rsp ? BigInt(`0x${x.registers.values.rsp}`) : 0n;
  return matchesAny(x.registers.pcSymbol?.function, [ENTRY_CODE]) && rsp >= 0xfffffe0000000000n && rsp < 0xffffff0000000000n;
}

/** The lock a spinning CPU polls: the word its loop reads, validated as a held lock. */
function lockOf(q: KernelQueries, x: CpuContext): { address: bigint; state: QSpinlockState; via: string } | undefined {
  const loop = q.spinLoop(x.registers);
  const tried = new Set<bigint>();
  const candidates: Array<{ address: bigint; via: string }> = [];
  if (!isUnknown(loop)) for (const p of loop.polls) if (p.size === 4) candidates.push({ address: p.address, via: `the spin loop reads ${p.via}` });
  for (const r of ['rdi', 'rbx']) {
    const v = x.registers.values[r];
    if (v) candidates.push({ address: BigInt(`0x${v}`), via: `${r.toUpperCase()} in the slow path` });
  }
  for (const c of candidates) {
    if (tried.has(c.address) || c.address < 0xffff800000000000n) continue;
    tried.add(c.address);
    const st = q.qspinlock(c.address);
    if (!isUnknown(st) && st.locked !== 0) return { address: c.address, state: st, via: c.via };
  }
  return undefined;
}

function lockWords(st: QSpinlockState, hypervisor: boolean | undefined): string {
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
  const contexts = q.cpuContexts();
  const ipi = q.ipiState();
  const requests = isUnknown(ipi) ? [] : ipi.requests;
  const hypervisor = q.underHypervisor();
  for (const x of contexts) {
    if (!working(x) || x.registers.mode === 'user') continue;
    const fn = x.registers.pcSymbol?.function;
    if (!fn || !matchesAny(fn, SPINLOCK_SLOWPATH_FUNCTIONS)) continue;
    const lock = lockOf(q, x);
    if (!lock) continue;
    const sym = q.symbolAt(lock.address);
    const lockName = sym ? `${sym.name}${sym.offset ? `+0x${sym.offset.toString(16)}` : ''}${sym.module ? ` [${sym.module}]` : ''}` : `0x${hexOf(lock.address)}`;
    const cpu = x.cpu;

    // Which other CPU could be inside the critical section?
    const excluded: string[] = [];
    const candidates: CpuContext[] = [];
    for (const o of contexts) {
      if (o.cpu === cpu) continue;
      const waitsForUs = requests.some((r) => r.from === o.cpu && r.to === cpu);
      if (waitsForUs) excluded.push(`${cpuLabel(o)} waits for CPU ${cpu} to answer its IPI (a holder waiting for us would be an ABBA deadlock; its lock, if any, is not in its registers)`);
      else if (o.registers.mode === 'user') excluded.push(`${cpuLabel(o)} runs in user space (a spinlock is never held across a return to user space)`);
      else if (isIdleContext(ctx.c, o)) excluded.push(`${cpuLabel(o)} is idle or parked`);
      else if (onEntryStack(o)) excluded.push(`${cpuLabel(o)} is in the kernel entry code (${pcText(o.registers)}) on its entry stack, coming from user space`);
      else if (working(o) && lockOf(q, o)?.address === lock.address) excluded.push(`${cpuLabel(o)} spins on the same lock`);
      else candidates.push(o);
    }
    const stack = stackOf(ctx, x);
    const regSets = [x.registers, ...stack.regs];
    const taken = stack.frames.length ? ownCallerTook(q, stack.frames, lock.address, regSets) : undefined;
    // A caller of this CPU proven to hold this very lock settles it: a spinlock has one holder.
    const self = candidates.length === 0 || taken?.argument !== undefined;
    const irqsOff = x.registers.irqsEnabled === false;

    const evidence: Fact[] = [
      dumpFact(q, `${contextText(x)}`, BigInt(`0x${x.registers.values.rip}`), `CPU ${cpu} registers (${x.from === 'nmi-frame' ? 'NMI frame' : 'note'})`),
      dumpFact(q, `${lockName} lock word: ${lockWords(lock.state, hypervisor)}`, lock.address, sym?.name ?? 'lock'),
      ...stack.facts,
    ];
    const steps: string[] = [];
    steps.push(`${cpuLabel(x)} is in ${pcText(x.registers)} with interrupts ${irqsOff ? 'disabled (RFLAGS.IF clear)' : x.registers.irqsEnabled ? 'enabled' : 'in an unknown state'}: the spinlock slow path.`);
    steps.push(`The lock it spins on is 0x${hexOf(lock.address)}${sym ? ` = ${lockName}` : ''} (${lock.via}); its word reads ${lockWords(lock.state, hypervisor)}.`);
    if (stack.frames.length) steps.push(`Its callers: ${stack.frames.slice(0, 8).map((f) => frameText(f)).join(' <- ')}.`);
    steps.push('A spinlock holder never sleeps: it is a CPU running inside the critical section.');
    if (excluded.length) steps.push(`No other CPU can be that holder: ${excluded.join('; ')}.`);
    if (candidates.length) steps.push(`CPUs that could hold it: ${candidates.map(contextText).join('; ')}.`);
    if (taken) {
      steps.push(
        taken.argument
          ? `${taken.frame}, one of this CPU's own callers, took this very lock (${taken.argument}) and has not released it before calling down${taken.viaOops ? ' — and the fault/oops path between them asks for it again' : ''}.`
          : `${taken.frame}, one of this CPU's own callers, took a spinlock before calling down and had not unlocked it${taken.viaOops ? ' (the oops path between them asks for a lock again)' : ''}; which lock it passed could not be proven from the registers.`,
      );
    }
    if (self) steps.push('So the holder is this CPU itself: a non-recursive spinlock taken twice on one CPU never becomes free (AA deadlock).');
    if (irqsOff) steps.push('With interrupts off it answers no IPI and runs no timer: every CPU that needs it (TLB flushes, smp_call_function) waits forever behind it.');
    const dumped = dumpTakenStep(q);
    if (dumped) steps.push(dumped);

    const objectId = `lock:${hexOf(lock.address)}`;
    addObject(ctx.c, {
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
        ...(self ? { heldBy: `CPU ${cpu}` } : {}),
      },
      facts: [evidence[1]],
    });
    const kind = self ? 'spinlock-self-deadlock' : 'irqs-off-spin';
    const caller = stack.frames.find((f) => !matchesAny(f.function, SPINLOCK_SLOWPATH_FUNCTIONS) && !LOCK_CALL.test(f.function));
    const summary = self
      ? `CPU ${cpu}${x.task ? ` (${x.task.comm}:${x.task.pid})` : ''} spins forever${irqsOff ? ' with IRQs off' : ''} on spinlock ${lockName} (0x${hexOf(lock.address)})${caller ? ` in ${frameText({ ...caller, size: undefined })}` : ''} that it already holds${taken ? ` (taken in ${taken.frame})` : ''}: a self-deadlock`
      : `CPU ${cpu}${x.task ? ` (${x.task.comm}:${x.task.pid})` : ''} spins${irqsOff ? ' with IRQs off' : ''} on spinlock ${lockName} (0x${hexOf(lock.address)})${caller ? ` in ${frameText({ ...caller, size: undefined })}` : ''}; holder among ${candidates.map((o) => `CPU ${o.cpu}`).join(', ')}`;
    const f = finding(ctx, kind, 'root', summary, {
      confidence: self ? (taken?.argument ? 0.9 : taken ? 0.85 : 0.75) : 0.6,
      subjects: [{ kind: 'cpu', cpu }, { kind: 'object', id: objectId }],
      evidence,
      steps,
      confirm: [
        `crash> bt -f -c ${cpu}`,
        `crash> p ${sym && sym.offset === 0 ? sym.name : `*(unsigned int *)0x${hexOf(lock.address)}`}`,
        ...(taken ? [`crash> dis -l ${taken.frame.split(' ')[0].replace(/\+0x[0-9a-f]+$/, '')}   # the lock call at ${hexOf(taken.at)}`] : []),
        'crash> bt -a   # no other CPU inside the critical section',
      ],
      extra: {
        cpu,
        lockAddress: hexOf(lock.address),
        lock: lockName,
        ...(sym ? { symbol: sym.name } : {}),
        lockValue: lock.state.value,
        function: fn,
        ...(caller ? { caller: caller.function } : {}),
        ...(taken ? { takenIn: taken.frame } : {}),
        ...(candidates.length ? { possibleHolders: candidates.map((o) => o.cpu) } : {}),
      },
    });
    ctx.graph.node(cpuNode(cpu), 'cpu', `CPU ${cpu}: ${pcText(x.registers)}`, f.id);
    ctx.graph.node(objectId, 'lock', `spinlock ${lockName}`, f.id);
    ctx.graph.edge(cpuNode(cpu), objectId, 'spins-on', f.id);
    if (self) ctx.graph.edge(objectId, cpuNode(cpu), 'held-by', f.id, taken ? `taken in ${taken.frame}` : 'no other CPU can hold it');
    out.push(f);
  }
  return out;
}

export type { SymbolRef };
