/**
 * Per-CPU facts: the current task (per-CPU `current_task`, in `pcpu_hot` on 6.2+; rq->curr
 * otherwise), the idle task, the preemption count and what it says about the context (NMI,
 * hard IRQ, serving a softirq, bottom halves disabled), the runqueue clock.
 */
import { attempt } from '../kernel/errors.ts';
import type { Kernel } from '../kernel/value.ts';
import type { Scheduler } from './sched.ts';

/** preempt_count layout (include/linux/preempt.h). */
const PREEMPT_MASK = 0xff;
const SOFTIRQ_SHIFT = 8;
const SOFTIRQ_MASK = 0xff << SOFTIRQ_SHIFT;
const SOFTIRQ_OFFSET = 1 << SOFTIRQ_SHIFT;
const HARDIRQ_SHIFT = 16;
const HARDIRQ_MASK = 0xf << HARDIRQ_SHIFT;
const NMI_SHIFT = 20;
const NMI_MASK = 0xf << NMI_SHIFT;
/** x86 keeps PREEMPT_NEED_RESCHED inverted in bit 31. */
const PREEMPT_NEED_RESCHED = 0x80000000;

export interface PreemptState {
  /** The raw per-CPU value. */
  raw: number;
  /** Preemption-disable depth (low byte). */
  preemptDepth: number;
  softirqCount: number;
  hardirqCount: number;
  nmiCount: number;
  /** Contexts, outermost first: softirq (serving), irq, nmi. */
  contexts: Array<'softirq' | 'irq' | 'nmi'>;
  /** local_bh_disable() depth without serving a softirq. */
  bhDisabled: boolean;
  needResched: boolean;
}

/** Decodes a preempt_count value. */
export function decodePreemptCount(raw: number): PreemptState {
  const v = raw & ~PREEMPT_NEED_RESCHED;
  const softirq = (v & SOFTIRQ_MASK) >> SOFTIRQ_SHIFT;
  const hardirq = (v & HARDIRQ_MASK) >> HARDIRQ_SHIFT;
  const nmi = (v & NMI_MASK) >> NMI_SHIFT;
  const contexts: PreemptState['contexts'] = [];
  if (v & SOFTIRQ_OFFSET) contexts.push('softirq');
  // nmi_enter() adds HARDIRQ_OFFSET too: an IRQ context below the NMI shows as a larger count.
  if (hardirq > nmi) contexts.push('irq');
  if (nmi) contexts.push('nmi');
  return {
    raw,
    preemptDepth: v & PREEMPT_MASK,
    softirqCount: softirq,
    hardirqCount: hardirq,
    nmiCount: nmi,
    contexts,
    bhDisabled: (v & SOFTIRQ_MASK) - (v & SOFTIRQ_OFFSET) > 0,
    needResched: (raw & PREEMPT_NEED_RESCHED) === 0,
  };
}

export interface CpuInfo {
  cpu: number;
  /** The CPU's current task (task_struct address). */
  current?: bigint;
  /** Where `current` came from: `current_task` (per-CPU) or `rq->curr`. */
  currentFrom?: string;
  idle?: bigint;
  /** rq->clock, ns. */
  clock?: bigint;
  preempt?: PreemptState;
  notes: string[];
}

/** Per-CPU facts for `cpu`. */
export function cpuInfo(k: Kernel, sched: Scheduler, cpu: number): CpuInfo {
  const rq = sched.runqueue(cpu);
  const out: CpuInfo = { cpu, idle: rq.idle, clock: rq.clock, notes: [...rq.notes] };
  const hot = k.btf.variable('pcpu_hot') !== undefined;
  const cur = attempt(() => (hot ? k.perCpu('pcpu_hot', cpu).member('current_task').pointer() : k.perCpu('current_task', cpu).pointer()));
  if (cur.ok && cur.value !== 0n) {
    out.current = cur.value;
    out.currentFrom = hot ? 'pcpu_hot.current_task' : 'current_task';
    if (rq.curr !== undefined && rq.curr !== cur.value) out.notes.push(`CPU ${cpu}: current_task 0x${cur.value.toString(16)} differs from rq->curr 0x${rq.curr.toString(16)} (caught in a context switch)`);
  } else if (rq.curr !== undefined) {
    out.current = rq.curr;
    out.currentFrom = 'rq->curr';
  }
  const pc = attempt(() => (hot ? k.perCpu('pcpu_hot', cpu).member('preempt_count').u32() : k.perCpu('__preempt_count', cpu, 'int').u32()));
  if (pc.ok) out.preempt = decodePreemptCount(pc.value);
  else out.notes.push(`CPU ${cpu}: preempt_count unknown because ${pc.unknown}`);
  return out;
}
