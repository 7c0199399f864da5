/**
 * A thread frozen on one instruction (cases/frozen-instruction.md): runnable through the whole
 * window, and every sample of its user PC and call stack is the same. A CPU never stops, so the
 * instruction either branches to itself, or faults and is restarted forever — by this kernel
 * (faults and signals counted, kernel time), or below it (nothing counted here, very low IPC: a
 * hypervisor re-enters the guest on the same instruction) — or the thread never really runs
 * because its CPU drowns in interrupts.
 */
import type { CaseFile, PcSample, TaskActivity, TaskState } from '../model/casefile.ts';
import type { Finding, KnownIssueMatch } from '../model/finding.ts';
import type { Fact } from '../model/provenance.ts';
import { finding, taskNode, type DetectorContext } from './context.ts';

export type FrozenCause = 'branch-to-self' | 'fault-loop-in-kernel' | 'fault-loop-below-kernel' | 'interrupt-storm' | 'unknown';

/** Fewer samples than this cannot show that a PC "never changes". */
const MIN_SAMPLES = 5;
/** Share of samples on one PC for a strictly frozen thread (one stray sample of skid allowed in 20). */
const FROZEN_SHARE = 0.95;
/** A fault loop with a signal handler spends some samples in the handler and in sigreturn. */
const FAULT_LOOP_SHARE = 0.5;
/** Below this many instructions per cycle a busy thread is mostly not executing (IPC of healthy code: 0.2 and up). */
const LOW_IPC = 0.1;

const EXCEPTION_ENTRY = /^(asm_exc_|exc_|el0_(da|ia|sync)|do_mem_abort|do_page_fault|page_fault$)/;
const FAULT_SIGNALS = [4, 5, 7, 8, 11]; // SIGILL, SIGTRAP, SIGBUS, SIGFPE, SIGSEGV

export const S1PTW_KNOWN_ISSUE: KnownIssueMatch = {
  id: 'kvm-arm64-s1ptw-exec-fault',
  title: 'KVM arm64: an instruction fetch faulting during a stage-1 page-table walk is handled as an exec fault instead of a write fault, forever',
  references: ['KVM: arm64: Assume write fault on S1PTW permission fault on instruction fetch (upstream, backported to stable 4.19 and later)'],
  fix: 'Update the host kernel (KVM) to a release with the S1PTW write-fault fix; meanwhile, ptrace-attaching the thread (COW of the text page) unsticks it.',
};

function perSecond(n: number | undefined, act: TaskActivity): number | undefined {
  return n === undefined || !act.seconds ? undefined : n / act.seconds;
}

function sigMask(hex: string | undefined): bigint {
  return hex && /^[0-9a-fA-F]+$/.test(hex) ? BigInt(`0x${hex}`) : 0n;
}

function hasSignal(hex: string | undefined, sig: number): boolean {
  return ((sigMask(hex) >> BigInt(sig - 1)) & 1n) === 1n;
}

interface Frozen {
  pc: string;
  symbol?: string;
  stack: string[];
  share: number;
  count: number;
  /** Every sample on this PC had the same user stack. */
  sameStack: boolean;
}

/** The dominant PC of the samples and how dominant it is. */
export function dominantPc(samples: readonly PcSample[]): Frozen | undefined {
  if (!samples.length) return undefined;
  const groups = new Map<string, PcSample[]>();
  for (const s of samples) groups.set(s.pc, [...(groups.get(s.pc) ?? []), s]);
  const [pc, list] = [...groups].sort((a, b) => b[1].length - a[1].length)[0];
  const key = (s: PcSample): string => s.userStack.join(' < ');
  return {
    pc,
    symbol: list.find((s) => s.pcSymbol)?.pcSymbol,
    stack: list[0].userStack,
    share: list.length / samples.length,
    count: list.length,
    sameStack: list.every((s) => key(s) === key(list[0])),
  };
}

function cpuShare(act: TaskActivity): number {
  return ((act.userSeconds ?? 0) + (act.systemSeconds ?? 0)) / (act.seconds || 1);
}

/**
 * Runnable in every sample and never sleeping of its own accord: it wants the whole CPU. On a
 * crowded host it gets only its share of one, hence the low bar on CPU time actually used.
 */
function alwaysRunning(t: TaskState): boolean {
  const act = t.activity;
  if (!act?.states || act.states.length < 3 || !act.states.every((s) => s === 'R')) return false;
  if ((act.voluntarySwitches ?? 0) > act.seconds) return false;
  return cpuShare(act) >= 0.05;
}

function interruptStorm(c: CaseFile, cpu: number | undefined): { rate: number; median: number; top?: string } | undefined {
  if (cpu === undefined) return undefined;
  const rates = c.cpus.filter((x) => x.interrupts?.seconds).map((x) => ({ cpu: x.cpu, rate: x.interrupts!.total / x.interrupts!.seconds, top: x.interrupts!.top[0] }));
  const mine = rates.find((r) => r.cpu === cpu);
  if (!mine) return undefined;
  const others = rates.filter((r) => r.cpu !== cpu).map((r) => r.rate).sort((a, b) => a - b);
  const median = others.length ? others[Math.floor(others.length / 2)] : 0;
  if (mine.rate >= 20_000 && mine.rate >= 5 * Math.max(median, 1)) return { rate: mine.rate, median, top: mine.top ? `${mine.top.irq} (${mine.top.name})` : undefined };
  return undefined;
}

function fmt(n: number): string {
  return n >= 100 ? String(Math.round(n)) : n.toFixed(n >= 10 ? 1 : 2);
}

export function frozenInstructionDetector(ctx: DetectorContext): Finding[] {
  const out: Finding[] = [];
  const c = ctx.c;
  for (const t of c.tasks) {
    if (!alwaysRunning(t)) continue;
    const act = t.activity!;
    const label = `${t.comm}:${t.pid}`;
    const pid = t.tgid ?? t.pid;
    const statPath = act.from?.kind === 'live' ? act.from.path : `/proc/${pid}/task/${t.pid}/stat`;
    const share = cpuShare(act);
    const sys = (act.systemSeconds ?? 0) / Math.max((act.userSeconds ?? 0) + (act.systemSeconds ?? 0), 1e-9);
    const faultRate = perSecond(act.pageFaults, act);
    const minfltRate = perSecond((act.minorFaults ?? 0) + (act.majorFaults ?? 0), act);
    const sigRate = perSecond(act.signalsDelivered, act);
    // Kernel entries of the stack samples (empty: it was on a CPU at that moment, nothing to see).
    const entries = (act.kernelEntries ?? []).filter((e) => e !== '');
    const faultEntries = entries.filter((e) => EXCEPTION_ENTRY.test(e));
    const loopEntries = entries.filter((e) => EXCEPTION_ENTRY.test(e) || /:rt_sigreturn$/.test(e)).length;
    const exceptionEntries = faultEntries.length;
    // A busy user-space loop shows timer-interrupt entries; a fault loop keeps showing exception entries.
    const enteredByFaults = exceptionEntries >= 2 && loopEntries * 3 >= entries.length;
    const faultLoopInKernel =
      (sigRate ?? 0) >= 100 || (faultRate ?? 0) >= 1000 || (minfltRate ?? 0) >= 1000 || (enteredByFaults && sys >= 0.5);
    const caughtFault = FAULT_SIGNALS.filter((s) => hasSignal(t.signals?.caught, s));
    const evidence: Fact[] = [
      {
        text: `${label} was runnable in all ${act.states!.length} samples over ${fmt(act.seconds)}s and used ${Math.round(share * 100)}% of a CPU (${Math.round((1 - sys) * 100)}% user, ${Math.round(sys * 100)}% kernel)`,
        from: { kind: 'live', path: statPath, what: 'utime/stime, state' },
      },
    ];
    const counters: string[] = [];
    if (act.minorFaults !== undefined) counters.push(`minflt +${act.minorFaults}`);
    if (act.majorFaults !== undefined) counters.push(`majflt +${act.majorFaults}`);
    if (act.pageFaults !== undefined) counters.push(`page faults (perf) ${act.pageFaults}`);
    if (act.signalsDelivered !== undefined) counters.push(`signals delivered (perf) ${act.signalsDelivered}`);
    if (act.voluntarySwitches !== undefined) counters.push(`voluntary switches +${act.voluntarySwitches}`);
    if (counters.length) evidence.push({ text: `over the window: ${counters.join(', ')}`, from: { kind: 'live', path: statPath, what: 'counters' } });
    if (t.signals) {
      evidence.push({
        text: `signals: pending ${t.signals.pending ?? '?'}, shared pending ${t.signals.sharedPending ?? '?'}, blocked ${t.signals.blocked ?? '?'}, caught ${t.signals.caught ?? '?'}`,
        from: { kind: 'live', path: statPath.replace(/stat$/, 'status'), what: 'SigPnd/ShdPnd/SigBlk/SigCgt' },
      });
    }
    const ipc = act.instructions !== undefined && act.cycles ? act.instructions / act.cycles : undefined;
    const ipcNote = act.notes?.find((n) => n.startsWith('IPC unknown'));
    const ipcText = ipc !== undefined ? `IPC ${ipc.toFixed(3)}` : (ipcNote ?? 'IPC unknown: instructions and cycles were not counted');

    const samples = t.samples ?? [];
    const dom = samples.length >= MIN_SAMPLES ? dominantPc(samples) : undefined;
    const samplesPath = `perf record -g --user-regs=ip -t ${t.pid}`;

    // Without PC samples only a fault loop can still be seen, from kernel entries and kernel time.
    if (!dom) {
      if (!faultLoopInKernel) continue;
      const why = samples.length ? `only ${samples.length} PC sample(s)` : (act.notes?.find((n) => n.startsWith('user PC not sampled')) ?? 'no PC samples');
      const f = finding(ctx, 'frozen-instruction', 'root', `${label} appears to loop on a fault this kernel handles (user PC unknown: ${why})`, {
        confidence: 0.45,
        subjects: [{ kind: 'task', pid: t.pid, comm: t.comm }],
        evidence,
        steps: [
          `${label} stayed runnable and used ${Math.round(share * 100)}% of a CPU, ${Math.round(sys * 100)}% of it in the kernel.`,
          enteredByFaults
            ? `Of ${entries.length} samples of its kernel stack that showed one, ${exceptionEntries} entered through an exception (${[...new Set(faultEntries)].join(', ')})${loopEntries > exceptionEntries ? ` and ${loopEntries - exceptionEntries} returned from a signal handler (rt_sigreturn)` : ''}.`
            : 'The kernel counts faults or signals for it at a high rate.',
          `Whether the user PC is the same in every sample could not be checked (${why}).`,
        ],
        confirm: [`perf record -e cpu-clock -g --user-regs=ip -t ${t.pid} -- sleep 3 && perf script -F ip,sym,uregs`, `perf stat -e page-faults,signal:signal_deliver -t ${t.pid} -- sleep 3`],
        extra: { cause: 'fault-loop-in-kernel', pid, tid: t.pid, samples: samples.length },
      });
      linkGraph(ctx, t, f, 'unknown PC', 'fault-loop-in-kernel');
      out.push(f);
      continue;
    }

    const strictlyFrozen = dom.share >= FROZEN_SHARE && dom.sameStack;
    const loopFrozen = dom.share >= FAULT_LOOP_SHARE && dom.sameStack && faultLoopInKernel;
    if (!strictlyFrozen && !loopFrozen) continue;

    const where = `0x${dom.pc}${dom.symbol ? ` (${dom.symbol})` : ''}`;
    evidence.push({
      text: `${dom.count} of ${samples.length} samples at user PC ${where}, with the same call stack: ${dom.stack.slice(0, 4).join(' < ') || '(none)'}`,
      from: { kind: 'live', path: samplesPath },
    });
    const code = t.code && t.code.address === dom.pc ? t.code : undefined;
    if (code) evidence.push({ text: `instruction at ${where}: ${code.text ?? '?'} (bytes ${code.bytes})`, from: code.from ?? { kind: 'live', path: `/proc/${pid}/mem` } });
    const storm = interruptStorm(c, t.cpu);

    let cause: FrozenCause;
    let summary: string;
    let confidence: number;
    const steps = [
      `${label} stayed runnable through all ${act.states!.length} samples and used ${Math.round(share * 100)}% of a CPU${share < 0.8 ? ` — it never sleeps${act.voluntarySwitches !== undefined ? ` (${act.voluntarySwitches} voluntary switches)` : ''}; it got no more because other tasks share the CPU${act.involuntarySwitches !== undefined ? ` (${act.involuntarySwitches} preemptions)` : ''}` : ''}.`,
      `${dom.count} of ${samples.length} perf samples (${Math.round(dom.share * 100)}%) have the same user PC ${where} and the same call stack: the thread does not move.`,
      'A CPU never stops: an instruction looks frozen only if it branches to itself, if it faults and is restarted forever (a fault saves the PC of the faulting instruction), or if the thread never really runs.',
    ];
    let knownIssue: KnownIssueMatch | undefined;
    const confirm = [
      `perf record -e cpu-clock -g --user-regs=ip -t ${t.pid} -- sleep 3 && perf script -F ip,sym,uregs`,
      `perf stat -e page-faults,signal:signal_deliver,instructions,cycles -t ${t.pid} -- sleep 3`,
      `grep -E 'Sig|ctxt' /proc/${pid}/task/${t.pid}/status`,
    ];
    if (code?.branchesToItself) {
      cause = 'branch-to-self';
      confidence = 0.95;
      summary = `${label} spins on an instruction that branches to itself at ${where} (${code.text})`;
      steps.push(`The instruction at the PC is \`${code.text}\`, a branch whose target is its own address: the program loops on it by design or by a bug; the kernel is not involved.`);
      confirm.push(`gdb -p ${pid} -batch -ex 'thread find ${t.pid}' -ex 'x/2i $pc'`);
    } else if (faultLoopInKernel) {
      cause = 'fault-loop-in-kernel';
      confidence = strictlyFrozen ? 0.85 : 0.75;
      const handler = caughtFault.length && (act.signalsDelivered ?? 0) > 0;
      summary = handler
        ? `${label} faults on the same instruction at ${where} forever: the kernel delivers the fault signal (${fmt(sigRate ?? 0)}/s) and its handler returns without fixing the cause`
        : `${label} faults on the same instruction at ${where} forever: this kernel takes the fault each time and the thread re-executes it`;
      if (code && !code.branchesToItself) steps.push(`The instruction at the PC, \`${code.text}\`, does not branch to itself.`);
      steps.push(
        [
          faultRate !== undefined ? `The kernel takes ${fmt(faultRate)} page faults/s on it` : undefined,
          sigRate !== undefined ? `delivers ${fmt(sigRate)} signals/s` : undefined,
          minfltRate ? `resolves ${fmt(minfltRate)} faults/s (minflt)` : undefined,
          `and ${Math.round(sys * 100)}% of its CPU time is kernel time`,
        ]
          .filter(Boolean)
          .join(', ') + ': every pass through the instruction ends in the kernel.',
      );
      if (handler) {
        steps.push(`The process catches ${caughtFault.map((s) => ({ 4: 'SIGILL', 5: 'SIGTRAP', 7: 'SIGBUS', 8: 'SIGFPE', 11: 'SIGSEGV' })[s as 4]).join(', ')}: the handler returns to the faulting instruction without changing what made it fault, so it faults again (the other samples are in the handler and sigreturn).`);
      } else if (minfltRate) {
        steps.push('The kernel resolves a fault on it every time and it faults again: a mapping that does not stick (a driver fault handler, userfaultfd write-protect, NUMA hinting) is worth checking.');
      }
      confirm.push(`perf trace -F all --no-syscalls -t ${t.pid} -- sleep 1   # the faulting address`);
    } else if (storm) {
      cause = 'interrupt-storm';
      confidence = 0.6;
      summary = `${label} hardly runs: CPU ${t.cpu} takes ${fmt(storm.rate)} interrupts/s${storm.top ? `, mostly ${storm.top}` : ''}`;
      steps.push(`CPU ${t.cpu} took ${fmt(storm.rate)} interrupts/s against a median of ${fmt(storm.median)}/s on the other CPUs: the samples land where the thread is interrupted, again and again.`);
      confirm.push(`watch -d -n1 "grep -E 'CPU|LOC|${storm.top?.split(' ')[0] ?? ''}' /proc/interrupts"`);
    } else {
      const noFaults = act.pageFaults !== undefined ? act.pageFaults === 0 : (act.minorFaults ?? 1) + (act.majorFaults ?? 1) === 0;
      const noSignals = act.signalsDelivered !== undefined ? act.signalsDelivered === 0 : sigMask(t.signals?.pending) === 0n && sigMask(t.signals?.sharedPending) === 0n;
      const userBound = sys <= 0.1;
      const lowIpc = ipc !== undefined && ipc < LOW_IPC;
      // Without the instruction, a very low IPC still rules out a branch to itself: such a loop retires an instruction
      // about every cycle.
      if (noFaults && noSignals && userBound && strictlyFrozen && ((code && !code.repeats) || (!code && lowIpc))) {
        cause = 'fault-loop-below-kernel';
        confidence = !code ? 0.65 : ipc === undefined ? 0.6 : lowIpc ? 0.8 : 0.45;
        summary = `${label} re-executes the instruction at ${where} forever, with no fault or signal seen by this kernel: the fault is resolved below it (hypervisor)`;
        steps.push(
          code
            ? `The instruction at the PC, \`${code.text}\`, does not branch to itself.`
            : `The instruction at the PC is not in the evidence (perf annotate, or gdb x/i $pc, would show it); a branch to itself would still retire about one instruction per cycle, and ${ipcText} rules that out.`,
          `This kernel counts ${act.pageFaults !== undefined ? 'no page faults (perf)' : 'no resolved faults (minflt/majflt)'} and ${act.signalsDelivered !== undefined ? 'no signal deliveries (perf)' : 'no pending signals'} for it, and ${Math.round((1 - sys) * 100)}% of its time is user time.`,
          ipc !== undefined
            ? `${ipcText}${lowIpc ? ': far below healthy code, the cycles go somewhere this kernel cannot see.' : ': not particularly low, which weakens the case.'}`
            : `${ipcText}: the low IPC expected when cycles are spent below the kernel could not be checked.`,
          'So the instruction is being restarted by a fault taken and "resolved" below this kernel — the hypervisor (stage-2 / EPT) — which re-enters the guest on the same instruction: escalate to the host.',
          'Checks: does ptrace-attaching (gdb) unstick it (the breakpoint write copies the text page)? does it only happen with shared or forked text?',
        );
        if (c.system.arch === 'arm64') knownIssue = { ...S1PTW_KNOWN_ISSUE, differences: ['the host (hypervisor) kernel version cannot be seen from this guest: check it has the fix'] };
        confirm.push(`gdb -p ${pid} -batch -ex 'thread find ${t.pid}' -ex 'x/2i $pc'   # also a test: attaching may unstick it`, 'on the host: perf kvm stat live / trace kvm:kvm_exit and kvm:kvm_page_fault (arm64: kvm:kvm_guest_fault) for this vCPU');
      } else {
        cause = 'unknown';
        confidence = 0.4;
        summary = `${label} is stuck at ${where}${code?.text ? ` (${code.text})` : ''}: why could not be determined`;
        const missing: string[] = [];
        if (!code) missing.push('the instruction at the PC could not be read');
        if (code?.repeats) missing.push(`the instruction (${code.text}) is a repeated string operation, which can legitimately stay on one PC for a long time`);
        if (!noFaults) missing.push('faults were counted but at a low rate');
        if (!noSignals) missing.push('signals were pending or delivered');
        if (!userBound && !faultLoopInKernel) missing.push(`${Math.round(sys * 100)}% of its time is kernel time without a fault pattern`);
        if (!strictlyFrozen) missing.push(`only ${Math.round(dom.share * 100)}% of the samples are on this PC`);
        steps.push(`Not a branch to itself, no fault loop and no interrupt storm was proven: ${missing.join('; ') || 'the evidence is incomplete'}.`, ipcText + '.');
      }
    }
    if (cause !== 'fault-loop-below-kernel' && cause !== 'unknown') steps.push(`${ipcText}.`);
    const extra: Finding['extra'] = { cause, pid, tid: t.pid, pc: dom.pc, samples: samples.length, pcSamples: dom.count };
    if (dom.symbol) extra.symbol = dom.symbol;
    if (code?.text) extra.instruction = code.text;
    if (ipc !== undefined) extra.ipc = Math.round(ipc * 1000) / 1000;
    const f = finding(ctx, 'frozen-instruction', 'root', summary, {
      confidence,
      subjects: [{ kind: 'task', pid: t.pid, comm: t.comm }],
      evidence,
      steps,
      confirm,
      extra,
      nodes: [taskNode(t.pid), `fault:${t.pid}`],
    });
    if (knownIssue) f.knownIssue = knownIssue;
    linkGraph(ctx, t, f, code?.text ?? `0x${dom.pc}`, cause);
    out.push(f);
  }
  return out;
}

function linkGraph(ctx: DetectorContext, t: TaskState, f: Finding, what: string, cause: string): void {
  const node = `fault:${t.pid}`;
  ctx.node(taskNode(t.pid), 'task', `${t.comm}:${t.pid}`, f.id);
  ctx.node(node, 'fault', `${what}: ${cause}`, f.id);
  ctx.edge(taskNode(t.pid), node, 'spins-on', f.id);
}
