/**
 * All-CPUs-same-spin: several CPUs whose lockup or NMI-backtrace stacks stop in the same function
 * are caught in one shared loop (a lock or a seqcount): the loop is the subject, not each CPU.
 */
import type { Finding } from '../model/finding.ts';
import { cpuNode, eventFact, finding, type DetectorContext } from './context.ts';
import { dumpRootsAbout } from './dump-facts.ts';
import { latestStackEvents } from './irqs-off-spin.ts';
import { ipiWaitIndex, isIdle, kernelRegisters, pcFunction } from './stacks.ts';

export function sameSpinDetector(ctx: DetectorContext): Finding[] {
  const byFn = new Map<string, number[]>();
  const latest = latestStackEvents(ctx.c.events);
  for (const [cpu, e] of latest) {
    if (isIdle(e) || ipiWaitIndex(e) >= 0) continue;
    const regs = kernelRegisters(e)[0];
    if (!regs) continue;
    const pc = pcFunction(e);
    if (!pc) continue;
    byFn.set(pc.function, [...(byFn.get(pc.function) ?? []), cpu]);
  }
  const out: Finding[] = [];
  for (const [fn, cpus] of byFn) {
    if (cpus.length < 2) continue;
    // The dump found the loop and the object it polls for these CPUs: nothing left to guess.
    if (cpus.every((cpu) => dumpRootsAbout(ctx.findings, cpu).length)) continue;
    const events = cpus.map((c) => latest.get(c)!);
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
      confirm: [`crash> dis -r <RIP>   # the loop around RIP in ${fn}`, 'crash> bt -a', 'crash> rd <polled address>'],
      extra: { function: fn, cpus },
    });
    ctx.graph.node(objectId, 'lock', `loop in ${fn}`, f.id);
    for (const cpu of cpus) {
      ctx.graph.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
      ctx.graph.edge(cpuNode(cpu), objectId, 'spins-on', f.id);
    }
    out.push(f);
  }
  return out;
}
