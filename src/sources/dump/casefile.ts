/**
 * A vmcore's CPUs, tasks and system facts into the CaseFile: every online CPU (current task,
 * registers, IRQs on/off, user/kernel mode, idle, NMI/IRQ/softirq context, backtrace as
 * crash `bt -c N` sees it) and every task (state, CPU, times, command line, backtrace).
 * The dump is more direct than the log: its stacks and registers replace what log events gave.
 */
import { cpuOf, taskOf, type CaseFile, type CpuState, type TaskState } from '../../model/casefile.ts';
import type { Fact, Provenance } from '../../model/provenance.ts';
import type { Frame, RegisterSet } from '../../model/trace.ts';
import type { KernelDump } from './index.ts';
import { panicString } from './index.ts';
import { attempt } from './kernel/errors.ts';
import { registerSetOf, type Backtrace, type DumpFrame, type Regs } from './arch/x86_64/unwind.ts';
import type { TaskInfo } from './walk/sched.ts';
import { arm64CpuRegisters, arm64RegisterSet } from './arch/arm64/registers.ts';

/** Above this many tasks, only tasks not sleeping interruptibly get a stack (S/I stacks cost time, rarely matter). */
const ALL_STACKS_UP_TO = 20_000;

/** Scheduler functions a task's wchan skips (the kernel's __sched section, as far as a trace shows it). */
const SCHED_FUNCTIONS = /^(__schedule|schedule|schedule_timeout|schedule_preempt_disabled|schedule_hrtimeout_range(_clock)?|schedule_hrtimeout|io_schedule|io_schedule_timeout|__wait_for_common|wait_for_common|wait_for_completion\w*|do_wait_for_common|preempt_schedule\w*|__cond_resched|usleep_range_state|do_nanosleep|hrtimer_nanosleep|rwsem_down_\w+_slowpath|__mutex_lock\w*|mutex_lock\w*|__down\w*|down|down_read|down_write|__rt_mutex\w*|rt_mutex\w*|bit_wait\w*|__wait_on_bit\w*|out_of_line_wait_on_bit\w*|futex_wait_queue|schedule_\w+)$/;

function hex(v: bigint): string {
  return BigInt.asUintN(64, v).toString(16);
}

/** A dump frame as the model keeps it (plain JSON: no bigints). */
export function modelFrame(f: DumpFrame): Frame {
  const out: Frame = { function: f.function, reliable: f.reliable, stack: f.stack };
  if (f.offset !== undefined) out.offset = f.offset;
  if (f.size !== undefined) out.size = f.size;
  if (f.module) out.module = f.module;
  if (f.address) out.address = f.address;
  if (f.exceptionRip) out.exceptionRip = true;
  // An arm64 exception frame saved user_pt_regs (x0-x30, sp, pc, pstate); x86_64's saved pt_regs by their own names.
  if (f.pt) out.regs = f.pt.regs.pstate !== undefined && f.pt.regs.x30 !== undefined ? arm64RegisterSet(f.pt.regs) : registerSetOf(f.pt.regs);
  const sp = f.pt?.regs.rsp ?? f.slot;
  if (sp !== undefined) out.sp = hex(sp);
  return out;
}

function withSymbol(rs: RegisterSet, dump: KernelDump, rip: bigint | undefined): RegisterSet {
  if (rip === undefined || (rs.mode === 'user')) return rs;
  const s = dump.symbols.lookup(rip);
  if (s) rs.pcSymbol = { function: s.name, offset: s.offset, size: s.size, ...(s.module ? { module: s.module } : {}) };
  return rs;
}

/** The kernel function a sleeping task waits in: the first frame that is not scheduler plumbing. */
export function wchanOf(frames: Frame[]): string | undefined {
  const f = frames.find((x) => x.reliable && !SCHED_FUNCTIONS.test(x.function) && !x.function.startsWith('0x'));
  return f?.function;
}

function traceFacts(bt: Backtrace, from: Provenance, who: string): Fact[] {
  const facts: Fact[] = [];
  if (bt.end.kind === 'error' || bt.end.kind === 'limit') facts.push({ text: `${who}: stack trace ends early: ${bt.end.detail}`, from });
  for (const n of bt.notes) facts.push({ text: `${who}: ${n}`, from });
  return facts;
}

/** Fills c.system, c.cpus and c.tasks from the dump. Needs BTF; without it, says why in the system facts. */
export function fillCaseFromDump(c: CaseFile, dump: KernelDump): void {
  const source = dump.path;
  const prov = (what: string, address?: bigint): Provenance => ({ kind: 'dump', source, what, ...(address !== undefined ? { address } : {}) });
  const sys = c.system;
  if (dump.release) sys.release = dump.release;
  sys.arch = dump.arch;
  if (dump.vmcoreinfo.crashTime !== undefined) sys.crashTime = new Date(Number(dump.vmcoreinfo.crashTime) * 1000).toISOString();
  const panic = attempt(() => panicString(dump.printk()));
  if (panic.ok && panic.value && !sys.panic) sys.panic = panic.value;
  if (!dump.btf) {
    sys.facts.push({ text: `CPUs and tasks of the dump unknown: ${dump.btfError ?? 'no kernel types'}`, from: prov('BTF') });
    return;
  }
  const k = dump.kernel;
  // The hung-task detector's own threshold: a D task counts as hung past it.
  const hung = attempt(() => Number(k.variable('sysctl_hung_task_timeout_secs', 'unsigned long').u64()));
  if (hung.ok && hung.value > 0 && hung.value < 1e6) {
    sys.hungTaskTimeout = hung.value;
    sys.facts.push({ text: `kernel.hung_task_timeout_secs = ${hung.value}`, from: { kind: 'dump', source: dump.path, what: 'sysctl_hung_task_timeout_secs' } });
  }
  const uts = attempt(() => k.variable('init_uts_ns').member('name.nodename').string(65));
  if (uts.ok && uts.value) sys.hostname = uts.value;
  const online = dump.onlineCpus();
  const cpus = dump.walkCpus();
  sys.cpus = cpus.length;
  const offline = cpus.filter((x) => !online.includes(x));
  if (offline.length) sys.facts.push({ text: `CPU(s) ${offline.join(', ')} not in cpu_online_mask: stopped (by panic, kexec or hot-unplug), still captured by the hypervisor`, from: prov('cpu_online_mask') });
  sys.facts.push({ text: `dump taken by ${dump.dumpedBy === 'kdump' ? 'the kernel (kdump)' : dump.dumpedBy === 'hypervisor' ? 'the hypervisor (QEMU dump-guest-memory): CPU registers are live' : 'an unknown path'}`, from: prov('VMCOREINFO / notes') });

  const sched = dump.scheduler;
  const bt = dump.backtracer;
  const tasks = sched.tasks();
  let maxClock = 0n;

  // CPUs.
  const currentOf = new Map<bigint, number>();
  for (const cpu of cpus) {
    const cb = bt.cpu(cpu);
    const st: CpuState = cpuOf(c, cpu);
    const from = prov(`bt -c ${cpu}`);
    if (cb.info.clock !== undefined && cb.info.clock > maxClock) maxClock = cb.info.clock;
    if (cb.task) {
      st.task = { comm: cb.task.comm, pid: cb.task.pid };
      currentOf.set(cb.task.address, cpu);
      st.idle = cb.task.idle;
    }
    const frames = cb.trace.frames;
    st.stack = frames.map(modelFrame);
    st.stackFrom = from;
    // The context whose flags tell whether this CPU runs with IRQs off: the note, except on the kdump
    // panic CPU, whose note is taken in the panic path: there, the context the panic interrupted.
    let ctxRegs: Regs | undefined = cb.registers;
    if (cb.registers && cb.trace.start.startsWith('kdump: machine_kexec')) {
      const interrupted = frames.find((f) => f.pt && (f.pt.regs.cs ?? 0n) % 4n === 0n && f.pt.regs.eflags !== undefined);
      if (interrupted?.pt) ctxRegs = interrupted.pt.regs;
    }
    if (cb.registers) {
      const rs = withSymbol(registerSetOf(cb.registers, frames[0]?.stack), dump, cb.registers.rip);
      st.registers = rs;
      st.facts.push({ text: `CPU ${cpu} registers from the dump's ${cb.noteSource === 'prstatus' && dump.dumpedBy === 'kdump' ? 'kdump crash note' : 'CPU note'}: RIP ${hex(cb.registers.rip)}${rs.pcSymbol ? ` (${rs.pcSymbol.function}+0x${rs.pcSymbol.offset?.toString(16)})` : ''}`, from });
    }
    const arm64 = dump.arch === 'arm64' ? bt.noteOf(cpu)?.arm64 : undefined;
    if (arm64) {
      const read = arm64CpuRegisters(arm64, (a) => dump.symbols.lookup(a), (a) => dump.stripPac(a));
      st.registers = read.registers;
      st.irqsEnabled = read.registers.irqsEnabled;
      st.mode = read.registers.mode;
      const rs = read.registers;
      const where = read.vectorEntry
        ? ` = ${read.vectorEntry}, taken as the vCPU stopped: the interrupted PC is not in the note (ELR_EL1); ${rs.mode === 'user' ? 'it was running user code' : `LR ${hex(dump.stripPac(arm64.x30 ?? 0n))} is in ${rs.pcSymbol?.function ?? '?'}`}, with IRQs enabled (the interrupt was taken)`
        : `${rs.pcSymbol ? ` (${rs.pcSymbol.function}+0x${rs.pcSymbol.offset?.toString(16)})` : ''}, ${rs.mode === 'user' ? 'EL0' : 'EL1'}, IRQs ${rs.irqsEnabled ? 'enabled' : 'masked (PSTATE.I)'}`;
      st.facts.push({ text: `CPU ${cpu} registers from the dump's CPU note: PC ${hex(arm64.pc ?? 0n)}${where}; PSTATE ${hex(arm64.pstate ?? 0n)}`, from });
    }
    if (ctxRegs) {
      const rs = registerSetOf(ctxRegs);
      st.irqsEnabled = rs.irqsEnabled;
      st.mode = rs.mode;
      if (ctxRegs !== cb.registers) st.facts.push({ text: `CPU ${cpu}: interrupted at ${frames.find((f) => f.pt?.regs === ctxRegs)?.function ?? hex(ctxRegs.rip)} with IRQs ${rs.irqsEnabled ? 'on' : 'off'} (RFLAGS ${hex(ctxRegs.eflags ?? 0n)})`, from });
    }
    const pre = cb.info.preempt;
    const contexts = new Set<'nmi' | 'irq' | 'softirq'>(pre?.contexts ?? []);
    for (const f of frames) if (f.stack === 'nmi' || f.stack === 'irq') contexts.add(f.stack);
    st.contexts = (['softirq', 'irq', 'nmi'] as const).filter((x) => contexts.has(x));
    if (pre) {
      st.preempt = { raw: pre.raw >>> 0, depth: pre.preemptDepth ?? 0, bhDisabled: !!pre.bhDisabled, contexts: [...pre.contexts] };
      st.facts.push({
        text: `CPU ${cpu} preempt_count 0x${(pre.raw >>> 0).toString(16)}: ${pre.contexts.length ? `in ${pre.contexts.join(' < ')}` : 'task context'}${pre.preemptDepth ? `, preemption disabled (depth ${pre.preemptDepth})` : ''}${pre.bhDisabled ? ', bottom halves disabled' : ''}`,
        from: prov(`per_cpu preempt_count of CPU ${cpu}`),
      });
    }
    if (dump.dumpedBy === 'kdump' && cb.trace.start.startsWith('kdump: crash_nmi_callback')) {
      st.facts.push({ text: `CPU ${cpu} was stopped by the kdump NMI (crash_nmi_callback); the context it interrupted is below the NMI frames`, from });
    }
    st.facts.push(...traceFacts(cb.trace, from, `CPU ${cpu}`));
    for (const n of cb.info.notes) st.facts.push({ text: n, from });
  }
  if (maxClock > 0n) sys.uptime = Number(maxClock) / 1e9;

  // Tasks.
  const withStacks = tasks.length <= ALL_STACKS_UP_TO;
  const cmdlines = new Map<bigint, ReturnType<KernelDump['cmdline']>>();
  for (const t of tasks) {
    const ts = taskRecord(c, t);
    ts.tgid = t.tgid;
    ts.ppid = t.ppid;
    ts.state = t.state.letter;
    ts.cpu = t.cpu;
    ts.kthread = t.kthread;
    ts.exiting = t.exiting;
    if (t.startTime !== undefined) ts.startTime = t.startTime;
    if (t.sinceLastRun !== undefined && t.state.letter !== 'R' && !t.current) ts.blockedSeconds = Math.max(ts.blockedSeconds ?? 0, Math.round(t.sinceLastRun * 1000) / 1000);
    const from = prov(`task ${t.pid} (ps)`, t.address);
    ts.facts.push({ text: `${t.comm}:${t.pid} ${t.state.crash} (${t.state.words}, state 0x${t.stateValue.toString(16)}) on CPU ${t.cpu}${t.current ? ', current task of its CPU' : ''}${t.sinceLastRun !== undefined ? `, last ran ${t.sinceLastRun.toFixed(3)}s before the dump` : ''}`, from });
    if (t.mm !== 0n && !t.kthread) {
      let cl = cmdlines.get(t.mm);
      if (!cl) {
        cl = dump.cmdline(t);
        cmdlines.set(t.mm, cl);
      }
      if (cl.ok) ts.cmdline = cl.value;
      else ts.facts.push({ text: `command line unknown: ${cl.unknown}`, from });
    }
    const needStack = withStacks || t.current || !['S', 'I'].includes(t.state.letter);
    if (!needStack) continue;
    const tb = bt.task(t);
    const cpu = tb.cpu;
    ts.stack = tb.trace.frames.map(modelFrame);
    ts.stackFrom = prov(cpu !== undefined ? `bt -c ${cpu}` : `bt ${t.pid}`, t.address);
    if (t.state.letter !== 'R' && !t.current) {
      const w = wchanOf(ts.stack);
      if (w) ts.wchan = w;
    }
    ts.facts.push(...traceFacts(tb.trace, ts.stackFrom, `${t.comm}:${t.pid}`));
  }
  for (const n of sched.notes) sys.facts.push({ text: `task list: ${n}`, from: prov('task list') });
}

/** The task record for a dump task: by pid, idle tasks (pid 0, one per CPU) by comm too. */
function taskRecord(c: CaseFile, t: TaskInfo): TaskState {
  if (t.pid !== 0) {
    const r = taskOf(c, t.pid, t.comm);
    r.comm = t.comm;
    return r;
  }
  let r = c.tasks.find((x) => x.pid === 0 && x.comm === t.comm);
  if (!r) {
    r = { pid: 0, comm: t.comm, events: [], facts: [] };
    c.tasks.push(r);
  }
  return r;
}
