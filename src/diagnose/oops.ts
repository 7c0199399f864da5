/**
 * Oopses, BUGs, warnings and memory-safety reports: each is a failure of its own.
 * An oops in interrupt context (or with IRQs off) that never finished, followed by lockups, is the root of them.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding, FindingKind } from '../model/finding.ts';
import { frameText } from '../model/trace.ts';
import { cpuNode, eventFact, eventNode, finding, lineFact, type DetectorContext } from './context.ts';
import { callChain, inInterrupt, IRQ_ENTRY, kernelRegisters, pcFunction } from './stacks.ts';
import { matchesAny } from './known/frames.ts';

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

/** Functions of the oops path (arm64 and x86_64): a CPU whose stack runs through one is inside an oops. */
const OOPS_PATH = /^(page_fault_oops|__die|__die_body|oops_begin|die|notify_die|oops_end|die_kernel_fault|die_addr)$/;
/** Interrupt handling below a faulting frame in a dump: the log's interrupt entries (stacks.ts) and arm64's IRQ path. */
const IRQ_BELOW_FAULT = [...IRQ_ENTRY, /^(handle_irq_desc|generic_handle_domain_irq|handle_percpu_devid_irq|el0_interrupt|el1h_64_irq(_handler)?|el0t_64_irq(_handler)?|call_on_irq_stack|do_interrupt_handler|handle_softirqs)$/];

/** The single CPU that RCU stall reports after a cut-short oops name as stalled, when every such report names only it. */
function cutReportCpu(events: readonly LogEvent[], e: LogEvent): { cpu: number; event: LogEvent } | undefined {
  const after = events.slice(events.indexOf(e) + 1).filter((x) => x.kind === 'rcu-stall' && x.details.stalledCpus?.length);
  const cpus = new Set(after.flatMap((x) => x.details.stalledCpus ?? []));
  if (cpus.size !== 1) return undefined;
  return { cpu: [...cpus][0], event: after[0] };
}

/**
 * Where an oops whose report was cut short (no registers, no trace: the CPU died printing it) happened, from the dump:
 * the one CPU whose stack runs through the oops path, and the exception frame below it (the faulting code and its
 * registers); hard-IRQ context when interrupt handling or the IRQ stack is below that frame.
 */
function faultInDump(ctx: DetectorContext): { cpu: number; task?: { comm: string; pid: number }; frame: { function: string; offset?: number; module?: string }; inIrq: boolean; chain: string[] } | undefined {
  const hits = ctx.views.cpus.filter((v) => v.from === 'dump' && v.chain.some((n) => OOPS_PATH.test(n)));
  if (hits.length !== 1) return undefined;
  const v = hits[0];
  const at = v.frames.findIndex((f, i) => f.exceptionRip && f.regs?.mode === 'kernel' && v.frames.slice(0, i).some((g) => OOPS_PATH.test(g.function)));
  if (at < 0) return undefined;
  const f = v.frames[at];
  const below = v.frames.slice(at + 1);
  const inIrq = below.some((g) => g.stack === 'irq' || matchesAny(g.function, IRQ_BELOW_FAULT)) || f.stack === 'irq';
  return { cpu: v.cpu, ...(v.task ? { task: v.task } : {}), frame: { function: f.function, ...(f.offset !== undefined ? { offset: f.offset } : {}), ...(f.module ? { module: f.module } : {}) }, inIrq, chain: v.chain };
}

export function oopsDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const events = ctx.c.events;
  const firstFailureIdx = events.findIndex((e) => FAILURE_KINDS[e.kind] && e.kind !== 'warning');
  for (const e of events) {
    const kind = FAILURE_KINDS[e.kind];
    if (!kind) continue;
    const isWarning = e.kind === 'warning';
    // A report cut short (the CPU never printed its registers and trace): the dump shows where it faulted.
    const fromDump = !isWarning && (e.cpu === undefined || !blamed(e)) ? faultInDump(ctx) : undefined;
    // Without a dump, a report cut short before its CPU line: the one CPU an RCU stall reports afterwards is most likely
    // the one that died printing it (it holds die_lock with interrupts off and answers nothing any more).
    const stalledAfter = !isWarning && e.cpu === undefined && !fromDump && !e.trace.length ? cutReportCpu(events, e) : undefined;
    const fn = fromDump && !blamed(e) ? `${frameText(fromDump.frame)} (the faulting frame in the dump: the report was cut short)` : where(e);
    const cpu = e.cpu ?? fromDump?.cpu ?? stalledAfter?.cpu;
    const task = e.task ?? fromDump?.task;
    const inIrq = inInterrupt(e) || !!fromDump?.inIrq;
    const cpuText = cpu !== undefined ? ` on CPU ${cpu}` : '';
    const taskText = task ? ` (task ${task.comm}:${task.pid})` : '';
    const ctxText = inIrq ? ' in interrupt context' : '';
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
    if (stalledAfter) steps.push(`The report stops before its CPU and registers; the only CPU reported stalled afterwards is CPU ${stalledAfter.cpu} (${stalledAfter.event.title}, line ${stalledAfter.event.line}): most likely the one that oopsed and died in the oops path (inferred, not printed).`);
    const idx = events.indexOf(e);
    const f = finding(ctx, kind, isWarning ? 'symptom' : 'root', summary, {
      confidence: isWarning ? 0.4 : idx === firstFailureIdx ? 0.85 : 0.6,
      subjects: [{ kind: 'event', id: e.id }, ...(cpu !== undefined ? [{ kind: 'cpu' as const, cpu }] : [])],
      evidence,
      steps,
      confirm: confirmFor(e),
      extra: {
        function: blamed(e)?.function ?? fromDump?.frame.function ?? '',
        ...((blamed(e) ?? fromDump?.frame)?.module ? { module: (blamed(e) ?? fromDump?.frame)!.module! } : {}),
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
    const stuckInOops = laterOnSameCpu.find((x) => callChain(x).some((n) => OOPS_PATH.test(n)));
    const stuckChain = stuckInOops ? callChain(stuckInOops) : fromDump?.chain;
    // A report cut short whose CPU then stops answering (stalledAfter) died in the oops path the same way.
    const diedPrinting = !!stalledAfter && e.details.endTrace !== true;
    if (!isWarning && cpu !== undefined && (inIrq || regs?.irqsEnabled === false || diedPrinting) && (later.length > 0 || stuckChain)) {
      const g = finding(ctx, 'oops-in-irq', 'root', '', { confidence: stuckChain ? 0.9 : diedPrinting && !inIrq ? 0.6 : 0.7 });
      const inferred = diedPrinting && !inIrq && regs?.irqsEnabled !== false;
      const contextText = inIrq ? 'in interrupt context' : regs?.irqsEnabled === false ? 'with interrupts disabled' : `(most likely: the report stops before naming its CPU, and CPU ${cpu} is the only one stalled after it)`;
      g.summary = `CPU ${cpu} ${inferred ? 'most likely ' : ''}oopsed ${inferred ? '' : `${contextText} `}(${e.title.replace(/^BUG: /, '')} in ${fromDump && !blamed(e) ? frameText(fromDump.frame) : fn})${e.details.endTrace ? '' : ' and never finished the oops'}${stuckChain ? `: it is stuck in the oops path (${stuckChain.slice(0, 4).join(' <- ')}) with IRQs off` : ''}; every CPU that needs it (IPIs, the lock it holds) hangs behind it`;
      g.subjects = [{ kind: 'cpu', cpu }, { kind: 'event', id: e.id }];
      g.evidence = [eventFact(e)];
      if (stuckInOops) g.evidence.push(eventFact(stuckInOops, `${stuckInOops.title}: ${callChain(stuckInOops).slice(0, 6).join(' <- ')}`));
      else if (fromDump) {
        const v = ctx.views.cpus.find((x) => x.cpu === cpu);
        if (v) g.evidence.push({ text: `CPU ${cpu} in the dump: ${fromDump.chain.slice(0, 8).join(' <- ')}`, from: v.fact.from });
      }
      for (const x of later.slice(0, 3)) g.evidence.push(eventFact(x));
      g.steps = [
        `CPU ${cpu} took "${e.title}" ${contextText}${task ? `, interrupting ${task.comm}:${task.pid}` : ''}${fromDump && !blamed(e) ? ` in ${frameText(fromDump.frame)} (its exception frame in the dump; the log's report stops before the registers)` : ''}.`,
        'An oops in interrupt context cannot kill the interrupted task; the kernel would normally panic ("Fatal exception in interrupt").',
        e.details.endTrace ? 'The oops report finished.' : 'No "---[ end trace ]---" and no panic followed: the oops path itself never completed.',
        ...(stuckInOops
          ? [`A later NMI backtrace of CPU ${cpu} shows it still in the oops path: ${callChain(stuckInOops).slice(0, 6).join(' <- ')}, with IRQs ${kernelRegisters(stuckInOops)[0]?.irqsEnabled === false ? 'disabled' : 'in an unknown state'}.`]
          : fromDump
            ? [`In the dump CPU ${cpu} is still in the oops path: ${fromDump.chain.slice(0, 6).join(' <- ')}.`]
            : []),
        `After it, ${later.length} lockup/stall report(s) followed: CPUs waiting for CPU ${cpu}.`,
      ];
      g.confirm = [`crash> bt -c ${cpu}`, `crash> bt -f -c ${cpu}   # find the lock taken before the fault`, 'crash> log | tail -200'];
      g.extra = { cpu };
      g.nodes = [eventNode(e.id)];
      ctx.node(cpuNode(cpu), 'cpu', `CPU ${cpu}`, g.id);
      ctx.edge(cpuNode(cpu), eventNode(e.id), 'caused-by', g.id, 'stuck in the oops path');
      out.push(g);
    }
  }
  return out;
}
