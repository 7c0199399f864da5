/**
 * CPUs seen in the log stuck in one loop: several CPUs whose lockup or NMI-backtrace stacks stop in the same function
 * are caught in one shared loop (a lock or a seqcount): the loop is the subject, not each CPU. One CPU whose `Code:`
 * bytes disassemble to a sequence-count read loop (load a global, test bit 0, branch back) waits on that count.
 * (CPUs a dump shows are the seqcount and spinlock detectors': they read the polled word itself.)
 */
import type { Finding } from '../model/finding.ts';
import type { LogEvent } from '../model/event.ts';
import { cpuNode, eventFact, finding, lineFact, pastedOnly, type DetectorContext } from './context.ts';
import { busyInKernel, inSpinlockSlowpath, waitsForIpi, type CpuView } from './cpu-view.ts';
import { kernelRegisters, pcFunction } from './stacks.ts';
import { isUnknown } from '../model/queries.ts';
import { abiOf } from '../model/abi.ts';
import { pcHex } from '../model/trace.ts';

export function sameSpinDetector(ctx: DetectorContext): Finding[] {
  const byFn = new Map<string, CpuView[]>();
  // CPUs pasted from crash's `bt -a` (dump-like views, with no vmcore behind them) count when the text lacks the
  // code or the memory that would let the seqcount and spinlock detectors read the loop itself.
  const q = ctx.c.kernel;
  const pasted = !!q && pastedOnly(ctx.c);
  const unreadLoop = (v: CpuView) => pasted && v.from === 'dump' && !!v.regs && isUnknown(q!.spinLoop(v.regs));
  for (const v of ctx.views.cpus) {
    if (!busyInKernel(v) || waitsForIpi(v)) continue;
    const slow = inSpinlockSlowpath(v);
    // Pasted CPUs in a spinlock slow path whose lock word the text lacks: grouped by the lock argument (RDI).
    if (slow && !(unreadLoop(v) && v.regs?.values.rdi)) continue;
    if (!slow && !(v.from === 'log' && v.event && kernelRegisters(v.event)[0]) && !unreadLoop(v)) continue;
    const key = slow ? `${v.pc!.function}@${v.regs!.values.rdi}` : v.pc!.function;
    byFn.set(key, [...(byFn.get(key) ?? []), v]);
  }
  const out: Finding[] = [];
  for (const [key, vs] of byFn) {
    const fn = key.replace(/@.*$/, '');
    const cpus = vs.map((v) => v.cpu);
    if (vs.some((v) => !v.event)) {
      if (cpus.length >= 2) out.push(pastedSameSpin(ctx, fn, vs));
      continue;
    }
    const events = vs.map((v) => v.event!);
    const loop = events.map((e) => e.details.codeLoop).find((l) => l);
    const seqRead = !!loop && loop.readsGlobal && loop.testsBit0;
    if (cpus.length < 2 && !loop?.testsBit0) continue;
    if (cpus.length < 2) {
      out.push(seqRead ? seqcountLoop(ctx, vs[0], fn, loop!) : wordLoop(ctx, vs[0], fn, loop!));
      continue;
    }
    const offsets = new Set(events.map((e) => kernelRegisters(e)[0]?.pcSymbol?.offset));
    const irqsOff = events.filter((e) => kernelRegisters(e)[0]?.irqsEnabled === false).length;
    const objectId = `loop:${fn}`;
    const f = finding(ctx, 'same-spin', 'root', `${cpus.length} CPUs (${cpus.join(', ')}) are stuck in the same place, ${fn}${offsets.size === 1 && [...offsets][0] !== undefined ? `+0x${[...offsets][0]!.toString(16)}` : ''}: one shared loop (a lock or a seqcount) is the subject, not each CPU`, {
      confidence: 0.6,
      subjects: [...cpus.map((cpu) => ({ kind: 'cpu' as const, cpu })), { kind: 'object', id: objectId }],
      evidence: events.map((e) => eventFact(e, `CPU ${e.cpu}: RIP ${pcFunction(e)!.function}`)),
      steps: [
        `CPUs ${cpus.join(', ')} report their PC in ${fn}${offsets.size === 1 ? ' at the same offset' : ''}.`,
        irqsOff ? `${irqsOff} of them run with interrupts disabled.` : 'Their interrupt state is not in the log.',
        'Many CPUs spinning in one function at once points at one object they all poll (a lock word or a sequence count) that never changes.',
        `Disassemble ${fn} around the RIP to find the loop and the address it polls, then read that address in the dump.`,
      ],
      extra: { function: fn, cpus },
      nodes: [objectId],
    });
    spinGraph(ctx, objectId, `loop in ${fn}`, cpus, f.id);
    out.push(f);
  }
  return out;
}

/** CPUs of a pasted `bt -a` stopped in one function, whose loop the text cannot show: the facts to paste are named. */
function pastedSameSpin(ctx: DetectorContext, fn: string, vs: CpuView[]): Finding {
  const cpus = vs.map((v) => v.cpu);
  const lock = inSpinlockSlowpath(vs[0]) ? vs[0].regs?.values.rdi : undefined;
  const offsets = new Set(vs.map((v) => v.pc?.offset));
  const irqsOff = vs.filter((v) => v.irqsEnabled === false).map((v) => v.cpu);
  const rip = pcHex(vs[0].regs);
  const missing = rip ? ctx.c.kernel!.spinLoop(vs[0].regs!) : undefined;
  const objectId = lock ? `lock:${lock}` : `loop:${fn}`;
  const at = offsets.size === 1 && [...offsets][0] !== undefined ? `+${[...offsets][0]}` : '';
  const callers = [...new Set(vs.map((v) => v.chain.find((n) => !/spin_lock|queued_spin|_raw_/.test(n))).filter(Boolean))];
  const summary = lock
    ? `${cpus.length} CPUs (${cpus.join(', ')}) spin${irqsOff.length ? ` (${irqsOff.length === cpus.length ? 'all' : irqsOff.length} with IRQs off)` : ''} in ${fn} on the same lock 0x${lock} (their first argument, RDI)${callers.length ? `, taken in ${callers.slice(0, 4).join(', ')}` : ''}: its holder is not in the pasted text`
    : `${cpus.length} CPUs (${cpus.join(', ')}) are stopped at the same place, ${fn}${at}${irqsOff.length ? `, ${irqsOff.length === cpus.length ? 'all' : irqsOff.length} with IRQs off` : ''}: one shared loop (a lock or a seqcount) is likely the subject; what it polls is not in the pasted text`;
  const f = finding(ctx, lock ? 'irqs-off-spin' : 'same-spin', 'root', summary, {
    confidence: 0.55,
    subjects: [...cpus.map((cpu) => ({ kind: 'cpu' as const, cpu })), { kind: 'object', id: objectId }],
    evidence: vs.map((v) => v.fact),
    steps: [
      `The pasted bt -a shows CPUs ${cpus.join(', ')} interrupted in ${fn}${offsets.size === 1 ? ' at the same offset' : ''}.`,
      irqsOff.length ? `CPU(s) ${irqsOff.join(', ')} run with interrupts disabled (${abiOf(vs[0].regs).irqsOffFlag}).` : 'Their interrupts are enabled.',
      'Several CPUs at one PC at once points at one word they all poll (a lock word or a sequence count) that never changes.',
      `Missing to decide: ${missing && isUnknown(missing) ? missing.unknown : 'the loop around the PC'}; then the value of the word the loop reads (crash> p <symbol> or rd <address>).`,
    ],
    confirm: [`crash> dis -r ${rip ?? '<RIP>'}   # the loop that ends at the PC`, 'crash> p <the symbol the loop reads>', 'crash> bt -a'],
    extra: { function: fn, cpus },
    nodes: [objectId],
  });
  spinGraph(ctx, objectId, lock ? `lock 0x${lock}` : `loop in ${fn}`, cpus, f.id);
  return f;
}

/** The graph of CPUs spinning on one shared object: the object, each CPU, a spins-on edge from each. */
function spinGraph(ctx: DetectorContext, objectId: string, label: string, cpus: number[], findingId: string): void {
  ctx.node(objectId, objectId.startsWith('lock:') ? 'lock' : 'loop', label, findingId);
  for (const cpu of cpus) {
    ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, findingId);
    ctx.edge(cpuNode(cpu), objectId, 'spins-on', findingId);
  }
}

/** One CPU spinning in a sequence-count read loop that its Code: bytes show. */
function seqcountLoop(ctx: DetectorContext, v: CpuView, fn: string, loop: NonNullable<LogEvent['details']['codeLoop']>): Finding {
  const e = v.event!;
  const objectId = `seqcount:read@${fn}`;
  const f = finding(ctx, 'seqcount-stuck-odd', 'root', `CPU ${v.cpu}${v.task ? ` (${v.task.comm}:${v.task.pid})` : ''} spins in ${fn}, a sequence-count read loop on a global whose count stays odd (its Code: bytes): a writer never finished, or the count is corrupted`, {
    confidence: 0.55,
    subjects: [{ kind: 'cpu', cpu: v.cpu }, { kind: 'object', id: objectId }],
    evidence: [eventFact(e, `${e.title}: ${v.chain.slice(0, 5).join(' <- ')}`), lineFact(e, e.code?.line, `Code: loop ${loop.instructions.join('; ')}`)],
    steps: [
      `${e.title}: CPU ${v.cpu} is stuck in ${fn}.`,
      `Its Code: bytes disassemble to a ${loop.instructions.length}-instruction loop around the PC: ${loop.instructions.join('; ')}.`,
      'The loop re-reads a global and tests bit 0 until it clears: the read_seqcount_begin retry loop (an odd sequence means a writer is inside).',
      'A count that stays odd for the whole lockup with no writer running is a stuck or corrupted seqcount; a dump tells which (its value, its writer lock, the other CPUs).',
    ],
    confirm: [`crash> dis -r ${pcHex(v.regs) ?? '<PC>'}`, 'crash> bt -a', 'crash> p jiffies_seq   # or the global the loop reads'],
    extra: { cpu: v.cpu, function: fn, loop: loop.instructions },
    nodes: [objectId],
  });
  ctx.node(objectId, 'seqcount', `the sequence count ${fn} reads`, f.id);
  ctx.edge(cpuNode(v.cpu), objectId, 'spins-on', f.id, 'read_seqcount_begin');
  return f;
}

/** One CPU polling a word until bit 0 clears (its Code: bytes): a lock or flag that nobody releases. */
function wordLoop(ctx: DetectorContext, v: CpuView, fn: string, loop: NonNullable<LogEvent['details']['codeLoop']>): Finding {
  const e = v.event!;
  const objectId = `loop:${fn}`;
  const f = finding(ctx, 'same-spin', 'root', `CPU ${v.cpu}${v.task ? ` (${v.task.comm}:${v.task.pid})` : ''} spins in ${fn} polling a word until bit 0 clears (its Code: bytes): a lock or flag that nobody releases`, {
    confidence: 0.5,
    subjects: [{ kind: 'cpu', cpu: v.cpu }, { kind: 'object', id: objectId }],
    evidence: [eventFact(e, `${e.title}: ${v.chain.slice(0, 5).join(' <- ')}`), lineFact(e, e.code?.line, `Code: loop ${loop.instructions.join('; ')}`)],
    steps: [
      `${e.title}: CPU ${v.cpu} is stuck in ${fn}.`,
      `Its Code: bytes disassemble to a ${loop.instructions.length}-instruction loop around the PC: ${loop.instructions.join('; ')}.`,
      'The loop re-reads a word and waits for bit 0 to clear: a lock bit or a flag another CPU (or a device) should clear. Which word it is, and who should clear it, a dump tells.',
    ],
    confirm: [`crash> dis -r ${pcHex(v.regs) ?? '<PC>'}`, 'crash> bt -a'],
    extra: { cpu: v.cpu, function: fn, loop: loop.instructions },
    nodes: [cpuNode(v.cpu), objectId],
  });
  ctx.node(objectId, 'loop', `the word polled in ${fn}`, f.id);
  ctx.edge(cpuNode(v.cpu), objectId, 'spins-on', f.id);
  return f;
}
