/**
 * A CPU spinning on a lock (or another spin loop) with interrupts disabled: it answers no IPI and
 * runs no timer. If the code it interrupted had the lock's address in its registers, the CPU
 * probably took the lock itself before it faulted: a self-deadlock.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { frameText , pcHex } from '../model/trace.ts';
import { cpuNode, eventFact, finding, lineFact, type DetectorContext } from './context.ts';
import { callChain, hex, inOopsPath, kernelRegisters, spinSite } from './stacks.ts';

export function irqsOffSpinDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  // CPUs seen only in the log (a dump's view of a CPU is the spinlock detector's: it reads the lock itself).
  for (const v of ctx.views.cpus) {
    if (v.from !== 'log' || !v.event || v.idle) continue;
    const cpu = v.cpu;
    const e = v.event;
    const spin = spinSite(e);
    if (!spin) {
      const caught = caughtWithIrqsOff(ctx, e);
      if (caught) out.push(caught);
      continue;
    }
    const regs = kernelRegisters(e)[0];
    const irqsOff = regs?.irqsEnabled === false;
    if (!irqsOff && e.kind !== 'hard-lockup') continue;
    const chain = callChain(e);
    const lock = spin.lockAddress;
    const lockAddr = hex(lock);
    const lockId = lockAddr !== undefined && lockAddr > 0xffff800000000000n ? `lock:${lockAddr.toString(16)}` : undefined;
    const evidence = [eventFact(e, `${e.title}: ${chain.slice(0, 6).join(' <- ')}`)];
    if (regs?.line) evidence.push(lineFact(e, regs.line, `EFLAGS/PSTATE ${regs.values.eflags ?? regs.values.pstate ?? '?'}: interrupts ${irqsOff ? 'disabled' : 'unknown'}`));
    const steps = [
      `CPU ${cpu}${e.task ? ` (${e.task.comm}:${e.task.pid})` : ''} is in ${spin.function}${spin.caller ? `, called from ${frameText(spin.caller)}` : ''}.`,
      irqsOff
        ? `Its saved flags have IF clear: interrupts are disabled, so it cannot take IPIs or timer interrupts while it spins.`
        : 'A hard-lockup report means it ran with interrupts disabled past the watchdog threshold.',
    ];
    if (lock) steps.push(`The lock pointer in the first-argument register is ${lock}.`);

    // Self-deadlock evidence: the context interrupted by the fault had the lock's address (or its object) in a register.
    let selfHeld = false;
    const inOops = inOopsPath(chain);
    if (lock && inOops) {
      const lockVal = hex(lock)!;
      const interrupted = kernelRegisters(e).slice(1);
      for (const r of interrupted) {
        const hit = Object.entries(r.values).find(([name, v]) => {
          const x = hex(v);
          return name !== 'rip' && name !== 'pc' && x !== undefined && x !== 0n && lockVal >= x && lockVal - x < 0x100n;
        });
        if (hit) {
          selfHeld = true;
          steps.push(
            `The code the fault interrupted (${r.pcSymbol ? frameText(r.pcSymbol) : 'the faulting function'}) had ${hit[0].toUpperCase()}=${hit[1]} — the object holding the lock: this CPU was working under that lock when it faulted, and the oops path asked for it again.`,
          );
          evidence.push(lineFact(e, r.line, `interrupted context ${hit[0].toUpperCase()}=${hit[1]} (lock ${lock})`));
          break;
        }
      }
    }
    const role = 'root';
    if (selfHeld) {
      const f = finding(ctx, 'spinlock-self-deadlock', role, `CPU ${cpu} spins forever on spinlock ${lock} with IRQs off in its own oops path: the lock is most likely held by the same CPU (taken before the fault)`, {
        confidence: 0.75,
        subjects: [{ kind: 'cpu', cpu }, { kind: 'event', id: e.id }],
        evidence,
        steps: [...steps, 'A non-recursive spinlock taken twice on one CPU never becomes free: an AA deadlock.'],
        confirm: [`crash> bt -f -c ${cpu}`, `crash> rd ${lock} 1   # locked byte set, no tail`, 'crash> bt -a   # no other CPU inside the lock'],
        extra: { cpu, lockAddress: lock ?? '', function: spin.function },
        nodes: [cpuNode(cpu), lockId ?? `lock:cpu${cpu}`],
      });
      const id = lockId ?? `lock:cpu${cpu}`;
      ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
      ctx.node(id, 'lock', `spinlock ${lock}`, f.id);
      ctx.edge(cpuNode(cpu), id, 'spins-on', f.id, 'IRQs off');
      ctx.edge(id, cpuNode(cpu), 'held-by', f.id, 'taken before the fault', { observed: false, confidence: 0.8 });
      out.push(f);
      continue;
    }
    steps.push(
      'Who holds the lock is not in the log. A spinlock holder cannot sleep, so it is either running on another CPU (look for one inside a critical section), this CPU itself (recursion), or a CPU that waits for this one (ABBA with an IPI).',
    );
    const f = finding(ctx, 'irqs-off-spin', role, `CPU ${cpu} spins with interrupts disabled in ${spin.function}${spin.caller ? ` (from ${frameText(spin.caller)})` : ''}${lock ? ` on lock ${lock}` : ''}`, {
      confidence: 0.7,
      subjects: [{ kind: 'cpu', cpu }, { kind: 'event', id: e.id }],
      evidence,
      steps,
      confirm: [`crash> bt -f -c ${cpu}`, ...(lock ? [`crash> rd ${lock} 1`, `crash> search -k ${lock}   # who else references the lock`] : []), 'crash> bt -a'],
      extra: { cpu, function: spin.function, ...(lock ? { lockAddress: lock } : {}) },
      nodes: [cpuNode(cpu), lockId ?? `lock:spin@cpu${cpu}`],
    });
    ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
    // Without the lock's address, the lock is known only as "what CPU n spins on": a dump's concrete lock replaces it.
    ctx.node(lockId ?? `lock:spin@cpu${cpu}`, 'lock', lockId ? `spinlock ${lock}` : `the spinlock CPU ${cpu} spins on`, f.id, !lockId);
    ctx.edge(cpuNode(cpu), lockId ?? `lock:spin@cpu${cpu}`, 'spins-on', f.id, irqsOff ? 'IRQs off' : undefined);
    out.push(f);
  }
  return out;
}

/**
 * No known spin function, but an NMI (a hard-lockup report, an operator NMI that panicked, the NMI
 * backtrace of a CPU an RCU stall named) caught the CPU in kernel code with interrupts disabled,
 * outside the idle loop: it was stuck there. A lead, not a proof (the dump shows the loop).
 */
function caughtWithIrqsOff(ctx: DetectorContext, e: LogEvent): Finding | undefined {
  const cpu = e.cpu!;
  const stalledByRcu = ctx.c.events.some((x) => x.kind === 'rcu-stall' && (x.details.stalledCpus ?? []).includes(cpu));
  const nmiPanic = e.kind === 'panic' && /NMI|LOCKUP/i.test(e.details.panicReason ?? e.title);
  const relevant = e.kind === 'hard-lockup' || nmiPanic || (e.kind === 'nmi-backtrace' && stalledByRcu);
  if (!relevant) return undefined;
  const regs = kernelRegisters(e)[0];
  if (!regs || regs.irqsEnabled !== false || !regs.pcSymbol) return undefined;
  const chain = callChain(e);
  if (inOopsPath(chain.slice(0, 3))) return undefined;
  const fn = frameText(regs.pcSymbol);
  // The interrupted context's callers: frames off the NMI stack, below the PC's own function.
  const below = e.trace
    .filter((f) => f.reliable && f.stack !== 'nmi' && f.function !== regs.pcSymbol!.function)
    .map((f) => f.function)
    .slice(0, 3);
  const f = finding(ctx, 'irqs-off-spin', 'root', `CPU ${cpu} was caught by an NMI in ${fn}${below.length ? ` (${below.join(' <- ')})` : ''} with interrupts disabled: it was stuck there`, {
    confidence: 0.5,
    subjects: [{ kind: 'cpu', cpu }, { kind: 'event', id: e.id }],
    evidence: [eventFact(e, `${e.title}: interrupted context ${fn} <- ${below.join(' <- ')}`), lineFact(e, regs.line, `EFLAGS ${regs.values.eflags ?? regs.values.pstate ?? '?'}: interrupts disabled`)],
    steps: [
      `${e.kind === 'nmi-backtrace' ? 'An NMI backtrace' : e.kind === 'hard-lockup' ? 'The hard-lockup NMI' : 'The NMI that panicked the machine'} interrupted CPU ${cpu} in ${fn}.`,
      'Its saved flags have IF clear: interrupts were disabled, so no timer or IPI could run on that CPU.',
      `${fn} is not the idle loop: a CPU found there with interrupts off when the machine is hung is most likely spinning in a loop inside it (a lock or a sequence count it polls).`,
      'Disassemble the function around the RIP to find the loop and the address it polls; read that address in the dump.',
    ],
    confirm: [`crash> dis -r ${pcHex(regs) ?? '<PC>'}`, `crash> bt -c ${cpu}`, 'crash> bt -a   # are the other CPUs in the same loop?'],
    extra: { cpu, function: regs.pcSymbol.function },
    nodes: [cpuNode(cpu)],
  });
  ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
  return f;
}
