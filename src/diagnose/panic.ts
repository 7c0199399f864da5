/**
 * Panic context: what made the kernel panic (hung_task_panic, softlockup_panic, hard lockup,
 * an oops in interrupt, an operator NMI, OOM...) and which event triggered it. A panic is the
 * consequence of its trigger; a panic with no trigger in the evidence is reported as such.
 */
import type { LogEvent } from '../model/event.ts';
import type { Finding } from '../model/finding.ts';
import { cpuNode, eventFact, eventNode, finding, taskNode, type DetectorContext } from './context.ts';
import { RCU_GP } from './lockups.ts';
import { FRAGMENT_TITLE } from '../sources/log/machine.ts';
import { isParked } from './known/frames.ts';

interface PanicRule {
  re: RegExp;
  cause: string;
  trigger: LogEvent['kind'][];
  meaning: string;
}

/** Panic reasons (the text after `Kernel panic - not syncing: `), the knob behind them and the event that triggers them. */
export const PANIC_RULES: PanicRule[] = [
  { re: /softlockup: hung tasks/i, cause: 'softlockup_panic', trigger: ['soft-lockup'], meaning: 'kernel.softlockup_panic=1 turned a soft-lockup report into a panic' },
  { re: /hung_task: blocked tasks|hung tasks?$/i, cause: 'hung_task_panic', trigger: ['hung-task'], meaning: 'kernel.hung_task_panic=1 turned a hung-task report into a panic' },
  { re: /hard ?lockup/i, cause: 'hardlockup_panic', trigger: ['hard-lockup'], meaning: 'kernel.hardlockup_panic=1 (or nmi_watchdog=panic) turned a hard-lockup report into a panic' },
  { re: /Fatal exception in interrupt/i, cause: 'oops-in-interrupt', trigger: ['null-deref', 'paging-request', 'gpf', 'oops', 'bug'], meaning: 'an oops in interrupt context cannot be survived by killing a task' },
  { re: /Fatal exception|Oops|panic_on_oops/i, cause: 'oops', trigger: ['null-deref', 'paging-request', 'gpf', 'oops', 'bug', 'kasan', 'kfence'], meaning: 'an oops with kernel.panic_on_oops=1, or in a context that cannot continue' },
  { re: /panic_on_warn|WARNING/i, cause: 'panic_on_warn', trigger: ['warning', 'kasan', 'kfence', 'ubsan'], meaning: 'kernel.panic_on_warn=1 turned a warning into a panic' },
  { re: /NMI: Not continuing|NMI IOCK error|NMI received for unknown reason|unknown_nmi/i, cause: 'nmi', trigger: ['unknown-nmi'], meaning: 'an NMI the kernel could not attribute (typically injected by an operator or the hypervisor to force a dump of a hung machine) with unknown_nmi_panic / panic_on_unrecovered_nmi set' },
  { re: /Out of memory|System is deadlocked on memory|oom/i, cause: 'oom', trigger: ['oom'], meaning: 'out of memory with panic_on_oom, or nothing left to kill' },
  { re: /RCU Stall/i, cause: 'rcu_stall_panic', trigger: ['rcu-stall'], meaning: 'kernel.panic_on_rcu_stall=1 turned an RCU stall into a panic' },
  { re: /Attempted to kill init/i, cause: 'init-died', trigger: ['null-deref', 'paging-request', 'gpf', 'oops', 'bug'], meaning: 'PID 1 exited or was killed' },
  { re: /VFS: Unable to mount root fs|No working init found|Requested init .* failed/i, cause: 'boot', trigger: [], meaning: 'the kernel could not mount the root filesystem or start init (a boot configuration problem)' },
  { re: /sysrq triggered crash/i, cause: 'sysrq', trigger: [], meaning: 'an operator triggered the crash with SysRq-c (echo c > /proc/sysrq-trigger): a deliberate dump' },
  { re: /Machine check|MCE|Hardware Error/i, cause: 'mce', trigger: ['mce'], meaning: 'a fatal machine check: hardware reported an uncorrectable error' },
];

/** The graph node a trigger event is about: the CPU of a lockup, the task of a hung-task report, the grace period of a stall, else the event. */
function triggerNode(e: LogEvent): string {
  if ((e.kind === 'soft-lockup' || e.kind === 'hard-lockup') && e.cpu !== undefined) return cpuNode(e.cpu);
  if (e.kind === 'hung-task' && e.task) return taskNode(e.task.pid);
  if (e.kind === 'rcu-stall') return RCU_GP;
  return eventNode(e.id);
}

export function panicDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const events = ctx.c.events;
  // Old kernels print `Kernel panic - not syncing: Watchdog detected hard LOCKUP` as the lockup report itself.
  for (const p of events.filter((e) => e.kind === 'panic' || e.details.panicReason !== undefined)) {
    const reason = p.details.panicReason ?? p.title.replace(/^.*not syncing:\s*/, '');
    const rule = PANIC_RULES.find((r) => r.re.test(reason));
    const idx = events.indexOf(p);
    const before = events.slice(0, idx).reverse();
    let trigger = p.kind !== 'panic' ? p : rule ? before.find((e) => rule.trigger.includes(e.kind)) : undefined;
    // A report whose header is not in the log, just before the panic, is what it panics about.
    const fragment = before[0] && before[0].title.startsWith(FRAGMENT_TITLE) && p.line - before[0].endLine <= 3 ? before[0] : undefined;
    if (!trigger && fragment) trigger = fragment;
    // Old kernels print the lockup report as the panic itself (`Kernel panic - not syncing: Hard LOCKUP` with the CPU's stack).
    const selfReport = !trigger && p.cpu !== undefined && (rule?.cause === 'hardlockup_panic' || rule?.cause === 'softlockup_panic');
    if (selfReport) trigger = p;
    const cause = rule?.cause ?? p.details.panicCause ?? 'unknown';
    const isDeliberate = cause === 'sysrq' || cause === 'nmi';
    const summary = `Kernel panic${p.cpu !== undefined ? ` on CPU ${p.cpu}` : ''}: "${reason}" (${cause})${trigger ? `, triggered by ${trigger.title.replace(/\.$/, '')}` : ''}${isDeliberate ? ' — a dump forced from outside; the panic is not the fault' : ''}`;
    const steps = [
      `The kernel panicked: "${reason}".`,
      rule ? `That reason means ${rule.meaning}.` : 'The reason is not one Coroner classifies; read it as printed.',
      trigger ? `The event that triggered it: "${trigger.title}" (line ${trigger.line}).` : rule?.trigger.length ? 'Its usual trigger was not found in the log before it.' : '',
    ].filter(Boolean);
    if (isDeliberate) steps.push('A forced dump tells that someone thought the machine was hung; the cause, if any, is in the state of the CPUs and tasks at that time, not in the panic.');
    else if (trigger) steps.push('The panic is a consequence of its trigger: what caused the trigger is the cause (the wait-for graph follows it).');
    else steps.push('No earlier failure in the evidence triggered it.');
    const parked = ctx.c.cpus.filter((x) => x.cpu !== p.cpu && isParked(x.registers?.pcSymbol?.function, (x.stack ?? []).map((f) => f.function)));
    if (parked.length) steps.push(`CPU(s) ${parked.map((x) => x.cpu).join(', ')} were stopped by the panic (${parked[0].registers?.pcSymbol?.function ?? 'stop_this_cpu'}): halted on purpose, not involved.`);
    const node = eventNode(p.id);
    const f = finding(ctx, 'panic', trigger || isDeliberate ? 'symptom' : 'root', summary, {
      confidence: trigger || isDeliberate ? 0.95 : 0.6,
      subjects: [{ kind: 'event', id: p.id }, ...(p.cpu !== undefined ? [{ kind: 'cpu' as const, cpu: p.cpu }] : []), ...(trigger ? [{ kind: 'event' as const, id: trigger.id }] : [])],
      evidence: [eventFact(p), ...(trigger ? [eventFact(trigger)] : [])],
      steps,
      confirm: ['crash> sys   # PANIC: line', 'crash> log | tail -100', ...(p.cpu !== undefined ? [`crash> bt -c ${p.cpu}`] : [])],
      extra: { cause, reason, ...(trigger ? { trigger: trigger.id } : {}), ...(isDeliberate ? { deliberate: true } : {}) },
      nodes: [node],
    });
    ctx.node(node, 'event', `panic: ${reason}`, f.id);
    if (trigger && trigger !== p) ctx.edge(node, triggerNode(trigger), 'caused-by', f.id, cause);
    if (selfReport) ctx.edge(node, cpuNode(p.cpu!), 'caused-by', f.id, `${cause}: the report of CPU ${p.cpu}`);
    out.push(f);
  }
  // The console shows a kdump capture kernel booting but no panic: the first kernel went into kdump without the
  // console seeing why (printk from NMI context is deferred; an operator NMI or a hard lockup leaves nothing).
  const boot = ctx.c.system.kdumpCaptureBoot;
  if (boot && !events.some((e) => e.kind === 'panic' || e.details.panicReason !== undefined)) {
    out.push(
      finding(ctx, 'panic', 'root', 'The first kernel went into kdump (a capture kernel booted after it), but this log does not say why', {
        confidence: 0.3,
        evidence: [{ text: 'kdump capture kernel boot (elfcorehdr= on its command line)', from: { kind: 'log', source: boot.source, line: boot.line } }],
        steps: [
          `At line ${boot.line} a kernel boots with elfcorehdr= on its command line: the kdump capture kernel, started by crash_kexec after a panic or an NMI.`,
          'No panic or oops reached this log before it: messages printed from NMI context are deferred and lost when kdump takes over, and a machine hung with interrupts off prints nothing.',
          'The reason is in the dump: analyse the vmcore and vmcore-dmesg.txt written by the capture kernel (/var/crash/<host>-<date>/).',
        ],
        confirm: ['coroner analyze /var/crash/<dir>   # the vmcore and vmcore-dmesg.txt', 'crash> sys   # PANIC:', 'crash> bt -a'],
        extra: { cause: 'kdump-capture-boot', line: boot.line },
        nodes: ['event:kdump-capture-boot'],
      }),
    );
  }
  return out;
}
