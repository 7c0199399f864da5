/**
 * IPI/CSD wait: a CPU stuck in smp_call_function_many_cond / csd_lock_wait / flush_tlb_* waits for
 * other CPUs to run a function. The CPUs that do not answer (IRQs off, oopsed, hard-locked, stalled)
 * are the suspects; the waiter is a symptom.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { cpuNode, eventFact, finding, type DetectorContext } from './context.ts';
import { latestStackEvents } from './irqs-off-spin.ts';
import { callChain, ipiWaitIndex } from './stacks.ts';

/** Reports that show where a CPU spins (a panic's stack is the panic path, reported by the panic finding). */
const WAIT_EVIDENCE_KINDS = new Set(['soft-lockup', 'hard-lockup', 'nmi-backtrace', 'rcu-stall', 'warning', 'bug']);

const ANSWERING_ROOT_KINDS = new Set(['irqs-off-spin', 'spinlock-self-deadlock', 'oops-in-irq', 'seqcount-stuck-odd', 'same-spin']);

export function ipiWaitDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const events = ctx.c.events;
  // Every event that shows a CPU waiting for an IPI, grouped by the waiting CPU.
  const waits = new Map<number, LogEvent[]>();
  for (const e of events) {
    if (e.cpu === undefined || !WAIT_EVIDENCE_KINDS.has(e.kind)) continue;
    if (ipiWaitIndex(e) < 0) continue;
    waits.set(e.cpu, [...(waits.get(e.cpu) ?? []), e]);
  }
  // CSD-lock reports name the target CPU directly.
  for (const e of events.filter((x) => x.kind === 'csd-lock' && x.cpu !== undefined)) {
    if (!waits.has(e.cpu!)) waits.set(e.cpu!, []);
    waits.get(e.cpu!)!.push(e);
  }
  const latest = latestStackEvents(events);
  for (const [cpu, evs] of waits) {
    const chain = evs.map(callChain).find((c) => c.length > 0) ?? [];
    const waitFn = chain[Math.max(0, chain.findIndex((n) => /smp_call_function|csd_lock|on_each_cpu|flush_tlb|kick_all/.test(n)))] ?? 'an IPI wait';
    const isTlb = chain.some((n) => /flush_tlb|tlb_finish_mmu|tlb_flush/.test(n));

    // Suspects: named by CSD reports, else CPUs known not to answer.
    const targets = new Set<number>();
    const why = new Map<number, string>();
    for (const e of evs) {
      if (e.kind === 'csd-lock' && e.details.csdTargetCpu !== undefined) {
        targets.add(e.details.csdTargetCpu);
        why.set(e.details.csdTargetCpu, `named by "${e.title}"`);
      }
    }
    const causes: string[] = [];
    for (const f of ctx.findings) {
      if (!ANSWERING_ROOT_KINDS.has(f.kind)) continue;
      for (const s of f.subjects) {
        if (s.kind !== 'cpu' || s.cpu === cpu) continue;
        targets.add(s.cpu);
        if (!why.has(s.cpu)) why.set(s.cpu, f.summary);
        if (!causes.includes(f.id)) causes.push(f.id);
      }
    }
    if (targets.size === 0) {
      for (const e of events) {
        if (e.cpu === cpu) continue;
        if (e.kind === 'hard-lockup' && e.cpu !== undefined) {
          targets.add(e.cpu);
          why.set(e.cpu, e.title);
        }
        if (e.kind === 'rcu-stall') {
          for (const s of e.details.stalledCpus ?? []) {
            if (s === cpu) continue;
            targets.add(s);
            if (!why.has(s)) why.set(s, `reported stalling by "${e.title}"`);
          }
        }
      }
    }
    const targetList = [...targets].sort((a, b) => a - b);
    const evidence = evs.slice(0, 4).map((e) => eventFact(e, `${e.title}${callChain(e).length ? `: ${callChain(e).slice(0, 5).join(' <- ')}` : ''}`));
    for (const t of targetList) {
      const le = latest.get(t);
      if (le) evidence.push(eventFact(le, `CPU ${t}: ${le.title}`));
    }
    const steps = [
      `CPU ${cpu} is in ${waitFn}${isTlb ? ' (a TLB shootdown)' : ''}: it sent a cross-CPU function call and spins, preemption disabled, until every target CPU has run it.`,
      'A target CPU runs the function from its IPI handler, so a target with interrupts disabled never answers.',
      targetList.length
        ? `Targets that do not answer: ${targetList.map((t) => `CPU ${t} (${why.get(t)})`).join('; ')}.`
        : 'The log does not say which CPU does not answer (no CSD report, no backtrace of a stuck CPU): look at every CPU in the dump.',
      `CPU ${cpu}'s lockup/stall reports are a consequence, not the cause.`,
    ];
    const f = finding(
      ctx,
      'ipi-wait',
      'symptom',
      `CPU ${cpu} waits in ${waitFn}${isTlb ? ' (TLB flush)' : ''} for ${targetList.length ? targetList.map((t) => `CPU ${t}`).join(', ') : 'a CPU that does not answer'} to acknowledge an IPI`,
      {
        confidence: targetList.length ? 0.85 : 0.5,
        subjects: [{ kind: 'cpu', cpu }, ...targetList.map((t) => ({ kind: 'cpu' as const, cpu: t }))],
        evidence,
        steps,
        confirm: [
          `crash> bt -c ${cpu}`,
          ...targetList.map((t) => `crash> bt -c ${t}`),
          "crash> p call_single_queue   # a target's non-empty queue = the IPI it never ran",
          'crash> p -x cfd_data   # per-CPU csd flags (CSD_FLAG_LOCK still set)',
        ],
        causedBy: causes,
        extra: { cpu, targets: targetList, function: waitFn },
      },
    );
    ctx.graph.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
    const csd = `csd:${cpu}`;
    ctx.graph.node(csd, 'csd', `IPI from CPU ${cpu}${isTlb ? ' (TLB flush)' : ''}`, f.id);
    ctx.graph.edge(cpuNode(cpu), csd, 'waits-for', f.id, waitFn);
    for (const t of targetList) {
      ctx.graph.node(cpuNode(t), 'cpu', `CPU ${t}`, f.id);
      ctx.graph.edge(csd, cpuNode(t), 'waits-for', f.id, 'not acknowledged');
    }
    out.push(f);
  }
  return out;
}
