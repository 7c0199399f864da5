/**
 * The stacks an x86_64 CPU runs on, read from the kernel: the task's stack (task->stack,
 * THREAD_SIZE from init_stack..__end_init_task), the per-CPU IRQ stack (`hardirq_stack_ptr`,
 * in `pcpu_hot` on 6.2+; it points at the top word, which saves the interrupted RSP), and the
 * IST exception stacks of the cpu_entry_area (`cea_exception_stacks`: DF, NMI, DB, MCE, VC, VC2).
 */
import { attempt } from '../../kernel/errors.ts';
import type { Kernel } from '../../kernel/value.ts';
import type { StackRange } from './unwind.ts';

const DEFAULT_THREAD_SIZE = 16384n;
const DEFAULT_IRQ_STACK_SIZE = 16384n;

/** crash's names for the IST stacks. */
const IST_NAMES: Record<string, string> = { DF: 'DOUBLEFAULT', NMI: 'NMI', DB: 'DEBUG', MCE: 'MCE', VC: 'VC', VC2: 'VC2' };

export class StackLayout {
  readonly threadSize: bigint;
  readonly irqStackSize: bigint;
  private readonly perCpu = new Map<number, StackRange[]>();
  readonly notes: string[] = [];

  constructor(readonly kernel: Kernel) {
    const s = kernel.symbols;
    const start = s.address('init_stack') ?? s.address('__start_init_stack');
    const end = s.address('__end_init_task') ?? s.address('__end_init_stack');
    const size = start !== undefined && end !== undefined ? end - start : undefined;
    this.threadSize = size !== undefined && size > 0n && size <= 1n << 20n && (size & (size - 1n)) === 0n ? size : DEFAULT_THREAD_SIZE;
    let irq = DEFAULT_IRQ_STACK_SIZE;
    const id = kernel.btf.variable('irq_stack_backing_store');
    if (id !== undefined) {
      const n = BigInt(kernel.btf.sizeof(kernel.btf.get(id).type!));
      if (n >= 4096n && n <= 1n << 20n) irq = n;
    }
    this.irqStackSize = irq;
  }

  /** The kernel stack of a task from task->stack. */
  taskStack(stackBase: bigint): StackRange {
    return { kind: 'task', name: 'task', start: stackBase, end: stackBase + this.threadSize };
  }

  /** The IRQ and exception stacks of one CPU (empty when they cannot be read). */
  cpuStacks(cpu: number): StackRange[] {
    const hit = this.perCpu.get(cpu);
    if (hit) return hit;
    const k = this.kernel;
    const out: StackRange[] = [];
    const irqTop = attempt(() => {
      if (k.btf.variable('pcpu_hot') !== undefined) return k.perCpu('pcpu_hot', cpu).member('hardirq_stack_ptr').pointer();
      return k.perCpu('hardirq_stack_ptr', cpu, 'void *').pointer();
    });
    if (irqTop.ok && irqTop.value !== 0n) {
      // hardirq_stack_ptr = stack + IRQ_STACK_SIZE - 8: the word at the top keeps the previous RSP.
      const end = irqTop.value + 8n;
      out.push({ kind: 'irq', name: 'IRQ', start: end - this.irqStackSize, end });
    } else if (!irqTop.ok) this.notes.push(`IRQ stack of CPU ${cpu} unknown because ${irqTop.unknown}`);
    const cea = attempt(() => {
      const p = k.perCpu('cea_exception_stacks', cpu).pointer();
      const t = k.type('struct cea_exception_stacks');
      const r: StackRange[] = [];
      for (const name of t.memberNames()) {
        const m = /^(\w+)_stack$/.exec(name);
        if (!m || name.endsWith('_guard')) continue;
        const off = BigInt(t.offsetOf(name));
        const size = BigInt(t.member(name).type.sizeof);
        const label = IST_NAMES[m[1]] ?? m[1];
        r.push({ kind: m[1] === 'NMI' ? 'nmi' : 'exception', name: `${label} exception`, start: p + off, end: p + off + size });
      }
      return r;
    });
    if (cea.ok) out.push(...cea.value);
    else this.notes.push(`exception stacks of CPU ${cpu} unknown because ${cea.unknown}`);
    // The entry trampoline stack of the cpu_entry_area (entry from user mode with PTI): TSS sp0 is its top.
    const entry = attempt(() => {
      const top = k.perCpu('cpu_tss_rw', cpu).member('x86_tss').member('sp0').u64();
      const size = BigInt(attempt(() => k.type('struct entry_stack').sizeof).ok ? k.type('struct entry_stack').sizeof : 4096);
      return { kind: 'entry', name: 'ENTRY', start: top - size, end: top } as StackRange;
    });
    if (entry.ok && entry.value.end !== 0n && !stackIn(out, entry.value.start)) out.push(entry.value);
    this.perCpu.set(cpu, out);
    return out;
  }

  /** The NMI stack of a CPU. */
  nmiStack(cpu: number): StackRange | undefined {
    return this.cpuStacks(cpu).find((s) => s.kind === 'nmi');
  }
}

/** Finds the range holding `addr` among `ranges`. */
export function stackIn(ranges: StackRange[], addr: bigint): StackRange | undefined {
  return ranges.find((r) => addr >= r.start && addr < r.end);
}
