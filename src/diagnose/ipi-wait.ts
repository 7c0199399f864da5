/**
 * IPI/CSD wait: a CPU stuck in smp_call_function_many_cond / csd_lock_wait / flush_tlb_* waits for
 * other CPUs to run a function. The CPUs that do not answer (IRQs off, oopsed, hard-locked, stalled)
 * are the suspects; the waiter is a symptom.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { isUnknown, symbolText, type CsdRequest } from '../model/queries.ts';
import { cpuNode, eventFact, finding, type DetectorContext } from './context.ts';
import { dumpFact, hexOf } from './dump-facts.ts';
import { busyInKernel, inOops, latestStackEvents, viewLabel, viewPc } from './cpu-view.ts';
import { callChain, ipiWaitIndex } from './stacks.ts';

/** Reports that show where a CPU spins (a panic's stack is the panic path, reported by the panic finding). */
const WAIT_EVIDENCE_KINDS = new Set(['soft-lockup', 'hard-lockup', 'nmi-backtrace', 'rcu-stall', 'warning', 'bug']);


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
  // The dump's own record of outstanding cross-calls: a sender's per-CPU csd still locked for a target.
  const q = ctx.c.kernel;
  const ipi = q?.ipiState();
  const requests: CsdRequest[] = ipi && !isUnknown(ipi) ? ipi.requests : [];
  const contexts = q?.cpuContexts() ?? [];
  const views = ctx.views.cpus;
  // A CPU that cannot answer an IPI: interrupts off outside idle, or dying in the oops path.
  const deaf = (cpu: number): string | undefined => {
    const v = views.find((x) => x.cpu === cpu);
    if (!v || !busyInKernel(v)) return undefined;
    // Momentarily in an interrupt over the idle loop (IRQs are off in any handler) is not being stuck.
    const named = events.some((e) => (e.cpu === cpu && (e.kind === 'hard-lockup' || e.kind === 'soft-lockup')) || (e.kind === 'rcu-stall' && (e.details.stalledCpus ?? []).includes(cpu)));
    if (v.overIdle && !named) return undefined;
    if (inOops(v)) return `${viewLabel(v)} is in the oops path (${v.chain.slice(0, 3).join(' <- ')})`;
    if (v.irqsEnabled === false) return `${viewLabel(v)} runs ${viewPc(v)} with interrupts disabled`;
    return undefined;
  };
  for (const r of requests) {
    if (waits.has(r.from)) continue;
    // Without a log report, only a wait on a CPU that cannot answer is evidence (a flush in flight is not).
    if (deaf(r.to)) waits.set(r.from, []);
  }
  const latest = latestStackEvents(events);
  for (const [cpu, evs] of waits) {
    const mine = requests.filter((r) => r.from === cpu);
    const chain = evs.map(callChain).find((c) => c.length > 0) ?? [];
    const dumpPc = contexts.find((x) => x.cpu === cpu)?.registers.pcSymbol?.function;
    const waitFn =
      chain[Math.max(0, chain.findIndex((n) => /smp_call_function|csd_lock|on_each_cpu|flush_tlb|kick_all/.test(n)))] ??
      (dumpPc && /smp_call_function|csd_lock|on_each_cpu|flush_tlb/.test(dumpPc) ? dumpPc : undefined) ??
      (mine.length ? `a cross-CPU call (${mine[0].func?.name ?? 'unknown function'})` : 'an IPI wait');
    const isTlb = chain.some((n) => /flush_tlb|tlb_finish_mmu|tlb_flush/.test(n)) || mine.some((r) => /flush_tlb/.test(r.func?.name ?? ''));

    // Suspects: named by CSD reports, else CPUs known not to answer.
    const targets = new Set<number>();
    const inferredQ = new Set<number>();
    const why = new Map<number, string>();
    for (const e of evs) {
      if (e.kind === 'csd-lock' && e.details.csdTargetCpu !== undefined) {
        targets.add(e.details.csdTargetCpu);
        why.set(e.details.csdTargetCpu, `named by "${e.title}"`);
      }
    }
    for (const r of mine) {
      targets.add(r.to);
      why.set(r.to, `its csd from CPU ${cpu} is still locked${r.queued ? ` and queued on CPU ${r.to}'s call_single_queue` : ''}${r.func ? `, function ${r.func.name}` : ''}`);
    }
    // smp_call_function_single(wait=1) uses a csd on the caller's stack: the target's queue holds it, never run.
    if (!mine.length && ipi && !isUnknown(ipi)) {
      const rsp = BigInt(`0x${views.find((v) => v.cpu === cpu)?.regs?.values.rsp ?? '0'}`);
      for (const qd of ipi.queues) {
        if (qd.cpu === cpu || qd.entries === 0) continue;
        const onStack = rsp !== 0n && qd.first > rsp - 0x4000n && qd.first < rsp + 0x4000n;
        if (!onStack && !deaf(qd.cpu)) continue;
        targets.add(qd.cpu);
        why.set(qd.cpu, `its call_single_queue holds ${qd.entries} csd(s) it never ran${onStack ? `, the first (0x${hexOf(qd.first)}) on CPU ${cpu}'s stack` : ''}`);
        if (!onStack) inferredQ.add(qd.cpu);
      }
    }
    const inferred = new Set<number>(inferredQ);
    if (targets.size === 0) {
      // Nothing names the target: the CPUs that cannot answer are the suspects (inferred).
      for (const v of views) {
        if (v.cpu === cpu) continue;
        const why1 = deaf(v.cpu);
        if (why1) {
          targets.add(v.cpu);
          inferred.add(v.cpu);
          why.set(v.cpu, why1);
        }
      }
      for (const e of events) {
        if (e.cpu === cpu) continue;
        if (e.kind === 'hard-lockup' && e.cpu !== undefined && !targets.has(e.cpu)) {
          targets.add(e.cpu);
          inferred.add(e.cpu);
          why.set(e.cpu, e.title);
        }
        if (e.kind === 'rcu-stall') {
          for (const s2 of e.details.stalledCpus ?? []) {
            if (s2 === cpu || targets.has(s2)) continue;
            targets.add(s2);
            inferred.add(s2);
            why.set(s2, `reported stalling by "${e.title}"`);
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
    const dumpSteps: string[] = [];
    if (q && mine.length) {
      for (const r of mine) {
        const t = contexts.find((x) => x.cpu === r.to);
        const irq = t?.registers.irqsEnabled === false ? 'has interrupts disabled' : t?.registers.irqsEnabled ? 'has interrupts enabled' : 'has an unknown interrupt state';
        evidence.push(dumpFact(q, `csd of CPU ${cpu} for CPU ${r.to} at 0x${hexOf(r.csd)}: CSD_FLAG_LOCK set${r.func ? `, func ${symbolText(r.func)}` : ''}${r.queued ? `, on CPU ${r.to}'s call_single_queue` : ''}`, r.csd, `per_cpu(cfd_data, ${cpu}) csd for CPU ${r.to}`));
        dumpSteps.push(
          `In the dump, CPU ${cpu}'s csd for CPU ${r.to} (0x${hexOf(r.csd)}${r.func ? `, ${r.func.name}` : ''}) still has CSD_FLAG_LOCK set${r.queued ? ` and sits on CPU ${r.to}'s call_single_queue: the IPI was sent, CPU ${r.to} never ran its queue` : ''}; CPU ${r.to} ${irq}.`,
        );
        ctx.object({
          id: `csd:${hexOf(r.csd)}`,
          kind: 'csd',
          address: hexOf(r.csd),
          observed: { from: r.from, to: r.to, locked: r.locked, queued: r.queued, ...(r.func ? { func: r.func.name } : {}) },
          facts: [evidence[evidence.length - 1]],
        });
      }
    }
    const steps = [
      `CPU ${cpu} is in ${waitFn}${isTlb ? ' (a TLB shootdown)' : ''}: it sent a cross-CPU function call and spins, preemption disabled, until every target CPU has run it.`,
      'A target CPU runs the function from its IPI handler, so a target with interrupts disabled never answers.',
      ...dumpSteps,
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
        confidence: mine.length ? 0.9 : targetList.length ? 0.85 : 0.5,
        subjects: [{ kind: 'cpu', cpu }, ...targetList.map((t) => ({ kind: 'cpu' as const, cpu: t }))],
        evidence,
        steps,
        confirm: [
          `crash> bt -c ${cpu}`,
          ...targetList.map((t) => `crash> bt -c ${t}`),
          "crash> p call_single_queue   # a target's non-empty queue = the IPI it never ran",
          'crash> p -x cfd_data   # per-CPU csd flags (CSD_FLAG_LOCK still set)',
        ],
        extra: { cpu, targets: targetList, function: waitFn },
        nodes: [cpuNode(cpu)],
      },
    );
    ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, f.id);
    const csd = `csd:${cpu}`;
    ctx.node(csd, 'csd', `IPI from CPU ${cpu}${isTlb ? ' (TLB flush)' : ''}`, f.id);
    ctx.edge(cpuNode(cpu), csd, 'waits-for', f.id, waitFn);
    for (const t of targetList) {
      ctx.node(cpuNode(t), 'cpu', `CPU ${t}`, f.id);
      ctx.edge(csd, cpuNode(t), 'waits-for', f.id, 'not acknowledged', inferred.has(t) ? { observed: false, confidence: 0.8 } : undefined);
    }
    out.push(f);
  }
  return out;
}
