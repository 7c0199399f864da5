/** Small questions detectors ask of a stack: where is the CPU, is it in an interrupt, what lock does it spin on. */
import type { LogEvent } from '../model/event.ts';
import type { Frame, RegisterSet } from '../model/trace.ts';
import {
  IDLE_FUNCTIONS,
  IPI_WAIT_FUNCTIONS,
  matchesAny,
  NMI_MACHINERY_FUNCTIONS,
  OOPS_PATH_FUNCTIONS,
  OTHER_SPIN_FUNCTIONS,
  SPINLOCK_SLOWPATH_FUNCTIONS,
  isParked,
} from './known/frames.ts';

export function reliable(trace: readonly Frame[]): Frame[] {
  return trace.filter((f) => f.reliable);
}

/** The function the CPU was executing: the RIP of the first register dump, else the first reliable frame. */
export function pcFunction(e: Pick<LogEvent, 'registers' | 'trace'>): { function: string; module?: string } | undefined {
  const regs = e.registers.find((r) => r.pcSymbol && r.mode !== 'user');
  if (regs?.pcSymbol) return { function: regs.pcSymbol.function, module: regs.pcSymbol.module };
  const f = reliable(e.trace)[0];
  return f ? { function: f.function, module: f.module } : undefined;
}

/** Function names from the PC down, reliable frames only, with kdump/NMI machinery removed. */
export function callChain(e: Pick<LogEvent, 'registers' | 'trace'>): string[] {
  const names: string[] = [];
  const pc = pcFunction(e);
  if (pc) names.push(pc.function);
  for (const f of reliable(e.trace)) {
    if (names[names.length - 1] === f.function) continue;
    names.push(f.function);
  }
  return names.filter((n) => !matchesAny(n, NMI_MACHINERY_FUNCTIONS));
}

export function chainHas(chain: readonly string[], table: RegExp[], within = chain.length): number {
  for (let i = 0; i < Math.min(within, chain.length); i++) if (matchesAny(chain[i], table)) return i;
  return -1;
}

/** Names of interrupt entry points: their presence under the PC means the CPU was in hard-IRQ context. */
export const IRQ_ENTRY = [
  /^asm_sysvec_/,
  /^sysvec_/,
  /^__sysvec_/,
  /^asm_common_interrupt$/,
  /^common_interrupt$/,
  /^do_IRQ$/,
  /^handle_irq$/,
  /^irq_exit(_rcu)?$/,
  /^hrtimer_interrupt$/,
  /^__hrtimer_run_queues$/,
  /^smp_apic_timer_interrupt$/,
  /^apic_timer_interrupt$/,
  /^handle_edge_irq$/,
  /^handle_fasteoi_irq$/,
  /^__handle_irq_event_percpu$/,
  /^gic_handle_irq$/,
  /^el1_interrupt$/,
  /^__do_softirq$/,
  /^run_timer_softirq$/,
  /^net_rx_action$/,
];

/** true when the event's kernel code ran in interrupt context (IRQ frames or `<IRQ>` stacks under the PC). */
export function inInterrupt(e: Pick<LogEvent, 'registers' | 'trace' | 'details'>): boolean {
  if (e.details.inInterrupt) return true;
  if (e.trace.some((f) => f.reliable && (f.stack === 'irq' || f.stack === 'softirq'))) return true;
  return e.trace.some((f) => f.reliable && matchesAny(f.function, IRQ_ENTRY));
}

/** The register set printed for a user-mode context at the bottom of a trace means kernel entry from user space. */
export function userRegisters(e: Pick<LogEvent, 'registers'>): RegisterSet | undefined {
  return e.registers.find((r) => r.mode === 'user');
}

export function kernelRegisters(e: Pick<LogEvent, 'registers'>): RegisterSet[] {
  return e.registers.filter((r) => r.mode !== 'user');
}

export interface SpinSite {
  /** The slow-path function the CPU is in. */
  function: string;
  /** Lock address from the first-argument register (rdi on x86_64, x0 on arm64), when the registers were printed. */
  lockAddress?: string;
  /** The first non-locking frame below the slow path: the code that asked for the lock. */
  caller?: Frame;
  kind: 'spinlock' | 'other';
}

/** Where a CPU spins, if its PC or top frames are in a lock slow path or another spin loop. */
export function spinSite(e: Pick<LogEvent, 'registers' | 'trace' | 'details'>): SpinSite | undefined {
  const chain = callChain(e);
  const i = chainHas(chain, SPINLOCK_SLOWPATH_FUNCTIONS, 3);
  const j = i < 0 ? chainHas(chain, OTHER_SPIN_FUNCTIONS, 2) : -1;
  if (i < 0 && j < 0) return undefined;
  const regs = kernelRegisters(e)[0];
  const lockAddress = regs ? (regs.values.rdi ?? regs.values.x0) : undefined;
  const caller = reliable(e.trace).find(
    (f) => !matchesAny(f.function, SPINLOCK_SLOWPATH_FUNCTIONS) && !matchesAny(f.function, OTHER_SPIN_FUNCTIONS),
  );
  return {
    function: chain[i >= 0 ? i : j],
    lockAddress: i >= 0 ? lockAddress : undefined,
    caller,
    kind: i >= 0 ? 'spinlock' : 'other',
  };
}

/** The index in the chain where the CPU waits for an IPI, or -1. */
export function ipiWaitIndex(e: Pick<LogEvent, 'registers' | 'trace'>): number {
  return chainHas(callChain(e), IPI_WAIT_FUNCTIONS, 6);
}

export function inOopsPath(chain: readonly string[]): boolean {
  return chain.some((n) => matchesAny(n, OOPS_PATH_FUNCTIONS) && n !== 'panic');
}

export function isIdle(e: Pick<LogEvent, 'registers' | 'trace' | 'details'>): boolean {
  if (e.details.idle) return true;
  const pc = pcFunction(e);
  if (!pc) return false;
  return matchesAny(pc.function, IDLE_FUNCTIONS) || isParked(pc.function, callChain(e));
}

export function hex(v: string | undefined): bigint | undefined {
  if (!v) return undefined;
  try {
    return BigInt(`0x${v.replace(/^0x/, '')}`);
  } catch {
    return undefined;
  }
}
