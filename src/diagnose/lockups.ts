/**
 * Soft lockups, hard lockups, RCU stalls and CSD-lock reports: watchdog symptoms, one finding per CPU
 * (repeated reports grouped). Explained by an earlier finding about the same CPU when there is one;
 * otherwise the stuck function is the best lead and the finding stands as a root of low confidence.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding, FindingKind } from '../model/finding.ts';
import { cpuNode, eventFact, eventNode, finding, taskNode, type DetectorContext } from './context.ts';
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
      const cpuText = cpu >= 0 ? `CPU ${cpu}` : 'a CPU';
      const loop = last.details.codeLoop;
      const seqRead = !!loop && loop.readsGlobal && loop.testsBit0;
      const summary = `${k.name} on ${cpuText}${last.task ? ` (${last.task.comm}:${last.task.pid})` : ''}${pc ? ` in ${pc.function}${pc.module ? ` [${pc.module}]` : ''}` : ''}${secs.length ? `, stuck for ${secs.join('s, ')}s` : ''}${evs.length > 1 ? ` (${evs.length} reports)` : ''}${seqRead ? ': spinning in a sequence-count read loop on a global whose count stays odd' : ''}`;
      const f = finding(ctx, k.finding, 'symptom', summary, {
        confidence: 0.9,
        subjects: [...(cpu >= 0 ? [{ kind: 'cpu' as const, cpu }] : []), ...evs.map((e) => ({ kind: 'event' as const, id: e.id }))],
        evidence: evs.slice(0, 5).map((e) => eventFact(e)),
        steps: [
          `"${last.title}": ${k.meaning}.`,
          callChain(last).length ? `Its stack: ${callChain(last).slice(0, 6).join(' <- ')}.` : 'No stack was printed with it.',
          `${pc ? `${pc.function} is where the CPU is stuck; ` : ''}what it waits for decides the cause (the wait-for graph follows it).`,
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
        extra: { ...(cpu >= 0 ? { cpu } : {}), reports: evs.length, ...(pc ? { function: pc.function } : {}) },
        nodes: cpu >= 0 ? [cpuNode(cpu)] : evs.map((e) => eventNode(e.id)),
      });
      if (cpu >= 0) ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
      out.push(f);
    }
  }

  // RCU stalls: one finding for the grace period; the stalled CPUs and the tasks that block it hold it up.
  const stalls = ctx.c.events.filter((e) => e.kind === 'rcu-stall');
  if (stalls.length) {
    const cpus = [...new Set(stalls.flatMap((e) => e.details.stalledCpus ?? []))].sort((a, b) => a - b);
    const tasks = [...new Set(stalls.flatMap((e) => e.details.stalledTasks ?? []))];
    const first = stalls[0];
    const f = finding(
      ctx,
      'rcu-stall',
      'symptom',
      `RCU stall${stalls.length > 1 ? ` (${stalls.length} reports)` : ''}${cpus.length ? ` on CPU ${cpus.join(', ')}` : ''}${tasks.length ? `, blocked by task(s) ${tasks.join(', ')}` : ''}${first.details.kthreadStarved ? '; the RCU grace-period kthread is starved' : ''}`,
      {
        confidence: 0.85,
        subjects: [...cpus.map((cpu) => ({ kind: 'cpu' as const, cpu })), ...stalls.map((e) => ({ kind: 'event' as const, id: e.id }))],
        evidence: stalls.slice(0, 4).map((e) => eventFact(e)),
        steps: [
          'An RCU grace period did not end: some CPU did not pass through a quiescent state (it looped in the kernel with preemption or interrupts disabled), or a task stayed in a read-side critical section.',
          cpus.length ? `The stalling CPUs named: ${cpus.join(', ')}.` : 'No stalling CPU was named.',
          tasks.length ? `Tasks named as blocking the grace period: ${tasks.join(', ')}.` : '',
        ].filter(Boolean),
        confirm: ['crash> bt -a', 'crash> p rcu_state'],
        extra: { cpus },
        nodes: [RCU_GP],
      },
    );
    ctx.node(RCU_GP, 'rcu-gp', 'the RCU grace period', f.id);
    for (const cpu of cpus) ctx.edge(RCU_GP, cpuNode(cpu), 'blocked-by', f.id, 'no quiescent state');
    for (const pid of tasks) ctx.edge(RCU_GP, taskNode(pid), 'blocked-by', f.id, 'in an RCU read-side section');
    out.push(f);
    // The grace-period kthread itself did not run: grace periods cannot end whatever the CPUs do.
    const starved = stalls.map((e) => e.details.starvedKthread ? { e, k: e.details.starvedKthread } : undefined).find((x) => x);
    if (starved) {
      const { e, k } = starved;
      const node = 'rcu:kthread';
      const timer = /timer wakeup didn't happen/.test(ctx.c.events.map((x) => x.title).join('\n'));
      const g = finding(ctx, 'rcu-kthread-starved', 'root', `The RCU grace-period kthread (${k.name}) has not run for ${k.jiffies ?? '?'} jiffies${k.state ? ` (->state ${k.state}${k.cpu !== undefined ? `, last on CPU ${k.cpu}` : ''})` : ''}${timer ? ": its timer wakeup didn't happen" : ''}: no grace period can end, so every RCU waiter and stall report follows`, {
        confidence: 0.75,
        subjects: [{ kind: 'event', id: e.id }],
        evidence: [eventFact(e)],
        steps: [
          `"${e.title}": the ${k.name} drives grace periods; it has not been scheduled for ${k.jiffies ?? 'many'} jiffies.`,
          k.state === '0x402' || k.state === '0x2' ? 'Its state is TASK_UNINTERRUPTIBLE|TASK_NOLOAD/TASK_IDLE: it sleeps, waiting for a timer (RCU_GP_WAIT_FQS) that did not wake it.' : 'A runnable kthread that does not run means its CPU is taken by something else (a hog, interrupts, a hypervisor not scheduling the vCPU).',
          timer ? "The kernel says the kthread's timer wakeup did not happen: timer handling on its CPU is broken (a stopped tick, lost timer interrupts, a hypervisor timer problem)." : 'Find why it does not run: its CPU, that CPU\'s timer and what runs there.',
        ],
        confirm: ['crash> bt <rcu_preempt pid>', 'crash> timer -r', ...(k.cpu !== undefined ? [`crash> bt -c ${k.cpu}`] : [])],
        extra: { kthread: k.name, ...(k.jiffies !== undefined ? { jiffies: k.jiffies } : {}), ...(k.cpu !== undefined ? { cpu: k.cpu } : {}) },
        nodes: [node],
      });
      ctx.node(node, 'task', k.name, g.id);
      ctx.edge(RCU_GP, node, 'blocked-by', g.id, 'the grace-period kthread does not run');
      out.push(g);
    }
  }
  return out;
}

/** The node every RCU waiter and stall report shares. */
export const RCU_GP = 'rcu:gp';
