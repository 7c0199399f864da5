/**
 * Oopses, BUGs, warnings and memory-safety reports: each is a failure of its own.
 * An oops in interrupt context (or with IRQs off) that never finished, followed by lockups, is the root of them.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding, FindingKind } from '../model/finding.ts';
import { frameText } from '../model/trace.ts';
import { cpuNode, eventFact, eventNode, finding, lineFact, type DetectorContext } from './context.ts';
import { callChain, inInterrupt, kernelRegisters, pcFunction } from './stacks.ts';

const FAILURE_KINDS: Partial<Record<LogEvent['kind'], FindingKind>> = {
  'null-deref': 'null-deref',
  'paging-request': 'oops',
  gpf: 'oops',
  oops: 'oops',
  bug: 'bug',
  kasan: 'memory-corruption',
  kfence: 'memory-corruption',
  ubsan: 'bug',
  lockdep: 'lockdep',
  warning: 'warning',
};

const LATER_HANG_KINDS = new Set(['soft-lockup', 'hard-lockup', 'rcu-stall', 'csd-lock', 'hung-task']);

/** The function to blame: the log's culprit (generic helpers, sanitizer and report machinery skipped), else the PC's function. */
function blamed(e: LogEvent): { function: string; module?: string } | undefined {
  return e.culprit ?? pcFunction(e);
}

/** `in culprit`, and where it faulted when that is a helper it called (`memcpy_fromio`, `kasan_report`). */
function where(e: LogEvent): string {
  const b = blamed(e);
  const pc = pcFunction(e);
  if (!b) return 'an unknown function';
  return pc && pc.function !== b.function ? `${frameText(b)} (faulting in ${frameText(pc)})` : frameText(b);
}

function confirmFor(e: LogEvent): string[] {
  const pc = pcFunction(e);
  const cmds = [`crash> log | grep -n -A40 '${e.title.slice(0, 40).replace(/'/g, '')}'`];
  if (e.cpu !== undefined) cmds.push(`crash> bt -c ${e.cpu}`);
  if (pc) cmds.push(`crash> dis -l ${pc.function}`);
  if (e.code && !e.code.unavailable) cmds.push('echo "Code: <bytes>" | scripts/decodecode   # disassemble the Code: line');
  return cmds;
}

export function oopsDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const events = ctx.c.events;
  const firstFailureIdx = events.findIndex((e) => FAILURE_KINDS[e.kind] && e.kind !== 'warning');
  for (const e of events) {
    const kind = FAILURE_KINDS[e.kind];
    if (!kind) continue;
    const isWarning = e.kind === 'warning';
    const fn = where(e);
    const cpuText = e.cpu !== undefined ? ` on CPU ${e.cpu}` : '';
    const taskText = e.task ? ` (task ${e.task.comm}:${e.task.pid})` : '';
    const ctxText = inInterrupt(e) ? ' in interrupt context' : '';
    const addr = e.details.address ? ` at address ${e.details.address}` : '';
    const summary = `${e.title.replace(/^BUG: |^WARNING: /, '')}${addr && !e.title.includes(e.details.address ?? '\0') ? addr : ''} in ${fn}${cpuText}${taskText}${ctxText}`;
    const evidence = [eventFact(e)];
    const regs = kernelRegisters(e)[0];
    if (regs?.line) evidence.push(lineFact(e, regs.line, `RIP: ${regs.pcSymbol ? frameText(regs.pcSymbol) : regs.values.rip ?? regs.values.pc}`));
    if (e.details.oopsText) evidence.push(lineFact(e, e.line, e.details.oopsText.startsWith('Oops') ? e.details.oopsText : `Oops: ${e.details.oopsText}`));
    const steps = [
      `The kernel reported "${e.title}"${cpuText}${taskText}.`,
      `The faulting instruction is in ${fn}${e.culprit && e.culprit.function !== pcFunction(e)?.function ? `; the most specific frame to blame is ${frameText(e.culprit)}` : ''}.`,
    ];
    const chain = callChain(e).filter((n, i, a) => a.indexOf(n) === i);
    if (chain.length > 1) steps.push(`Call chain: ${chain.slice(0, 8).join(' <- ')}${e.task ? ` (in ${e.task.comm}:${e.task.pid}${inInterrupt(e) ? ', interrupted' : ''})` : ''}.`);
    if (e.details.address) {
      const a = BigInt(`0x${e.details.address}`);
      steps.push(
        a === 0n
          ? 'The bad address is 0: a NULL pointer was dereferenced.'
          : a < 0x1000n
            ? `The bad address is 0x${a.toString(16)}: the member at offset 0x${a.toString(16)} of a struct reached through a NULL pointer (a missing NULL check).`
            : `The bad address is ${e.details.address}.`,
      );
    }
    if (e.details.endTrace === false) steps.push('The report never reached "---[ end trace ]---": the oops did not finish.');
    const idx = events.indexOf(e);
    const f = finding(ctx, kind, isWarning ? 'symptom' : 'root', summary, {
      confidence: isWarning ? 0.4 : idx === firstFailureIdx ? 0.85 : 0.6,
      subjects: [{ kind: 'event', id: e.id }, ...(e.cpu !== undefined ? [{ kind: 'cpu' as const, cpu: e.cpu }] : [])],
      evidence,
      steps,
      confirm: confirmFor(e),
      extra: {
        function: blamed(e)?.function ?? '',
        ...(blamed(e)?.module ? { module: blamed(e)!.module! } : {}),
        ...(pcFunction(e) && pcFunction(e)!.function !== blamed(e)?.function ? { pc: pcFunction(e)!.function } : {}),
        ...(e.details.address ? { address: e.details.address } : {}),
      },
      nodes: [eventNode(e.id)],
    });
    ctx.node(eventNode(e.id), 'fault', `${kind} in ${fn}`, f.id);
    if (idx !== firstFailureIdx && firstFailureIdx >= 0 && !isWarning) {
      // Later oopses are often consequences of the first (a corrupted structure, a lock left held).
      steps.push('An earlier failure was reported first; later oopses are often its consequences.');
      ctx.edge(eventNode(e.id), eventNode(events[firstFailureIdx].id), 'caused-by', f.id, 'an earlier failure', { observed: false, confidence: 0.6 });
    }
    out.push(f);

    // An oops in interrupt context that never completed, followed by hangs: the CPU died in the oops path with IRQs off.
    const later = events.slice(idx + 1).filter((x) => LATER_HANG_KINDS.has(x.kind));
    const laterOnSameCpu = events
      .slice(idx + 1)
      .filter((x) => x.cpu === e.cpu && x.kind === 'nmi-backtrace' && callChain(x).length > 0);
    const stuckInOops = laterOnSameCpu.find((x) => callChain(x).some((n) => /^(page_fault_oops|__die|__die_body|oops_begin|die|notify_die|oops_end|die_kernel_fault)$/.test(n)));
    if (!isWarning && e.cpu !== undefined && (inInterrupt(e) || regs?.irqsEnabled === false) && (later.length > 0 || stuckInOops)) {
      const g = finding(ctx, 'oops-in-irq', 'root', '', { confidence: stuckInOops ? 0.9 : 0.7 });
      const contextText = inInterrupt(e) ? 'in interrupt context' : 'with interrupts disabled';
      g.summary = `CPU ${e.cpu} oopsed ${contextText} (${e.title.replace(/^BUG: /, '')} in ${fn})${e.details.endTrace ? '' : ' and never finished the oops'}${stuckInOops ? `: it is stuck in the oops path (${callChain(stuckInOops).slice(0, 4).join(' <- ')}) with IRQs off` : ''}; every CPU that needs it (IPIs, the lock it holds) hangs behind it`;
      g.subjects = [{ kind: 'cpu', cpu: e.cpu }, { kind: 'event', id: e.id }];
      g.evidence = [eventFact(e)];
      if (stuckInOops) g.evidence.push(eventFact(stuckInOops, `${stuckInOops.title}: ${callChain(stuckInOops).slice(0, 6).join(' <- ')}`));
      for (const x of later.slice(0, 3)) g.evidence.push(eventFact(x));
      g.steps = [
        `CPU ${e.cpu} took "${e.title}" ${contextText}${e.task ? `, interrupting ${e.task.comm}:${e.task.pid}` : ''}.`,
        'An oops in interrupt context cannot kill the interrupted task; the kernel would normally panic ("Fatal exception in interrupt").',
        e.details.endTrace ? 'The oops report finished.' : 'No "---[ end trace ]---" and no panic followed: the oops path itself never completed.',
        ...(stuckInOops
          ? [`A later NMI backtrace of CPU ${e.cpu} shows it still in the oops path: ${callChain(stuckInOops).slice(0, 6).join(' <- ')}, with IRQs ${kernelRegisters(stuckInOops)[0]?.irqsEnabled === false ? 'disabled' : 'in an unknown state'}.`]
          : []),
        `After it, ${later.length} lockup/stall report(s) followed: CPUs waiting for CPU ${e.cpu}.`,
      ];
      g.confirm = [`crash> bt -c ${e.cpu}`, `crash> bt -f -c ${e.cpu}   # find the lock taken before the fault`, 'crash> log | tail -200'];
      g.extra = { cpu: e.cpu };
      g.nodes = [eventNode(e.id)];
      ctx.node(cpuNode(e.cpu), 'cpu', `CPU ${e.cpu}`, g.id);
      ctx.edge(cpuNode(e.cpu), eventNode(e.id), 'caused-by', g.id, 'stuck in the oops path');
      out.push(g);
    }
  }
  return out;
}
