/**
 * Soft lockups, hard lockups, RCU stalls and CSD-lock reports: watchdog symptoms, one finding per CPU
 * (repeated reports grouped). Explained by an earlier finding about the same CPU when there is one;
 * otherwise the stuck function is the best lead and the finding stands as a root of low confidence.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding, FindingKind } from '../model/finding.ts';
import { cpuNode, eventFact, finding, type DetectorContext } from './context.ts';
import { callChain, pcFunction } from './stacks.ts';

const KINDS: Array<{ event: LogEvent['kind']; finding: FindingKind; name: string; meaning: string }> = [
  {
    event: 'soft-lockup',
    finding: 'soft-lockup',
    name: 'soft lockup',
    meaning: "the CPU's watchdog thread could not run for the soft-lockup threshold: something ran in kernel mode with preemption disabled",
  },
  {
    event: 'hard-lockup',
    finding: 'hard-lockup',
    name: 'hard lockup',
    meaning: 'the CPU took no timer interrupt for the hard-lockup threshold: it ran with interrupts disabled',
  },
  {
    event: 'csd-lock',
    finding: 'csd-lock',
    name: 'CSD lock timeout',
    meaning: 'a cross-CPU function call was not acknowledged by its target within the CSD-lock timeout',
  },
];

/** Earlier findings that explain a lockup of these CPUs: a root about one of them, or one's own wait for an IPI (which leads to the root). */
function explanationsFor(ctx: DetectorContext, cpus: readonly number[]): Finding[] {
  return ctx.findings.filter(
    (f) =>
      (f.role === 'root' && f.subjects.some((s) => s.kind === 'cpu' && cpus.includes(s.cpu))) ||
      (f.kind === 'ipi-wait' && f.subjects[0]?.kind === 'cpu' && cpus.includes(f.subjects[0].cpu)),
  );
}

export function lockupsDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  for (const k of KINDS) {
    const byCpu = new Map<number, LogEvent[]>();
    for (const e of ctx.c.events) {
      if (e.kind !== k.event) continue;
      const cpu = e.cpu ?? -1;
      byCpu.set(cpu, [...(byCpu.get(cpu) ?? []), e]);
    }
    for (const [cpu, evs] of byCpu) {
      const last = evs[evs.length - 1];
      const pc = pcFunction(last) ?? last.culprit;
      const secs = evs.map((e) => e.details.seconds).filter((s): s is number => s !== undefined);
      const explained = explanationsFor(ctx, [cpu]);
      const cpuText = cpu >= 0 ? `CPU ${cpu}` : 'a CPU';
      const loop = last.details.codeLoop;
      const seqRead = !!loop && loop.readsGlobal && loop.testsBit0;
      const summary = `${k.name} on ${cpuText}${last.task ? ` (${last.task.comm}:${last.task.pid})` : ''}${pc ? ` in ${pc.function}${pc.module ? ` [${pc.module}]` : ''}` : ''}${secs.length ? `, stuck for ${secs.join('s, ')}s` : ''}${evs.length > 1 ? ` (${evs.length} reports)` : ''}${seqRead && !explained.length ? ': spinning in a sequence-count read loop on a global whose count stays odd' : ''}`;
      const f = finding(ctx, k.finding, explained.length ? 'symptom' : 'root', summary, {
        // A loop proven from the Code: bytes to be a seqcount read says more than "stuck somewhere".
        confidence: explained.length ? 0.9 : seqRead ? 0.55 : 0.45,
        subjects: [...(cpu >= 0 ? [{ kind: 'cpu' as const, cpu }] : []), ...evs.map((e) => ({ kind: 'event' as const, id: e.id }))],
        evidence: evs.slice(0, 5).map((e) => eventFact(e)),
        steps: [
          `"${last.title}": ${k.meaning}.`,
          callChain(last).length ? `Its stack: ${callChain(last).slice(0, 6).join(' <- ')}.` : 'No stack was printed with it.',
          explained.length
            ? `Explained by: ${explained.map((x) => x.summary).join('; ')}.`
            : `Nothing else in the evidence explains it: ${pc ? `${pc.function} is where the CPU is stuck; ` : ''}find what it waits for.`,
          ...(loop
            ? [
                `Its Code: bytes disassemble to a ${loop.instructions.length}-instruction loop around the PC: ${loop.instructions.join('; ')}.`,
                seqRead
                  ? 'The loop re-reads a global and tests bit 0 until it clears: the read_seqcount_begin retry loop (an odd sequence = a writer inside). A count that stays odd with no writer running is a stuck or corrupted seqcount (in a dump: disassemble the function, resolve the global, read its sequence and writer lock).'
                  : loop.testsBit0
                    ? 'The loop polls a word until bit 0 clears: a lock or completion flag someone else must release.'
                    : 'A tight loop: find the condition it waits on.',
              ]
            : []),
        ],
        confirm: cpu >= 0 ? [`crash> bt -c ${cpu}`, 'crash> bt -a'] : ['crash> bt -a'],
        causedBy: explained.map((x) => x.id),
        extra: { ...(cpu >= 0 ? { cpu } : {}), reports: evs.length, ...(pc ? { function: pc.function } : {}) },
      });
      if (cpu >= 0) ctx.graph.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
      out.push(f);
    }
  }

  // RCU stalls: one finding per report chain; the stalled CPUs are suspects, the detector CPU is a bystander.
  const stalls = ctx.c.events.filter((e) => e.kind === 'rcu-stall');
  if (stalls.length) {
    const cpus = [...new Set(stalls.flatMap((e) => e.details.stalledCpus ?? []))].sort((a, b) => a - b);
    const tasks = [...new Set(stalls.flatMap((e) => e.details.stalledTasks ?? []))];
    const explained = explanationsFor(ctx, cpus);
    const first = stalls[0];
    const f = finding(
      ctx,
      'rcu-stall',
      explained.length ? 'symptom' : 'root',
      `RCU stall${stalls.length > 1 ? ` (${stalls.length} reports)` : ''}${cpus.length ? ` on CPU ${cpus.join(', ')}` : ''}${tasks.length ? `, blocked by task(s) ${tasks.join(', ')}` : ''}${first.details.kthreadStarved ? '; the RCU grace-period kthread is starved' : ''}`,
      {
        confidence: explained.length ? 0.85 : 0.4,
        subjects: [...cpus.map((cpu) => ({ kind: 'cpu' as const, cpu })), ...stalls.map((e) => ({ kind: 'event' as const, id: e.id }))],
        evidence: stalls.slice(0, 4).map((e) => eventFact(e)),
        steps: [
          'An RCU grace period did not end: some CPU did not pass through a quiescent state (it looped in the kernel with preemption or interrupts disabled), or a task stayed in a read-side critical section.',
          cpus.length ? `The stalling CPUs named: ${cpus.join(', ')}.` : 'No stalling CPU was named.',
          explained.length ? `Explained by: ${explained.map((x) => x.summary).join('; ')}.` : 'Nothing else in the evidence explains it.',
        ],
        confirm: ['crash> bt -a', 'crash> p rcu_state'],
        causedBy: explained.map((x) => x.id),
        extra: { cpus },
      },
    );
    out.push(f);
  }
  return out;
}
