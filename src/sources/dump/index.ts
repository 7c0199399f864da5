/**
 * A vmcore opened for analysis without debuginfo: container -> kernel virtual memory ->
 * symbols (kallsyms in the dump, else System.map) -> BTF types -> typed kernel API, walkers.
 * Symbols, BTF and modules are loaded on first use, so `log()` touches only the printk ring.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { InputError } from '../../model/errors.ts';
import { openKernelMemory, type KernelMemory } from './arch/x86_64/index.ts';
import { openArm64Memory } from './arch/arm64/memory.ts';
import type { StackKind } from '../../model/trace.ts';
import { Arm64Unwinder, stripPacBits } from './arch/arm64/unwind.ts';
import { openDumpContainer } from './format/open.ts';
import type { DumpContainer } from './format/types.ts';
import { parseVmcoreinfo, type Vmcoreinfo } from './format/vmcoreinfo.ts';
import { Btf } from './kernel/btf.ts';
import { KernelLayoutError, attempt, isMemoryError } from './kernel/errors.ts';
import { decodeKallsymsColumns, type KallsymsLocation } from './kernel/kallsyms.ts';
import { START_KERNEL_MAP, SymbolTable, Symbols, readSystemMap } from './kernel/symbols.ts';
import { Kernel, KernelTypes } from './kernel/value.ts';
import { listEntries } from './walk/list.ts';
import { readModules } from './walk/modules.ts';
import { formatLog, readPrintkLog, type PrintkLog } from './walk/printk.ts';
import { Scheduler, taskCmdline, type TaskInfo } from './walk/sched.ts';
import { Backtracer } from './walk/backtraces.ts';

export { Kernel, Value, KType } from './kernel/value.ts';
export type { TaskInfo } from './walk/sched.ts';
export type { CpuBacktrace, TaskBacktrace } from './walk/backtraces.ts';
export type { Backtrace, DumpFrame, Regs } from './arch/x86_64/unwind.ts';
export { Symbols, SymbolTable, type SymbolInfo } from './kernel/symbols.ts';
export { Btf, BtfKind } from './kernel/btf.ts';
export { KernelLayoutError, UnreadableMemoryError, attempt, isMemoryError } from './kernel/errors.ts';

export interface OpenKernelDumpOptions {
  /** A System.map to use instead of the dump's kallsyms (or when the dump has none). */
  systemMap?: string;
}

export interface DumpInfo {
  path: string;
  format: string;
  /** For flattened streams: the reassembled format. */
  innerFormat?: string;
  compression: string[];
  headerVersion?: number;
  dumpLevel?: number;
  arch: string;
  release?: string;
  /** uts version string (`#1 SMP PREEMPT_DYNAMIC Debian ...`). */
  version?: string;
  nodename?: string;
  banner?: string;
  cpus: {
    /** CPU register notes in the dump. */
    notes: number;
    /** Where the notes come from: `prstatus` (kdump / QEMU) and/or `qemu-cpustate`. */
    noteSources: string[];
    /** nr_cpus from the kdump header. */
    headerCount?: number;
    /** CPUs set in cpu_online_mask. */
    online?: number[];
    /** CPUs captured but offline (stopped by panic/kexec in a hypervisor dump). */
    stopped?: number[];
    nrCpuIds?: number;
  };
  /** How the dump was taken: `kdump` (the kernel's crash path) or `hypervisor` (QEMU dump-guest-memory). */
  dumpedBy: 'kdump' | 'hypervisor' | 'unknown';
  /** VMCOREINFO CRASHTIME (seconds since the epoch), kdump only. */
  crashTime?: number;
  /** When the dump file was written (kdump header timestamp), if recorded. */
  dumpWritten?: number;
  /** Why there is no crash time. */
  crashTimeNote?: string;
  /** The kernel's wall clock when memory was captured (timekeeper xtime_sec). */
  clockAtDump?: number;
  /** Seconds since boot at dump time, from the newest log record. */
  lastLogSeconds?: number;
  panic?: string;
  kaslrOffset: string;
  physBase: string;
  physBaseSource: string;
  pagingLevels: number;
  /** `kallsyms-in-dump`, a System.map path, or `none` (then `error` says why). */
  symbols: { source: string; count: number; modules: string[]; error?: string };
  /** `BTF` or `none` (then `error` says why). */
  types: { source: 'BTF' | 'none'; bytes: number; count: number; error?: string };
  incomplete: string[];
}

/** Picks the dump file inside a /var/crash/<dir> directory. */
export function resolveDumpPath(path: string): string {
  if (path === '-') throw new InputError('a vmcore cannot be read from stdin: a dump is read at random offsets, so it must be a file: give its path', path);
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'no such file or directory' : `cannot open: ${code ?? (e as Error).message}`, path);
  }
  if (!st.isDirectory()) return path;
  const names = readdirSync(path);
  for (const want of ['vmcore', 'vmcore.kdump', 'vmcore.flat', 'dump.kdump', 'dumpfile']) if (names.includes(want)) return join(path, want);
  const any = names.find((n) => /^vmcore/.test(n) && !/dmesg|\.txt$|\.log$/.test(n));
  if (any) return join(path, any);
  throw new InputError('directory holds no vmcore (looked for vmcore, vmcore.kdump, vmcore.flat)', path);
}

/** System.map next to the dump, or one directory up (fixtures keep one per kernel directory). */
export function findSystemMap(dumpPath: string, release?: string): string | undefined {
  const dir = dirname(resolve(dumpPath));
  const names = release ? [`System.map-${release}`, 'System.map'] : ['System.map'];
  for (const d of [dir, dirname(dir)]) for (const n of names) if (existsSync(join(d, n))) return join(d, n);
  if (release && existsSync(`/boot/System.map-${release}`)) return `/boot/System.map-${release}`;
  return undefined;
}

export class KernelDump {
  readonly path: string;
  readonly container: DumpContainer;
  readonly vmcoreinfo: Vmcoreinfo;
  readonly memory: KernelMemory;
  /** What is damaged, missing or guessed: results are partial. */
  readonly incomplete: string[] = [];
  private readonly opts: OpenKernelDumpOptions;
  private _symbols?: Symbols;
  private _btf?: Btf | null;
  private _btfError?: string;
  private _kernel?: Kernel;
  private _moduleTypes?: KernelTypes[];
  private _modulesLoaded = false;
  private _log?: PrintkLog;
  private _online?: number[];
  private _walk?: number[];
  private _sched?: Scheduler;
  private _bt?: Backtracer;

  constructor(path: string, container: DumpContainer, vmcoreinfo: Vmcoreinfo, memory: KernelMemory, opts: OpenKernelDumpOptions) {
    this.path = path;
    this.container = container;
    this.vmcoreinfo = vmcoreinfo;
    this.memory = memory;
    this.opts = opts;
    this.incomplete.push(...container.incomplete, ...memory.notes);
  }

  /** The dump's architecture. */
  get arch(): 'x86_64' | 'arm64' {
    return dumpArch(this.container, this.vmcoreinfo);
  }

  get release(): string | undefined {
    return this.vmcoreinfo.osrelease;
  }

  /** Core kernel symbols plus module symbols (when BTF is available). Throws InputError for a System.map that does not match. */
  get symbols(): Symbols {
    const s = this.coreSymbols();
    this.loadModules();
    return s;
  }

  private coreSymbols(): Symbols {
    if (!this._symbols) {
      this._symbols = this.loadSymbols();
      this.memory.useSymbols((n) => this._symbols!.core.address(n));
    }
    return this._symbols;
  }

  private loadModules(): void {
    if (this._modulesLoaded) return;
    this._modulesLoaded = true;
    if (!this.btf) return;
    const notes: string[] = [];
    this._symbols!.setModules(readModules(this.kernel, notes));
    this.incomplete.push(...notes);
  }

  private loadSymbols(): Symbols {
    const vi = this.vmcoreinfo;
    const read = (a: bigint, l: number) => this.memory.read(a, l);
    if (this.opts.systemMap) return this.systemMapSymbols(this.opts.systemMap);
    const s = vi.symbols;
    let kallsymsProblem: string | undefined;
    if (s.has('kallsyms_names') && s.has('kallsyms_num_syms') && s.has('kallsyms_token_table') && s.has('kallsyms_token_index')) {
      const loc: KallsymsLocation = {
        names: s.get('kallsyms_names')!,
        numSyms: s.get('kallsyms_num_syms')!,
        tokenTable: s.get('kallsyms_token_table')!,
        tokenIndex: s.get('kallsyms_token_index')!,
        offsets: s.get('kallsyms_offsets'),
        relativeBase: s.get('kallsyms_relative_base'),
        addresses: s.get('kallsyms_addresses'),
      };
      try {
        const table = new SymbolTable(decodeKallsymsColumns(read, loc));
        const syms = new Symbols(table, 'kallsyms-in-dump');
        const bad = this.verifySymbols(table);
        if (!bad && table.address('linux_banner') !== undefined) return syms;
        if (!bad) {
          // Text symbols only (CONFIG_KALLSYMS_ALL=n, as Debian's arm64 kernels): the globals the walkers read need a
          // System.map; one beside the dump (or in /boot) that matches the dump is used instead.
          const map = findSystemMap(this.path, vi.osrelease);
          if (map) {
            try {
              return this.systemMapSymbols(map);
            } catch (e) {
              if (!(e instanceof InputError)) throw e;
              this.incomplete.push(`${e.message}: kallsyms in the dump has text symbols only, so globals cannot be located`);
              return syms;
            }
          }
          this.incomplete.push('kallsyms in the dump has text symbols only (CONFIG_KALLSYMS_ALL=n) and no System.map was found beside the dump or in /boot: globals cannot be located (pass --system-map)');
          return syms;
        }
        this.incomplete.push(`kallsyms in the dump failed verification (${bad})`);
      } catch (e) {
        // Unreadable or damaged pages (memory errors, or InputError from a damaged page descriptor).
        if (!(isMemoryError(e) || e instanceof InputError || (e instanceof Error && e.name === 'KallsymsError'))) throw e;
        kallsymsProblem = `kallsyms in the dump could not be decoded: ${e instanceof InputError ? e.message : (e as Error).message}`;
        this.incomplete.push(kallsymsProblem);
      }
    }
    const map = findSystemMap(this.path, vi.osrelease);
    if (map) return this.systemMapSymbols(map);
    throw new InputError(
      `no symbols: ${kallsymsProblem ?? 'VMCOREINFO carries no kallsyms tables (kernels before 6.0)'} and no System.map was found next to the dump; pass --system-map FILE`,
      this.path,
    );
  }

  private systemMapSymbols(file: string): Symbols {
    // KASLR moves the kernel image: from START_KERNEL_MAP on x86_64, from KIMAGE_VADDR (= MODULES_END) on arm64.
    const arm64 = dumpArch(this.container, this.vmcoreinfo) === 'arm64';
    const imageStart = arm64 ? (this.vmcoreinfo.numbers.get('MODULES_END') ?? 0xffff800008000000n) : START_KERNEL_MAP;
    const table = new SymbolTable(readSystemMap(file, this.vmcoreinfo.kernelOffset, imageStart));
    const bad = this.verifySymbols(table);
    if (bad) throw new InputError(`System.map does not match the dump: ${bad}`, file);
    return new Symbols(table, file);
  }

  /** Checks a symbol table against the dump: VMCOREINFO SYMBOL() values and linux_banner vs OSRELEASE. Returns the problem or undefined. */
  private verifySymbols(table: SymbolTable): string | undefined {
    const vi = this.vmcoreinfo;
    // Kernel image addresses: above START_KERNEL_MAP on x86_64, anywhere in the upper half on arm64.
    const imageFloor = dumpArch(this.container, vi) === 'arm64' ? 1n << 63n : START_KERNEL_MAP;
    let matched = 0;
    for (const name of ['_stext', 'init_uts_ns', 'swapper_pg_dir', 'init_top_pgt', 'prb', 'node_online_map']) {
      const want = vi.symbols.get(name);
      const got = table.address(name);
      if (want === undefined || got === undefined || want < imageFloor) continue;
      if (want !== got) return `${name} is at 0x${got.toString(16)} in the map but at 0x${want.toString(16)} per VMCOREINFO`;
      matched++;
    }
    const banner = table.address('linux_banner');
    // A text-only table (CONFIG_KALLSYMS_ALL=n) has no linux_banner: _stext where VMCOREINFO puts it verifies it.
    if (banner === undefined) return matched > 0 && table.address('_stext') !== undefined ? undefined : 'it has no linux_banner symbol';
    let text: string;
    try {
      text = this.memory.readCString(banner, 512);
    } catch (e) {
      if (isMemoryError(e)) return `linux_banner at 0x${banner.toString(16)} cannot be read (${e.message})`;
      throw e;
    }
    const release = vi.osrelease;
    if (release && !text.startsWith(`Linux version ${release} `)) {
      const shown = JSON.stringify(text.slice(0, 40).replace(/[^\x20-\x7e]/g, '.'));
      return `linux_banner at 0x${banner.toString(16)} reads ${shown}, expected "Linux version ${release} ..." (VMCOREINFO OSRELEASE)`;
    }
    if (!release && !text.startsWith('Linux version ')) return `linux_banner at 0x${banner.toString(16)} does not read "Linux version ..."`;
    return undefined;
  }

  /** vmlinux BTF from `__start_BTF`..`__stop_BTF`, or undefined (see btfError). */
  get btf(): Btf | undefined {
    if (this._btf === undefined) {
      this._btf = null;
      const syms = this.coreSymbols();
      const start = syms.core.address('__start_BTF');
      const stop = syms.core.address('__stop_BTF');
      if (start === undefined || stop === undefined || stop <= start || stop - start > 256n << 20n) {
        this._btfError = 'the kernel has no __start_BTF/__stop_BTF symbols (CONFIG_DEBUG_INFO_BTF off)';
      } else {
        try {
          this._btf = new Btf(this.memory.read(start, Number(stop - start)));
        } catch (e) {
          if (isMemoryError(e) || (e instanceof Error && e.name === 'BtfFormatError')) this._btfError = `BTF at 0x${start.toString(16)} unreadable: ${e.message}`;
          else throw e;
        }
      }
      if (this._btfError) this.incomplete.push(`no types: ${this._btfError}`);
    }
    return this._btf ?? undefined;
  }

  get btfError(): string | undefined {
    return this._btfError;
  }

  /** The typed kernel API. Throws KernelLayoutError when the dump has no BTF. */
  get kernel(): Kernel {
    if (!this._kernel) {
      const btf = this.btf;
      if (!btf) throw new KernelLayoutError(`no kernel types: ${this._btfError}`, this.release);
      this._kernel = new Kernel(this.memory, btf, this.coreSymbols(), this.release);
      this._kernel.types.moduleTypes = () => this.moduleTypes();
      this.loadModules();
    }
    return this._kernel;
  }

  /**
   * Each loaded module's types: the kernel keeps a copy of every module's BTF (CONFIG_DEBUG_INFO_BTF_MODULES) on
   * `btf_modules` (struct btf_module -> struct btf: data, data_size), split over vmlinux's BTF. Read on the first type
   * vmlinux's BTF does not have; a module whose BTF cannot be read is left out with a note.
   */
  private moduleTypes(): KernelTypes[] {
    if (this._moduleTypes) return this._moduleTypes;
    this._moduleTypes = [];
    const k = this._kernel;
    const base = this._btf;
    if (!k || !base) return this._moduleTypes;
    const head = this.coreSymbols().core.address('btf_modules');
    if (head === undefined) return this._moduleTypes;
    const walk = attempt(() => [...listEntries(k, head, 'struct btf_module', 'list', { notes: [] }, 4096)]);
    if (!walk.ok) return this._moduleTypes;
    for (const bm of walk.value) {
      const r = attempt(() => {
        const b = bm.member('btf').deref();
        const size = b.member('data_size').u32();
        const data = b.member('data').pointer();
        if (data === 0n || size === 0 || size > 64 << 20) return undefined;
        const name = attempt(() => b.member('name').string(64));
        const mod = name.ok && name.value ? name.value : attempt(() => bm.member('module').deref().member('name').string(64));
        const label = typeof mod === 'string' ? mod : mod.ok ? mod.value : undefined;
        return new KernelTypes(new Btf(k.read(data, size, 'module BTF'), { base }), this.release, label);
      });
      if (r.ok && r.value) this._moduleTypes.push(r.value);
      else if (!r.ok) this.incomplete.push(`module BTF at 0x${bm.address.toString(16)} unreadable: ${r.unknown}`);
    }
    return this._moduleTypes;
  }

  /** printk records (read once). */
  printk(): PrintkLog {
    if (!this._log) {
      try {
        this._log = readPrintkLog((a, l) => this.memory.read(a, l), this.vmcoreinfo);
      } catch (e) {
        if (!(isMemoryError(e) || e instanceof Error)) throw e;
        this._log = { kind: 'lockless', records: [], notes: [`kernel log unavailable: ${(e as Error).message}`] };
      }
      this.incomplete.push(...this._log.notes);
    }
    return this._log;
  }

  /** The kernel log as crash's `log` prints it, one string per line. */
  log(): string[] {
    return formatLog(this.printk().records);
  }

  /** Everything `coroner dump info` shows. */
  info(): DumpInfo {
    const c = this.container;
    const vi = this.vmcoreinfo;
    const noteSources = [...new Set(c.cpuNotes.flatMap((n) => (n.control?.cr3 !== undefined && n.source === 'prstatus' ? ['prstatus', 'qemu-cpustate'] : [n.source])))];
    const dumpedBy = this.dumpedBy;
    const info: DumpInfo = {
      path: this.path,
      format: c.format,
      ...(c.innerFormat ? { innerFormat: c.innerFormat } : {}),
      compression: c.compression,
      headerVersion: c.headerVersion,
      dumpLevel: c.dumpLevel,
      arch: dumpArch(this.container, this.vmcoreinfo),
      release: vi.osrelease,
      cpus: { notes: c.cpuNotes.length, noteSources, headerCount: c.nrCpus },
      dumpedBy,
      kaslrOffset: `0x${vi.kernelOffset.toString(16)}`,
      physBase: `0x${this.memory.physBase.toString(16)}`,
      physBaseSource: this.memory.physBaseSource,
      pagingLevels: this.memory.levels,
      symbols: { source: 'none', count: 0, modules: [] },
      types: { source: 'none', bytes: 0, count: 0 },
      incomplete: [],
    };
    const stamp = (c as { header?: { timestamp?: bigint } }).header?.timestamp;
    if (stamp) info.dumpWritten = Number(stamp);
    if (vi.crashTime !== undefined) info.crashTime = Number(vi.crashTime);
    else info.crashTimeNote = dumpedBy === 'hypervisor' ? 'dump taken on request (hypervisor), no crash time' : 'no CRASHTIME in VMCOREINFO';

    try {
      const syms = this.symbols;
      info.symbols = { source: syms.source, count: syms.core.length, modules: syms.moduleList.map((m) => m.name) };
    } catch (e) {
      if (e instanceof InputError && this.opts.systemMap) throw e;
      if (!(e instanceof InputError)) throw e;
      info.symbols = { source: 'none', count: 0, modules: [], error: e.message };
    }
    const btf = this._symbols ? this.btf : undefined;
    info.types = btf
      ? { source: 'BTF', bytes: btf.data.length, count: btf.count }
      : { source: 'none', bytes: 0, count: 0, error: this._btfError ?? 'no symbols to find BTF' };

    if (btf) {
      const k = this.kernel;
      const uts = attempt(() => k.variable('init_uts_ns').member('name'));
      if (uts.ok) {
        const r = attempt(() => uts.value.member('release').string(65));
        const v = attempt(() => uts.value.member('version').string(65));
        const n = attempt(() => uts.value.member('nodename').string(65));
        if (r.ok && r.value !== vi.osrelease) this.incomplete.push(`init_uts_ns release ${JSON.stringify(r.value)} differs from VMCOREINFO OSRELEASE ${vi.osrelease}`);
        if (v.ok) info.version = v.value;
        if (n.ok) info.nodename = n.value;
      }
      const online = attempt(() => cpuMask(k, '__cpu_online_mask'));
      if (online.ok) info.cpus.online = online.value;
      const walked = attempt(() => this.walkCpus());
      if (walked.ok && online.ok) {
        const stopped = walked.value.filter((c) => !online.value.includes(c));
        if (stopped.length) info.cpus.stopped = stopped;
      }
      const ids = attempt(() => k.nrCpuIds);
      if (ids.ok) info.cpus.nrCpuIds = ids.value;
      const clock = attempt(() => wallClock(k));
      if (clock.ok && clock.value !== undefined) info.clockAtDump = clock.value;
    }
    if (this._symbols) {
      const b = this._symbols.core.address('linux_banner');
      if (b !== undefined) {
        const t = attempt(() => this.memory.readCString(b, 512));
        if (t.ok) info.banner = t.value.trimEnd();
      }
    }

    const log = this.printk();
    const last = log.records[log.records.length - 1];
    if (last) info.lastLogSeconds = Number(last.tsNsec / 1_000_000n) / 1000;
    info.panic = panicString(log);
    info.incomplete = [...new Set(this.incomplete)];
    return info;
  }

  /** How the dump was taken: kdump (VMCOREINFO has CRASHTIME), a hypervisor (QEMU's CPU-state notes, merged into `control` or separate, or its vCPU numbering), or unknown. */
  get dumpedBy(): DumpInfo['dumpedBy'] {
    const c = this.container;
    if (this.vmcoreinfo.crashTime !== undefined) return 'kdump';
    if (c.cpuNotes.some((n) => n.source === 'qemu-cpustate' || n.control?.cr3 !== undefined)) return 'hypervisor';
    // QEMU's arm64 dumps carry no CPU-state note, but its NT_PRSTATUS notes number the vCPUs 1, 2, 3... as pr_pid.
    if (c.cpuNotes.length > 1 && c.cpuNotes.every((n, i) => n.pid === i + 1)) return 'hypervisor';
    return 'unknown';
  }

  /** Online CPUs (cpu_online_mask), else one per register note. */
  onlineCpus(): number[] {
    if (!this._online) {
      const r = attempt(() => cpuMask(this.kernel, '__cpu_online_mask'));
      if (r.ok && r.value.length) this._online = r.value;
      else {
        this._online = this.container.cpuNotes.map((n) => n.cpu);
        this.incomplete.push(`online CPUs unknown${r.ok ? '' : ` because ${r.unknown}`}: using one per register note`);
      }
    }
    return this._online;
  }

  /**
   * The CPUs to walk (runqueues, idle tasks, backtraces, per-CPU sums). A hypervisor dump has a note for
   * every vCPU, and CPUs that panic() or kexec stopped have left cpu_online_mask but still exist: walk
   * the present ones. A kdump dump has notes only for the CPUs that were online: walk those.
   */
  walkCpus(): number[] {
    if (!this._walk) {
      const online = this.onlineCpus();
      this._walk = online;
      if (this.dumpedBy === 'hypervisor') {
        const present = attempt(() => cpuMask(this.kernel, '__cpu_present_mask'));
        const noted = this.container.cpuNotes.map((n) => n.cpu);
        const all = new Set([...online, ...(present.ok ? present.value.filter((c) => noted.includes(c)) : [])]);
        this._walk = [...all].sort((a, b) => a - b);
      }
    }
    return this._walk;
  }

  /** Tasks and runqueues (needs BTF). */
  get scheduler(): Scheduler {
    this._sched ??= new Scheduler(this.kernel, this.walkCpus());
    return this._sched;
  }

  /** Backtraces of CPUs and tasks (needs BTF and the ORC tables). */
  get backtracer(): Backtracer {
    this._bt ??= new Backtracer(this.kernel, this.scheduler, this.walkCpus(), this.container.cpuNotes, this.dumpedBy === 'kdump', this.arch === 'arm64' ? this.arm64Unwinding() : undefined);
    return this._bt;
  }

  private arm64Unwinding(): { unwinder: Arm64Unwinder; cpuContext: number } {
    const ptRegs = this.kernel.type('struct pt_regs');
    const stackframe = attempt(() => ptRegs.offsetOf('stackframe'));
    // Each CPU's IRQ stack (irq_stack_ptr, IRQ_STACK_SIZE = THREAD_SIZE: 16 KiB with 4K pages) and overflow stack.
    const stacks: Array<{ start: bigint; end: bigint; kind: StackKind }> = [];
    const threadSize = BigInt(Math.max(16384, this.vmcoreinfo.pageSize ?? 4096));
    for (const cpu of this.walkCpus()) {
      const irq = attempt(() => this.kernel.perCpu('irq_stack_ptr', cpu).pointer());
      if (irq.ok && irq.value !== 0n) stacks.push({ start: irq.value, end: irq.value + threadSize, kind: 'irq' });
      const ov = attempt(() => this.kernel.perCpu('overflow_stack', cpu));
      if (ov.ok) stacks.push({ start: ov.value.address, end: ov.value.address + BigInt(ov.value.type.sizeof), kind: 'exception' });
    }
    return {
      unwinder: new Arm64Unwinder(this.memory, this.symbols, this.pacMask(), ptRegs.sizeof, stackframe.ok ? stackframe.value : undefined, stacks),
      cpuContext: this.kernel.type('struct task_struct').offsetOf('thread.cpu_context'),
    };
  }

  /** arm64: the bits pointer authentication may use in a kernel address (NUMBER(KERNELPACMASK), else those above VA_BITS). */
  private pacMask(): bigint {
    const vaBits = Number(this.vmcoreinfo.numbers.get('VA_BITS') ?? 48n);
    return BigInt.asUintN(64, this.vmcoreinfo.numbers.get('KERNELPACMASK') ?? ~((1n << BigInt(vaBits)) - 1n));
  }

  /** A code address without its pointer-authentication bits (arm64; unchanged on x86_64). */
  stripPac(addr: bigint): bigint {
    if (this.arch !== 'arm64') return addr;
    return stripPacBits(addr, this.pacMask());
  }

  /** A user task's command line from its memory, or why it is unknown (kernel thread, user pages excluded...). */
  cmdline(t: TaskInfo): { ok: true; value: string } | { ok: false; unknown: string } {
    return taskCmdline(this.kernel, t, (pgd) => this.memory.userSpace(pgd));
  }

  /** Physical memory in KiB (spanned pages of all nodes, else totalram_pages): crash's MEMORY, the base of %MEM. */
  totalRamKiB(): number | undefined {
    const k = this.kernel;
    const nodes = attempt(() => {
      const arr = k.variable('node_data');
      let pages = 0n;
      for (let i = 0; i < 1024; i++) {
        // Entries past the possible nodes are NULL, or past the array's readable part: the nodes end there.
        const spanned = attempt(() => {
          const p = arr.index(i);
          return p.isNull() ? undefined : p.deref().member('node_spanned_pages').u64();
        });
        if (!spanned.ok || spanned.value === undefined) break;
        pages += spanned.value;
      }
      return pages;
    });
    if (nodes.ok && nodes.value > 0n) return Number(nodes.value) * 4;
    const r = attempt(() => (k.symbols.address('_totalram_pages') !== undefined ? k.variable('_totalram_pages', 'atomic_long_t') : k.variable('totalram_pages')).int());
    return r.ok && r.value > 0n ? Number(r.value) * 4 : undefined;
  }

  close(): void {
    this.container.close();
  }
}

/** CPUs set in a struct cpumask variable. */
export function cpuMask(k: Kernel, name: string): number[] {
  const mask = k.variable(name, 'struct cpumask').member('bits');
  const n = Math.min(k.nrCpuIds, (mask.type.length ?? 1) * 64);
  const words = Math.ceil(n / 64);
  const b = k.read(mask.address, words * 8, name);
  const out: number[] = [];
  for (let cpu = 0; cpu < n; cpu++) if ((b[cpu >> 3] >> (cpu & 7)) & 1) out.push(cpu);
  return out;
}

/** Wall-clock seconds from the timekeeper (tk_core.timekeeper.xtime_sec). */
function wallClock(k: Kernel): number | undefined {
  const at = k.symbols.address('tk_core');
  if (at === undefined) return undefined;
  let tkOffset = 8; // { seqcount_raw_spinlock_t seq; struct timekeeper timekeeper; } (anonymous before 6.11)
  try {
    tkOffset = k.type('struct tk_data').offsetOf('timekeeper');
  } catch (e) {
    if (!(e instanceof KernelLayoutError)) throw e;
  }
  const tk = k.value(at + BigInt(tkOffset), 'struct timekeeper', 'tk_core.timekeeper');
  const sec = tk.member('xtime_sec').s64();
  // Sanity: between 2000 and 2200.
  if (sec < 946684800n || sec > 7258118400n) return undefined;
  return Number(sec);
}

/** The panic message from the log, as crash's `sys` names it. */
export function panicString(log: PrintkLog): string | undefined {
  const lines = formatLog(log.records).map((l) => l.replace(/^\[\s*\d+\.\d+\] /, ''));
  const panic = lines.find((l) => l.startsWith('Kernel panic - not syncing'));
  if (panic) return panic.trimEnd();
  const oops = lines.find((l) => /^Oops: /.test(l) || /^kernel BUG at /.test(l));
  if (oops) return oops.trimEnd();
  return undefined;
}

/** The dump's architecture: the kdump header's machine, the ELF machine, or what VMCOREINFO only arm64 writes. */
export function dumpArch(container: DumpContainer, vi: Vmcoreinfo): 'x86_64' | 'arm64' {
  const machine = container.utsname?.machine;
  if (machine === 'aarch64' || machine === 'arm64') return 'arm64';
  if ((container as { machine?: number }).machine === 183) return 'arm64';
  if (vi.numbers.has('kimage_voffset') || vi.numbers.has('TCR_EL1_T1SZ')) return 'arm64';
  return 'x86_64';
}

/** Opens a vmcore as openKernelDump does, with what its code needs loaded (the arm64 disassembler's WASM module). */
export async function openKernelDumpReady(path: string, opts: OpenKernelDumpOptions = {}): Promise<KernelDump> {
  const dump = openKernelDump(path, opts);
  if (dump.arch === 'arm64') {
    const { loadArm64Decoder } = await import('./arch/arm64/decode.ts');
    await loadArm64Decoder();
  }
  return dump;
}

/** Opens a vmcore (or a /var/crash/<dir> holding one). Input problems throw InputError. */
export function openKernelDump(path: string, opts: OpenKernelDumpOptions = {}): KernelDump {
  const file = resolveDumpPath(path);
  const container = openDumpContainer(file);
  try {
    if (!container.vmcoreinfo) {
      throw new InputError('the dump carries no VMCOREINFO note: kernel layout facts (KASLR offset, page tables, printk ring) are unknown', file);
    }
    const vi = parseVmcoreinfo(container.vmcoreinfo);
    let memory: KernelMemory;
    try {
      memory = dumpArch(container, vi) === 'arm64' ? openArm64Memory(container, vi) : openKernelMemory(container, vi);
    } catch (e) {
      // A cut file is the likely reason the page tables cannot be read: say so first.
      const cut = container.incomplete.find((n) => n.startsWith('truncated: '));
      if (e instanceof InputError) throw cut ? new InputError(`${cut}; ${e.message}`, file) : e;
      throw new InputError(`${cut ? `${cut}; ` : ''}cannot set up kernel virtual memory: ${(e as Error).message}`, file);
    }
    return new KernelDump(file, container, vi, memory, opts);
  } catch (e) {
    container.close();
    throw e;
  }
}
