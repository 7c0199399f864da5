/**
 * The library API over one vmcore (package export `coroner/dump`): what `coroner dump` reads, for scripts — tasks, CPUs,
 * symbols, memory, typed globals from the dump's BTF, and backtraces, from the vmcore alone (no debuginfo).
 *
 *   const dump = openDump('vmcore');
 *   for (const t of dump.tasks()) if (t.state === 'UN') console.log(t.pid, t.comm, dump.stackOf(t)[0]?.function);
 *   dump.variable('jiffies_seq').member('seqcount.sequence').number();
 *   dump.close();
 */
import { openKernelDump, type KernelDump, type TaskInfo, type Value } from '../sources/dump/index.ts';
import type { Kernel } from '../sources/dump/kernel/value.ts';
import type { Frame } from '../model/trace.ts';

export type { Value, Kernel };

/** A task as the scheduler walk reads it. */
export interface DumpTask {
  /** struct task_struct address. */
  address: bigint;
  pid: number;
  tgid: number;
  ppid: number;
  comm: string;
  /** crash's state names: RU, IN, UN, ID, ZO, ... */
  state: string;
  cpu: number;
  kthread: boolean;
  /** The runqueue's current task of its CPU. */
  current: boolean;
}

/** One frame of a backtrace, innermost first. */
export interface DumpStackFrame {
  function: string;
  offset?: number;
  module?: string;
  /** Instruction address (hex, no 0x). */
  address?: string;
  /** false for a frame found by scanning rather than unwinding. */
  reliable: boolean;
  /** Which stack it is on: task, irq, softirq, nmi, exception, entry, user. */
  stack: Frame['stack'];
}

export interface DumpCpu {
  cpu: number;
  task?: DumpTask;
  stack: DumpStackFrame[];
}

export interface DumpSymbol {
  name: string;
  address: bigint;
  /** Distance from the symbol's start, for an address lookup. */
  offset: number;
  module?: string;
}

export interface OpenedDump {
  readonly path: string;
  readonly release: string | undefined;
  readonly arch: 'x86_64' | 'arm64';
  /** Typed access to kernel memory through the dump's BTF: `kernel.value(addr, 'struct mm_struct')`, `kernel.type(...)`. */
  readonly kernel: Kernel;
  /** What was damaged, missing or guessed while reading: results are partial when not empty. */
  readonly incomplete: readonly string[];
  /** Every task (threads included), walked lazily. */
  tasks(): IterableIterator<DumpTask>;
  task(pid: number): DumpTask | undefined;
  /** Every online CPU with its current task and backtrace. */
  cpus(): DumpCpu[];
  /** A symbol by name, or the symbol an address falls in. */
  symbol(nameOrAddress: string | bigint): DumpSymbol | undefined;
  /** Kernel virtual memory; throws for an address the dump does not hold (excluded or unmapped). */
  read(address: bigint, length: number): Buffer;
  /** A global variable as a typed value: `.member('a.b')`, `.index(i)`, `.deref()`, `.number()`, `.string()`. */
  variable(name: string): Value;
  /** A task's backtrace, innermost first. */
  stackOf(task: DumpTask | number): DumpStackFrame[];
  /** The kernel log (printk ring buffer) as lines. */
  log(): string[];
  close(): void;
}

/** Opens a vmcore (kdump-compressed, ELF, flattened, split; `systemMap` for kernels whose dump has no kallsyms). */
export function openDump(path: string, opts: { systemMap?: string } = {}): OpenedDump {
  const d = openKernelDump(path, opts);
  return new DumpHandle(d);
}

const taskOf = (t: TaskInfo): DumpTask => ({ address: t.address, pid: t.pid, tgid: t.tgid, ppid: t.ppid, comm: t.comm, state: t.state.crash, cpu: t.cpu, kthread: t.kthread, current: t.current });

const frameOf = (f: Frame): DumpStackFrame => {
  const out: DumpStackFrame = { function: f.function, reliable: f.reliable, stack: f.stack };
  if (f.offset !== undefined) out.offset = f.offset;
  if (f.module) out.module = f.module;
  if (f.address) out.address = f.address;
  return out;
};

class DumpHandle implements OpenedDump {
  constructor(private readonly d: KernelDump) {}

  get path(): string {
    return this.d.path;
  }

  get release(): string | undefined {
    return this.d.release;
  }

  get arch(): 'x86_64' | 'arm64' {
    return this.d.arch;
  }

  get kernel(): Kernel {
    return this.d.kernel;
  }

  get incomplete(): readonly string[] {
    return this.d.incomplete;
  }

  *tasks(): IterableIterator<DumpTask> {
    for (const t of this.d.scheduler.tasks()) yield taskOf(t);
  }

  task(pid: number): DumpTask | undefined {
    const t = this.d.scheduler.tasks().find((x) => x.pid === pid && !x.idle);
    return t ? taskOf(t) : undefined;
  }

  cpus(): DumpCpu[] {
    return this.d.onlineCpus().map((cpu) => {
      const b = this.d.backtracer.cpu(cpu);
      return { cpu, ...(b.task ? { task: taskOf(b.task) } : {}), stack: b.trace.frames.map(frameOf) };
    });
  }

  symbol(nameOrAddress: string | bigint): DumpSymbol | undefined {
    const s = this.d.symbols;
    if (typeof nameOrAddress === 'string') {
      const address = s.address(nameOrAddress);
      return address === undefined ? undefined : { name: nameOrAddress, address, offset: 0, ...moduleOf(s.lookup(address)) };
    }
    const info = s.lookup(nameOrAddress);
    return info ? { name: info.name, address: nameOrAddress - BigInt(info.offset), offset: info.offset, ...moduleOf(info) } : undefined;
  }

  read(address: bigint, length: number): Buffer {
    return this.d.kernel.read(address, length);
  }

  variable(name: string): Value {
    return this.d.kernel.variable(name);
  }

  stackOf(task: DumpTask | number): DumpStackFrame[] {
    const pid = typeof task === 'number' ? task : task.pid;
    const address = typeof task === 'number' ? undefined : task.address;
    const t = this.d.scheduler.tasks().find((x) => (address !== undefined ? x.address === address : x.pid === pid && !x.idle));
    if (!t) throw new Error(`no task with pid ${pid} in ${this.d.path}`);
    return this.d.backtracer.task(t).trace.frames.map(frameOf);
  }

  log(): string[] {
    return this.d.log();
  }

  close(): void {
    this.d.close();
  }
}

const moduleOf = (info: { module?: string } | undefined) => (info?.module ? { module: info.module } : {});
