/** `coroner dump ...`: raw views of a vmcore (info, log; later ps, bt). */
import { Option, type Command } from '@commander-js/extra-typings';
import type { Backtrace, DumpFrame, DumpInfo, KernelDump, Regs, TaskInfo } from '../../sources/dump/index.ts';
import type { Kernel } from '../../sources/dump/kernel/value.ts';
import { attempt } from '../../sources/dump/kernel/errors.ts';
import type { ModuleSymbols } from '../../sources/dump/kernel/symbols.ts';

/** Loaded on first use, so `coroner --help` and other commands stay fast. */
async function reader() {
  return import('../../sources/dump/index.ts');
}

/** The dump a `dump shell` session keeps open: its commands read it without opening it again. */
let session: { path: string; dump: KernelDump } | undefined;

async function dumpFor(vmcore: string, opts: { systemMap?: string }): Promise<KernelDump> {
  if (session && session.path === vmcore) return session.dump;
  const { openKernelDumpReady } = await reader();
  return openKernelDumpReady(vmcore, opts);
}

function release(d: KernelDump): void {
  if (session?.dump !== d) d.close();
}

/** Runs a command on the dump (the shell's open one, else opened now and closed after). */
async function withDump<T>(vmcore: string, opts: { systemMap?: string }, fn: (d: KernelDump) => T | Promise<T>): Promise<T> {
  const d = await dumpFor(vmcore, { systemMap: opts.systemMap });
  try {
    return await fn(d);
  } finally {
    release(d);
  }
}

/** Starts (or, with no dump, ends) a `dump shell` session on one open dump. */
export function useSession(s: { path: string; dump: KernelDump } | undefined): void {
  session = s;
}

function utc(sec: number): string {
  return new Date(sec * 1000).toISOString().replace('T', ' ').replace(/\.000Z$/, ' UTC');
}

function uptime(sec: number): string {
  const s = Math.floor(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

/** `dump info` as aligned text. */
export function renderDumpInfo(i: DumpInfo): string {
  const rows: Array<[string, string]> = [];
  const add = (k: string, v: string | undefined) => {
    if (v !== undefined && v !== '') rows.push([k, v]);
  };
  add('dump', i.path);
  add(
    'format',
    `${i.format}${i.innerFormat ? ` (${i.innerFormat} inside)` : ''}${i.headerVersion !== undefined ? `, header v${i.headerVersion}` : ''}${i.compression.length ? `, pages: ${i.compression.join(', ')}` : ''}`,
  );
  if (i.dumpLevel !== undefined) add('dump level', `${i.dumpLevel}${i.dumpLevel & 0x1e ? ' (cache/user/free pages excluded: reads of them say "excluded")' : ''}`);
  add('dumped by', i.dumpedBy === 'kdump' ? 'kdump (the kernel crash path)' : i.dumpedBy === 'hypervisor' ? 'hypervisor (QEMU dump-guest-memory)' : 'unknown');
  add('release', i.release ?? 'unknown (no OSRELEASE in VMCOREINFO)');
  add('version', i.version);
  add('nodename', i.nodename);
  add('arch', i.arch);
  const cpu = i.cpus;
  const cpuParts = [`${cpu.notes} register note(s) (${cpu.noteSources.join(', ') || 'none'})`];
  if (cpu.online) cpuParts.push(`online ${compactList(cpu.online)}`);
  if (cpu.stopped) cpuParts.push(`stopped (offline, still captured) ${compactList(cpu.stopped)}`);
  if (cpu.nrCpuIds !== undefined) cpuParts.push(`nr_cpu_ids ${cpu.nrCpuIds}`);
  if (cpu.headerCount !== undefined) cpuParts.push(`header ${cpu.headerCount}`);
  add('cpus', `${(cpu.online?.length ?? 0) + (cpu.stopped?.length ?? 0) || cpu.headerCount || cpu.notes}: ${cpuParts.join('; ')}`);
  add('crash time', i.crashTime !== undefined ? `${utc(i.crashTime)} (${i.crashTime})` : i.crashTimeNote);
  if (i.clockAtDump !== undefined) add('kernel clock', `${utc(i.clockAtDump)} (timekeeper at capture)`);
  if (i.dumpWritten !== undefined) add('dump written', utc(i.dumpWritten));
  if (i.lastLogSeconds !== undefined) add('last log', `${i.lastLogSeconds.toFixed(3)} s after boot (uptime >= ${uptime(i.lastLogSeconds)})`);
  add('panic', i.panic ? JSON.stringify(i.panic) : 'none in the log');
  add('kaslr offset', i.kaslrOffset);
  add('phys_base', `${i.physBase} (${i.physBaseSource})`);
  add('paging', `${i.pagingLevels}-level${i.pagingLevels === 5 ? ' (LA57)' : ''}`);
  if (i.symbols.source === 'none') add('symbols', `none: ${i.symbols.error}`);
  else
    add(
      'symbols',
      `${i.symbols.source} (${i.symbols.count} symbols)${i.symbols.modules.length ? `; modules: ${i.symbols.modules.join(', ')}` : '; no modules'}`,
    );
  add('types', i.types.source === 'BTF' ? `BTF (${i.types.bytes} bytes, ${i.types.count} types)` : `none: ${i.types.error}`);
  add('banner', i.banner);
  const w = Math.max(...rows.map(([k]) => k.length));
  const out = rows.map(([k, v]) => `${k.padStart(w)}: ${v}`);
  if (i.incomplete.length) {
    out.push(`${'incomplete'.padStart(w)}:`);
    for (const n of i.incomplete) out.push(`${''.padStart(w)}  - ${n}`);
  }
  return out.join('\n') + '\n';
}

function compactList(xs: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < xs.length; ) {
    let j = i;
    while (j + 1 < xs.length && xs[j + 1] === xs[j] + 1) j++;
    parts.push(j > i ? `${xs[i]}-${xs[j]}` : `${xs[i]}`);
    i = j + 1;
  }
  return parts.join(',');
}

function toJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `0x${x.toString(16)}` : x), 2) + '\n';
}

function write(s: string): void {
  process.stdout.write(s);
}

const hex = (v: bigint, w = 16) => BigInt.asUintN(64, v).toString(16).padStart(w, '0');

/** `ps` record for --format json. */
export interface PsRecord {
  pid: number;
  ppid: number;
  tgid: number;
  cpu: number;
  state: string;
  /** crash's two-letter state (RU, IN, UN, ID, ...). */
  st: string;
  stateWords: string;
  comm: string;
  task: string;
  current: boolean;
  kthread: boolean;
  exiting: boolean;
  flags: string;
  /** Seconds since the task last ran (rq clock of its CPU - sched_info.last_arrival). */
  sinceLastRun?: number;
  /** Seconds after boot it started. */
  startTime?: number;
  vszKiB?: number;
  rssKiB?: number;
  cmdline?: string;
  cmdlineUnknown?: string;
}

export function psRecords(d: KernelDump, opts: { cmdline?: boolean } = {}): PsRecord[] {
  return d.scheduler.tasks().map((t) => {
    const r: PsRecord = {
      pid: t.pid,
      ppid: t.ppid,
      tgid: t.tgid,
      cpu: t.cpu,
      state: t.state.letter,
      st: t.state.crash,
      stateWords: t.state.words,
      comm: t.comm,
      task: hex(t.address),
      current: t.current,
      kthread: t.kthread,
      exiting: t.exiting,
      flags: `0x${t.flags.toString(16)}`,
    };
    if (t.sinceLastRun !== undefined) r.sinceLastRun = Math.round(t.sinceLastRun * 1e6) / 1e6;
    if (t.startTime !== undefined) r.startTime = Math.round(t.startTime * 1e6) / 1e6;
    if (t.vszKiB !== undefined) r.vszKiB = t.vszKiB;
    if (t.rssKiB !== undefined) r.rssKiB = t.rssKiB;
    if (opts.cmdline && t.mm !== 0n) {
      const c = d.cmdline(t);
      if (c.ok) r.cmdline = c.value;
      else r.cmdlineUnknown = c.unknown;
    }
    return r;
  });
}

function since(sec: number): string {
  const ms = Math.floor(sec * 1000);
  const d = Math.floor(ms / 86_400_000);
  const h = Math.floor(ms / 3_600_000) % 24;
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `[${d} ${p(h)}:${p(m)}:${p(s)}.${p(ms % 1000, 3)}]`;
}

/** crash `ps` layout (`-m`: crash `ps -m`, time since each task last ran). */
export function renderPs(recs: PsRecord[], totalKiB: number | undefined, opts: { lastRun?: boolean } = {}): string {
  if (opts.lastRun) {
    return (
      [...recs]
        .sort((a, b) => (a.sinceLastRun ?? Infinity) - (b.sinceLastRun ?? Infinity))
        .map((r) => `${r.sinceLastRun !== undefined ? since(r.sinceLastRun) : '[unknown]'} [${r.st}]  PID: ${String(r.pid).padEnd(7)}  TASK: ${r.task}  CPU: ${String(r.cpu).padEnd(3)}  COMMAND: "${r.comm}"`)
        .join('\n') + '\n'
    );
  }
  const lines = ['      PID    PPID  CPU       TASK        ST  %MEM      VSZ      RSS  COMM'];
  for (const r of recs) {
    const mem = totalKiB && r.rssKiB ? ((r.rssKiB / totalKiB) * 100).toFixed(1) : '0.0';
    // As crash brackets kernel threads: an exiting task or a zombie (its mm already gone) is not one.
    const kernelThread = !r.exiting && r.st !== 'ZO' && (r.kthread || r.vszKiB === undefined);
    const comm = kernelThread ? `[${r.comm}]` : r.comm;
    lines.push(
      `${r.current ? '>' : ' '}${String(r.pid).padStart(8)}${String(r.ppid).padStart(8)}${String(r.cpu).padStart(4)}  ${r.task}  ${r.st}  ${mem.padStart(4)}${String(r.vszKiB ?? 0).padStart(9)}${String(r.rssKiB ?? 0).padStart(9)}  ${comm}`,
    );
  }
  return lines.join('\n') + '\n';
}

/** `bt` record for --format json: one per CPU (-a) or per task. */
export interface BtRecord {
  cpu?: number;
  pid?: number;
  comm?: string;
  task?: string;
  state?: string;
  start: string;
  frames: Array<{
    function: string;
    offset?: number;
    size?: number;
    module?: string;
    address?: string;
    stack: string;
    reliable: boolean;
    exceptionRip?: boolean;
    slot?: string;
    regs?: Record<string, string>;
  }>;
  end: { kind: string; detail?: string };
  userRegs?: Record<string, string>;
  registers?: Record<string, string>;
  notes: string[];
}

function regsJson(r: Regs): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r)) out[k] = hex(v);
  return out;
}

export function btRecord(trace: Backtrace, who: { cpu?: number; task?: TaskInfo; registers?: Regs }): BtRecord {
  return {
    ...(who.cpu !== undefined ? { cpu: who.cpu } : {}),
    ...(who.task ? { pid: who.task.pid, comm: who.task.comm, task: hex(who.task.address), state: who.task.state.letter } : {}),
    start: trace.start,
    frames: trace.frames.map((f) => ({
      function: f.function,
      ...(f.offset !== undefined ? { offset: f.offset } : {}),
      ...(f.size !== undefined ? { size: f.size } : {}),
      ...(f.module ? { module: f.module } : {}),
      address: f.address,
      stack: f.stack,
      reliable: f.reliable,
      ...(f.exceptionRip ? { exceptionRip: true } : {}),
      ...(f.slot !== undefined ? { slot: hex(f.slot) } : {}),
      ...(f.pt ? { regs: regsJson(f.pt.regs) } : {}),
    })),
    end: trace.end,
    ...(trace.userRegs ? { userRegs: regsJson(trace.userRegs) } : {}),
    ...(who.registers ? { registers: regsJson(who.registers) } : {}),
    notes: trace.notes,
  };
}

const STACK_NAMES: Record<string, string> = { irq: 'IRQ stack', nmi: 'NMI exception stack', exception: 'exception stack', entry: 'ENTRY trampoline stack' };

/** crash-style register block: `RIP: ...  RSP: ...  RFLAGS: ...` rows. */
/** crash's arm64 register block: PC, LR, SP, then X29 down to X0 three a row, ORIG_X0, SYSCALLNO and PSTATE. */
function arm64RegBlock(r: Regs): string[] {
  const cell = (name: string, v: bigint | undefined) => `${name.padStart(3)}: ${v !== undefined ? hex(v) : '?'.repeat(16)}`;
  const rows = [`    ${[cell('PC', r.pc), cell('LR', r.x30), cell('SP', r.sp)].join('  ')}`];
  for (let n = 29; n >= 0; n -= 3) rows.push(`    ${[n, n - 1, n - 2].map((i) => cell(`X${i}`, r[`x${i}`])).join('  ')}`);
  const sys = r.syscallno !== undefined ? BigInt.asUintN(32, r.syscallno).toString(16) : '?';
  rows.push(`    ORIG_X0: ${r.orig_x0 !== undefined ? hex(r.orig_x0) : '?'.repeat(16)}  SYSCALLNO: ${sys}  PSTATE: ${r.pstate !== undefined ? hex(r.pstate, 8) : '?'.repeat(8)}`);
  return rows;
}

function regBlock(r: Regs, withOrig = true): string[] {
  if (r.pstate !== undefined && r.x30 !== undefined) return arm64RegBlock(r);
  const v = (n: string) => (r[n] !== undefined ? hex(r[n]) : '?'.repeat(16));
  const rows = [
    `    RIP: ${v('rip')}  RSP: ${v('rsp')}  RFLAGS: ${r.eflags !== undefined ? hex(r.eflags, 8) : '????????'}`,
  ];
  if (r.rax !== undefined) {
    rows.push(`    RAX: ${v('rax')}  RBX: ${v('rbx')}  RCX: ${v('rcx')}`);
    rows.push(`    RDX: ${v('rdx')}  RSI: ${v('rsi')}  RDI: ${v('rdi')}`);
    rows.push(`    RBP: ${v('rbp')}   R8: ${v('r8')}   R9: ${v('r9')}`);
    rows.push(`    R10: ${v('r10')}  R11: ${v('r11')}  R12: ${v('r12')}`);
    rows.push(`    R13: ${v('r13')}  R14: ${v('r14')}  R15: ${v('r15')}`);
  }
  const tail = [withOrig && r.orig_rax !== undefined ? `ORIG_RAX: ${v('orig_rax')}` : '', r.cs !== undefined ? `CS: ${hex(r.cs, 4)}` : '', r.ss !== undefined ? `SS: ${hex(r.ss, 4)}` : ''].filter(Boolean);
  if (tail.length) rows.push(`    ${tail.join('  ')}`);
  return rows;
}

function frameLine(i: number, f: DumpFrame): string {
  const at = f.slot !== undefined ? hex(f.slot) : '?'.repeat(16);
  const name = f.offset !== undefined && !f.function.startsWith('0x') ? f.function : f.function;
  return `${`#${i}`.padStart(3)} [${at}] ${f.reliable ? '' : '? '}${name} at ${f.address ?? '?'}${f.module ? ` [${f.module}]` : ''}`;
}

/** A hex address as typed (`ffffffff81000000`, `0x...`), or undefined when the text is no address. */
function hexAddress(text: string): bigint | undefined {
  return /^(0x)?[0-9a-f]{8,16}$/i.test(text) ? BigInt(text.startsWith('0x') ? text : `0x${text}`) : undefined;
}

/** Why memory could not be read, as a user wants it said: a page makedumpfile filtered out is named as such. */
function readFailure(e: unknown): string {
  const err = e as Error;
  return err.name === 'ExcludedPageError' ? 'the page is excluded from the dump (makedumpfile filtering)' : err.message;
}

/** An address typed as hex or as a symbol of the kernel or a module; an input error naming it when it is neither. */
async function addressArg(d: { symbols: { address(name: string): bigint | undefined } }, text: string, vmcore: string): Promise<bigint> {
  const at = hexAddress(text) ?? d.symbols.address(text);
  if (at === undefined) {
    const { InputError } = await import('../../model/errors.ts');
    throw new InputError(`no symbol ${JSON.stringify(text)} in the kernel or its modules`, vmcore);
  }
  return at;
}

/** crash `mod` layout: struct module, name, core text base, core size; object files are not looked for. */
export function renderMod(modules: readonly ModuleSymbols[]): string {
  const rows = [...modules]
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0))
    .map((m) => {
      const core = m.regions.filter((r) => !r.kind.startsWith('init'));
      const text = core.find((r) => r.kind.endsWith('text')) ?? core[0];
      const size = core.reduce((n, r) => n + (r.end - r.start), 0n);
      return { addr: hex(m.address), name: m.name, base: text ? hex(text.start) : '?'.repeat(16), size: size.toString() };
    });
  const w = Math.max(4, ...rows.map((r) => r.name.length));
  const sw = Math.max(5, ...rows.map((r) => r.size.length));
  const out = [`     MODULE       ${'NAME'.padEnd(w)}        BASE        ${'SIZE'.padStart(sw)}  OBJECT FILE`];
  for (const r of rows) out.push(`${r.addr}  ${r.name.padEnd(w)}  ${r.base}  ${r.size.padStart(sw)}  (not loaded)  [CONFIG_KALLSYMS]`);
  return out.join('\n') + '\n';
}

/** The tasks on a wait queue head, in list order: each entry's `private` (the task it wakes). */
export function waitQueueTasks(k: Kernel, head: bigint): bigint[] {
  const h = k.value(head, 'struct wait_queue_head');
  const list = h.member('head');
  const first = list.member('next').pointer();
  const entryOff = BigInt(k.type('struct wait_queue_entry').offsetOf('entry'));
  const out: bigint[] = [];
  for (let p = first, n = 0; p !== list.address && p !== 0n && n < 100_000; n++) {
    const e = k.value(p - entryOff, 'struct wait_queue_entry');
    out.push(e.member('private').pointer());
    p = e.member('entry').member('next').pointer();
  }
  return out;
}

/** crash `rd` layout: 16 bytes a line as words of `size` bytes (little-endian), then their ASCII. */
export function renderRd(at: bigint, bytes: Buffer, size: number): string {
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const chunk = bytes.subarray(off, Math.min(off + 16, bytes.length));
    const words: string[] = [];
    for (let w = 0; w + size <= chunk.length; w += size) {
      let v = 0n;
      for (let b = size - 1; b >= 0; b--) v = (v << 8n) | BigInt(chunk[w + b]);
      words.push(v.toString(16).padStart(size * 2, '0'));
    }
    const ascii = [...chunk].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${hex(at + BigInt(off))}:  ${words.join(' ')}   ${ascii}`);
  }
  return lines.join('\n') + '\n';
}

/** crash `bt` layout for one trace. */
export function renderBt(trace: Backtrace, head: { pid?: number; task?: string; cpu?: number; comm?: string }): string {
  const out = [`PID: ${String(head.pid ?? '?').padEnd(8)} TASK: ${head.task ?? '?'.repeat(16)}  CPU: ${String(head.cpu ?? '?').padEnd(4)} COMMAND: "${head.comm ?? '?'}"`];
  // As crash: the interrupted function is the `[exception RIP: ...]` block, not a numbered frame.
  let n = 0;
  trace.frames.forEach((f, i) => {
    const prev = trace.frames[i - 1];
    if (prev && prev.stack !== f.stack && STACK_NAMES[prev.stack]) out.push(`--- <${STACK_NAMES[prev.stack]}> ---`);
    // arm64, as crash prints it: the code an EL1 exception interrupted is a numbered frame at its PC - 4.
    if (f.exceptionRip && f.pt?.regs.pstate !== undefined) {
      out.push(frameLine(n++, { ...f, address: hex(f.ip - 4n) }));
      return;
    }
    if (f.exceptionRip) {
      out.push(`    [exception RIP: ${f.function}${f.offset !== undefined ? `+${f.offset}` : ''}]`);
      if (f.pt) out.push(...regBlock(f.pt.regs, f.pt.address !== undefined));
      return;
    }
    out.push(frameLine(n++, f));
  });
  if (trace.userRegs) out.push(...regBlock(trace.userRegs));
  if (trace.end.kind === 'error' || trace.end.kind === 'limit') out.push(`    [trace ends: ${trace.end.detail}]`);
  if (!trace.frames.length && trace.end.kind === 'user-mode') out.splice(1, 0, '    (running in user mode)');
  for (const n of trace.notes) out.push(`    (${n})`);
  return out.join('\n') + '\n';
}

export function registerDump(program: Command): void {
  const dump = program.command('dump').description('raw views of a vmcore: info, log, ps, bt, sym, rd, dis, p, struct, task, files, kmem, irq, mod, list, waitq, search, and a shell');

  dump
    .command('info')
    .description('what the dump is: kernel, CPUs, crash time, panic, format, KASLR, symbol and type sources')
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json'] as const).default('text' as const))
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      await withDump(vmcore, opts, async (d) => {
        const info = d.info();
        write(opts.format === 'json' ? toJson(info) : renderDumpInfo(info));
      });
    });

  dump
    .command('log')
    .description("the kernel log from the printk ring buffer, as crash's `log` prints it")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .option('--system-map <file>', 'System.map (not needed for the log; accepted for symmetry)')
    .action(async (vmcore, opts) => {
      await withDump(vmcore, opts, async (d) => {
        const lines = d.log();
        const notes = d.printk().notes;
        if (!lines.length) {
          // Nothing to print is an answer only when the ring is readable and empty; else say why, and fail.
          const { InputError } = await import('../../model/errors.ts');
          const cut = d.incomplete.find((n) => n.startsWith('truncated'));
          throw new InputError(`no kernel log could be read from the dump${cut ? ` (${cut})` : ''}: ${notes.join('; ') || 'the printk ring buffer holds no record'}`, d.path);
        }
        write(lines.join('\n') + '\n');
        for (const n of notes) process.stderr.write(`coroner: ${d.path}: log incomplete: ${n}\n`);
      });
    });

  dump
    .command('ps')
    .description("every task, as crash's `ps` lists them (`-m`: time since each last ran)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json'] as const).default('text' as const))
    .option('-m, --last-run', 'time since each task last ran, most recent first (crash ps -m)')
    .option('--cmdline', 'read each user task\'s command line (json)')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      await withDump(vmcore, opts, async (d) => {
        const recs = psRecords(d, { cmdline: opts.cmdline });
        write(opts.format === 'json' ? toJson(recs) : renderPs(recs, d.totalRamKiB(), { lastRun: opts.lastRun }));
        for (const n of d.scheduler.notes) process.stderr.write(`coroner: ${d.path}: task list incomplete: ${n}\n`);
      });
    });

  dump
    .command('sym')
    .description("symbol <-> address, as crash's `sym` (module symbols too): `ADDR (t) name+off [module]`")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<what...>', 'symbol names or addresses (hex)')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, what, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      await withDump(vmcore, opts, async (d) => {
        const out: string[] = [];
        for (const w of what) {
          const addr = hexAddress(w);
          if (addr !== undefined) {
            const s = d.symbols.lookup(addr);
            if (!s) throw new InputError(`no symbol covers address ${w}`, vmcore);
            out.push(`${hex(addr)} (${s.type}) ${s.name}${s.offset ? `+${s.offset}` : ''}${s.module ? ` [${s.module}]` : ''}`);
            continue;
          }
          const at = d.symbols.address(w);
          if (at === undefined) throw new InputError(`no symbol ${JSON.stringify(w)} in the kernel or its modules`, vmcore);
          const s = d.symbols.lookup(at);
          out.push(`${hex(at)} (${s?.type ?? '?'}) ${w}${s?.module ? ` [${s.module}]` : ''}`);
        }
        write(out.join('\n') + '\n');
      });
    });

  dump
    .command('rd')
    .description("kernel memory as crash's `rd` prints it: words (64-bit by default) and their ASCII")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<address>', 'a kernel virtual address (hex) or a symbol')
    .argument('[count]', 'how many words', '1')
    .addOption(new Option('-s, --size <bits>', 'word size').choices(['8', '16', '32', '64'] as const).default('64' as const))
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, address, count, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      await withDump(vmcore, opts, async (d) => {
        const at = await addressArg(d, address, vmcore);
        if (!/^\d+$/.test(count) || Number(count) < 1 || Number(count) > 1 << 20) throw new InputError(`count ${JSON.stringify(count)}: expected 1 to ${1 << 20}`, vmcore);
        const size = Number(opts.size) / 8;
        let bytes: Buffer;
        try {
          bytes = d.memory.read(at, Number(count) * size);
        } catch (e) {
          const why = readFailure(e);
          throw new InputError(`cannot read ${Number(count) * size} bytes at 0x${at.toString(16)}: ${why}`, vmcore);
        }
        write(renderRd(at, bytes, size));
      });
    });

  dump
    .command('dis')
    .description("disassembly as crash's `dis` prints it (AT&T syntax, branch targets and RIP-relative operands named): a whole function, COUNT instructions from an address, or with -r up to it")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<what>', 'a function name or an address (hex)')
    .argument('[count]', 'how many instructions (default: the whole function)')
    .option('-r, --reverse', 'from the start of the function up to and including the address (crash dis -r)')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, what, count, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { decode } = await import('../../sources/dump/arch/x86_64/decode.ts');
      const { decodeArm64 } = await import('../../sources/dump/arch/arm64/decode.ts');
      await withDump(vmcore, opts, async (d) => {
        const arm64 = d.arch === 'arm64';
        const addr = await addressArg(d, what, vmcore);
        const fn = d.symbols.lookup(addr);
        if (!fn) throw new InputError(`no function covers 0x${addr.toString(16)}`, vmcore);
        const start = opts.reverse || count === undefined ? fn.address : addr;
        const end = opts.reverse ? addr + 1n : count === undefined ? fn.address + BigInt(fn.size) : addr + BigInt(Number(count) * (arm64 ? 4 : 15));
        let bytes: Buffer;
        try {
          bytes = d.memory.read(start, Number(end - start));
        } catch (e) {
          throw new InputError(`cannot read the code at 0x${start.toString(16)}: ${(e as Error).message}`, vmcore);
        }
        let insns = (arm64 ? decodeArm64(bytes, start) : decode(bytes, start)).filter((i) => i.address < end);
        if (count !== undefined && !opts.reverse) insns = insns.slice(0, Number(count));
        // A whole function ends at its last instruction: the nops after it are padding to the next symbol (int3s after a
        // ret are the function's own, against straight-line speculation).
        if (count === undefined && !opts.reverse) while (insns.length > 1 && /^nop\w*$/.test(insns[insns.length - 1].mnemonic)) insns.pop();
        const name = (a: bigint) => {
          const s = d.symbols.lookup(a);
          return s ? `<${s.name}${s.offset ? `+${s.offset}` : ''}>` : '';
        };
        const out = insns.map((i) => {
          if (arm64) {
            // As gdb prints arm64: mnemonic, a tab, the operands; branch targets and adrp pages named.
            const sp = i.text.indexOf(' ');
            let ops = sp < 0 ? '' : i.text.slice(sp + 1);
            const named = i.target ?? (i.mnemonic === 'adrp' ? i.value : undefined);
            if (named !== undefined) ops = ops.replace(/0x[0-9a-f]+$/, (t) => `${t} ${name(named)}`);
            return `0x${i.address.toString(16)} ${name(i.address)}:\t${ops ? `${i.mnemonic}\t${ops}` : i.mnemonic}`;
          }
          const words = i.text.split(' ');
          // Prefixes stay with their instruction (`lock cmpxchg`), as gdb prints them.
          let k = 0;
          while (k < words.length - 1 && /^(lock|rep|repe|repz|repne|repnz|notrack|bnd|data16)$/.test(words[k])) k++;
          const mn = words.slice(0, k + 1).join(' ');
          let ops = words.slice(k + 1).join(' ');
          if (i.target !== undefined) ops = ops.replace(/0x[0-9a-f]+$/, (t) => `${t} ${name(i.target!)}`);
          let line = `0x${i.address.toString(16)} ${name(i.address)}:\t${ops ? `${k ? mn : mn.padEnd(6)} ${ops}` : mn}`;
          // A per-CPU (%gs:) offset is no kernel address: shown bare, as crash does.
          if (i.memory?.ripRelative !== undefined) line += `        # 0x${i.memory.ripRelative.toString(16)}${i.memory.segment ? '' : ` ${name(i.memory.ripRelative)}`}`;
          // The 5-byte nop at a function's entry is ftrace's call site.
          if (i.address === fn.address && i.length === 5 && /^nop/.test(i.mnemonic)) line += ' [FTRACE NOP]';
          return line;
        });
        write(out.join('\n') + '\n');
      });
    });

  dump
    .command('p')
    .description("a global, or a member or element path of one, as crash's `p` prints it (types from the dump's BTF)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<expr...>', 'NAME, NAME.member.member, NAME[3].member')
    .option('-x, --hex', 'integers in hex (crash p -x)')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, exprs, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { printValue } = await import('../print-value.ts');
      await withDump(vmcore, opts, async (d) => {
        const out: string[] = [];
        exprs.forEach((expr, n) => {
          const m = /^([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*|\[\d+\])*)$/.exec(expr);
          if (!m) throw new InputError(`p: ${JSON.stringify(expr)}: expected NAME, NAME.member or NAME[i] paths`, vmcore);
          let v;
          try {
            v = d.kernel.variable(m[1]);
            for (const step of m[2].match(/\.[A-Za-z_]\w*|\[\d+\]/g) ?? []) v = step.startsWith('.') ? v.member(step.slice(1)) : v.index(Number(step.slice(1, -1)));
            out.push(`$${n + 1} = ${printValue(v, d.symbols, { hex: opts.hex })}`);
          } catch (e) {
            // BTF types only per-CPU globals: say how to read the others from the command line.
            if (/BTF has no VAR for it/.test((e as Error).message)) {
              throw new InputError(
                `p ${expr}: the kernel's BTF gives no type for the global ${m[1]} (BTF records types of per-CPU variables only): read it as a struct, \`coroner dump struct VMCORE TYPE ${m[1]}\`, or as words, \`coroner dump rd VMCORE ${m[1]} 8\``,
                vmcore,
              );
            }
            throw new InputError(`p ${expr}: ${readFailure(e)}`, vmcore);
          }
        });
        write(out.join('\n') + '\n');
      });
    });

  dump
    .command('struct')
    .description("a struct at an address, as crash's `struct TYPE ADDR` prints it (types from the dump's BTF)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<type>', 'struct name (`userfaultfd_ctx` or `struct userfaultfd_ctx`)')
    .argument('<address>', 'kernel virtual address (hex) or a symbol')
    .option('-x, --hex', 'integers in hex')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, type, address, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { printValue } = await import('../print-value.ts');
      await withDump(vmcore, opts, async (d) => {
        const name = type.replace(/^struct\s+/, '');
        const at = await addressArg(d, address, vmcore);
        try {
          const v = d.kernel.value(at, `struct ${name}`);
          write(`struct ${name} ${printValue(v, d.symbols, { hex: opts.hex })}\n`);
        } catch (e) {
          throw new InputError(`struct ${name} at 0x${at.toString(16)}: ${readFailure(e)}`, vmcore);
        }
      });
    });

  dump
    .command('mod')
    .description("loaded modules, as crash's `mod` lists them (struct module, name, text base, size)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      await withDump(vmcore, opts, async (d) => {
        write(renderMod(d.symbols.moduleList));
        for (const n of d.incomplete.filter((x) => /^modules?\b/.test(x))) process.stderr.write(`coroner: ${n}\n`);
      });
    });

  dump
    .command('task')
    .description("a task's struct task_struct, as crash's `task PID` prints it (types from the dump's BTF)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<pid...>', 'PIDs (every thread with that PID), or task_struct addresses (hex)')
    .option('-x, --hex', 'integers in hex')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, ids, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { printValue } = await import('../print-value.ts');
      await withDump(vmcore, opts, async (d) => {
        const tasks = d.scheduler.tasks();
        const out: string[] = [];
        for (const id of ids) {
          const chosen = /^(0x)?[0-9a-f]{16}$/i.test(id) ? tasks.filter((t) => t.address === BigInt(id.startsWith('0x') ? id : `0x${id}`)) : /^\d+$/.test(id) ? tasks.filter((t) => t.pid === Number(id)) : undefined;
          if (!chosen) throw new InputError(`task: ${JSON.stringify(id)}: expected a PID or a task_struct address`, vmcore);
          if (!chosen.length) throw new InputError(`no task ${id} in the dump`, vmcore);
          for (const t of chosen) {
            out.push(`PID: ${String(t.pid).padEnd(8)} TASK: ${hex(t.address)}  CPU: ${String(t.cpu).padEnd(4)} COMMAND: "${t.comm}"`);
            try {
              out.push(`struct task_struct ${printValue(d.kernel.value(t.address, 'struct task_struct'), d.symbols, { hex: opts.hex })}`);
            } catch (e) {
              throw new InputError(`task ${t.pid} at 0x${t.address.toString(16)}: ${readFailure(e)}`, vmcore);
            }
          }
        }
        write(out.join('\n') + '\n');
      });
    });

  dump
    .command('kmem')
    .description("memory totals, as crash's `kmem -i` prints them (free, used, shared, buffers, cached, slab, huge pages, swap, commit)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .option('-i, --info', "crash's kmem -i (the only view so far; the default)")
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      const { memInfo, renderMemInfo } = await import('../../sources/dump/walk/meminfo.ts');
      await withDump(vmcore, opts, async (d) => {
        // arm64's vmemmap starts at the first page of memory (PHYS_OFFSET), x86_64's at pfn 0
        const mem = d.memory as { vmemmapBase?: bigint; physBase?: bigint };
        const m = memInfo(d.kernel, { vmemmap: mem.vmemmapBase, vmemmapFirstPfn: d.arch === 'arm64' && mem.physBase !== undefined ? mem.physBase >> 12n : 0n });
        write(renderMemInfo(m));
        if (m.unknown.length) process.stderr.write(`coroner: ${vmcore}: not read from this dump (shown as 0): ${m.unknown.join(', ')}\n`);
      });
    });

  dump
    .command('irq')
    .description("interrupts with a handler and their per-CPU counts, as crash's `irq -s` prints them")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .option('-s, --stats', "crash's irq -s (the only view so far; the default)")
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { irqStats, renderIrqStats } = await import('../../sources/dump/walk/irqs.ts');
      await withDump(vmcore, opts, async (d) => {
        const cpus = d.onlineCpus();
        let irqs;
        try {
          irqs = irqStats(d.kernel, cpus);
        } catch (e) {
          throw new InputError(`irq -s: ${readFailure(e)}`, vmcore);
        }
        write(renderIrqStats(irqs, cpus));
      });
    });

  dump
    .command('runq')
    .description("each CPU's run queue as crash's `runq` prints it: the current task, then the queued RT, CFS (task groups nested) and deadline tasks")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .option('-c, --cpu <n>', 'one CPU only (crash runq -c)')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { runQueue, renderRunQueues } = await import('../../sources/dump/walk/runq.ts');
      await withDump(vmcore, opts, async (d) => {
        let cpus = d.onlineCpus();
        if (opts.cpu !== undefined) {
          const c = Number(opts.cpu);
          if (!Number.isInteger(c) || !cpus.includes(c)) throw new InputError(`runq -c ${opts.cpu}: not an online CPU (online: ${cpus.join(',')})`, vmcore);
          cpus = [c];
        }
        const rqs = [];
        for (const c of cpus) {
          try {
            rqs.push(runQueue(d.kernel, c));
          } catch (e) {
            throw new InputError(`runq: CPU ${c}: ${readFailure(e)}`, vmcore);
          }
        }
        write(renderRunQueues(rqs));
      });
    });

  dump
    .command('files')
    .description("a task's open files, as crash's `files PID` lists them (root, cwd, and per descriptor file, dentry, inode, type, path)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<pid...>', 'PIDs (the thread group leader when several threads share the PID)')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, pids, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { openFiles } = await import('../../sources/dump/walk/files.ts');
      await withDump(vmcore, opts, async (d) => {
        const tasks = d.scheduler.tasks();
        const out: string[] = [];
        for (const id of pids) {
          if (!/^\d+$/.test(id)) throw new InputError(`files: ${JSON.stringify(id)}: expected a PID`, vmcore);
          const all = tasks.filter((t) => t.pid === Number(id) && !t.idle);
          const t = all.find((x) => x.pid === x.tgid) ?? all[0];
          if (!t) throw new InputError(`no task with PID ${id} in the dump`, vmcore);
          let r;
          try {
            r = openFiles(d.kernel, t.address);
          } catch (e) {
            throw new InputError(`files ${id}: ${readFailure(e)}`, vmcore);
          }
          out.push(`PID: ${String(t.pid).padEnd(8)} TASK: ${hex(t.address)}  CPU: ${String(t.cpu).padEnd(4)} COMMAND: "${t.comm}"`);
          out.push(`ROOT: ${r.root}    CWD: ${r.cwd}`);
          out.push(' FD       FILE            DENTRY           INODE       TYPE PATH');
          for (const f of r.files) out.push(`${String(f.fd).padStart(3)} ${hex(f.file)} ${hex(f.dentry)} ${hex(f.inode)} ${f.type.padEnd(4)} ${f.path}`);
          out.push(''); // crash ends each task's table with a blank line
        }
        write(out.join('\n') + '\n');
      });
    });

  dump
    .command('shell')
    .description('one open dump, many questions: the dump commands at a prompt (history, tab completion of commands and symbols); reads commands from stdin when it is not a terminal')
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      const { runShell } = await import('./dump-shell.ts');
      await runShell(vmcore, { systemMap: opts.systemMap });
    });

  dump
    .command('list')
    .description("follows a linked list as crash's `list` does: entry addresses (and -s, each entry as a struct)")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<start>', 'first entry (or, with -H, the list head) as an address (hex) or a symbol')
    .option('-H, --head', 'START is a list head that is not itself an entry (crash list -H)')
    .option('-o, --offset <offset>', 'offset of the list_head (or next pointer) in an entry, bytes (decimal or 0x hex)')
    .option('-l, --link <type.member>', 'the list_head member of the entry type, e.g. module.list (its offset)')
    .option('-s, --struct <type>', 'print each entry as this struct')
    .option('--max <n>', 'stop after this many entries', '100000')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, start, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      const { printValue } = await import('../print-value.ts');
      await withDump(vmcore, opts, async (d) => {
        const k = d.kernel;
        let off = 0n;
        try {
          if (opts.link) {
            const m = /^(?:struct\s+)?(\w+)\.([\w.]+)$/.exec(opts.link);
            if (!m) throw new InputError(`list -l ${opts.link}: expected TYPE.member`, vmcore);
            off = BigInt(k.type(`struct ${m[1]}`).offsetOf(m[2]));
          } else if (opts.offset) off = BigInt(opts.offset);
        } catch (e) {
          if (e instanceof InputError) throw e;
          throw new InputError(`list: ${readFailure(e)}`, vmcore);
        }
        const first = await addressArg(d, start, vmcore);
        const out: string[] = [];
        const max = Number(opts.max);
        try {
          // Without -H the start is an entry: its link is at START + offset, and it is printed too.
          const headLink = opts.head ? first : first + off;
          if (!opts.head) out.push(entryText(first));
          for (let p = k.read(headLink, 8).readBigUInt64LE(0), n = 0; p !== headLink && p !== 0n; n++) {
            if (n >= max) {
              out.push(`(stopped after ${max} entries)`);
              break;
            }
            out.push(entryText(p - off));
            p = k.read(p, 8).readBigUInt64LE(0);
          }
        } catch (e) {
          write(out.join('\n') + (out.length ? '\n' : ''));
          throw new InputError(`list: ${readFailure(e)}`, vmcore);
        }
        write(out.join('\n') + '\n');
        function entryText(a: bigint): string {
          if (!opts.struct) return a.toString(16);
          return `${a.toString(16)}\nstruct ${opts.struct.replace(/^struct\s+/, '')} ${printValue(k.value(a, `struct ${opts.struct.replace(/^struct\s+/, '')}`), d.symbols)}`;
        }
      });
    });

  dump
    .command('search')
    .description("where a value is stored in the dump's memory (8-byte aligned words of the kernel's direct map), as crash's `search -k`")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<value>', 'the value: hex (0x… or 16 digits), decimal, or a symbol (its address)')
    .option('--max <n>', 'stop after this many hits', '1000')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, value, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      await withDump(vmcore, opts, async (d) => {
        const want = /^\d+$/.test(value) ? BigInt(value) : await addressArg(d, value, vmcore);
        const mem = d.memory as { pageOffsetBase?: bigint; physBase?: bigint };
        if (mem.pageOffsetBase === undefined) throw new InputError('search: the direct map of this dump is not known', vmcore);
        const virt = (phys: bigint) => (d.arch === 'arm64' ? mem.pageOffsetBase! + (phys - (mem.physBase ?? 0n)) : mem.pageOffsetBase! + phys);
        const page = BigInt(d.container.pageSize);
        const { nodePfnRanges } = await import('../../sources/dump/walk/meminfo.ts');
        const max = Number(opts.max);
        const hits: string[] = [];
        const lo = BigInt.asUintN(32, want);
        const hi = BigInt.asUintN(32, want >> 32n);
        scan: for (const { start, end } of nodePfnRanges(d.kernel)) {
          for (let pfn = start; pfn < end; pfn++) {
            if (!d.container.hasPage(pfn)) continue;
            const r = attempt(() => d.container.readPhys(pfn * page, Number(page)));
            if (!r.ok) continue;
            const b = r.value;
            for (let off = 0; off + 8 <= b.length; off += 8) {
              if (b.readUInt32LE(off) !== Number(lo) || b.readUInt32LE(off + 4) !== Number(hi)) continue;
              hits.push(`${hex(virt(pfn * page + BigInt(off)))}: ${want.toString(16)}`);
              if (hits.length >= max) break scan;
            }
          }
        }
        write(hits.length ? hits.join('\n') + '\n' : '');
      });
    });

  dump
    .command('waitq')
    .description("the tasks waiting on a wait queue head, as crash's `waitq ADDR` lists them")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('<address>', 'address of a struct wait_queue_head (hex), or a global one by name')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, address, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      await withDump(vmcore, opts, async (d) => {
        const at = await addressArg(d, address, vmcore);
        let waiters: bigint[];
        try {
          waiters = waitQueueTasks(d.kernel, at);
        } catch (e) {
          throw new InputError(`waitq 0x${at.toString(16)}: ${readFailure(e)}`, vmcore);
        }
        if (!waiters.length) {
          write(`wait queue ${at.toString(16)} is empty\n`);
          return;
        }
        const tasks = new Map(d.scheduler.tasks().map((t) => [t.address, t]));
        write(
          waiters
            .map((w) => {
              const t = tasks.get(w);
              return `PID: ${String(t?.pid ?? '?').padEnd(8)} TASK: ${w.toString(16)}  CPU: ${String(t?.cpu ?? '?').padEnd(4)} COMMAND: "${t?.comm ?? '?'}"`;
            })
            .join('\n') + '\n',
        );
      });
    });

  dump
    .command('bt')
    .description("backtraces, as crash's `bt -a` (every CPU, the default), `bt PID`, `foreach bt`")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .argument('[pid...]', 'tasks to show (all threads with that pid; 0 = the idle tasks)')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'json'] as const).default('text' as const))
    .option('-a, --all-cpus', 'every online CPU (the default without PIDs)')
    .option('--tasks', 'every task (crash foreach bt)')
    .option('--state <letters>', 'tasks in these states, e.g. D or DR (crash foreach UN bt)')
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, pids, opts) => {
      const { InputError } = await import('../../model/errors.ts');
      await withDump(vmcore, opts, async (d) => {
        const bt = d.backtracer;
        const recs: BtRecord[] = [];
        const text: string[] = [];
        const wantTasks = pids.length > 0 || opts.tasks || opts.state;
        if (!wantTasks || opts.allCpus) {
          for (const cpu of d.walkCpus()) {
            const c = bt.cpu(cpu);
            recs.push(btRecord(c.trace, { cpu, task: c.task, registers: c.registers }));
            text.push(renderBt(c.trace, { pid: c.task?.pid, task: c.task ? hex(c.task.address) : undefined, cpu, comm: c.task?.comm }));
          }
        }
        if (wantTasks) {
          const tasks = d.scheduler.tasks();
          let chosen: TaskInfo[] = tasks;
          if (pids.length) {
            const want = new Set(pids.map((p) => {
              if (!/^\d+$/.test(p)) throw new InputError(`not a PID: ${JSON.stringify(p)}`, vmcore);
              return Number(p);
            }));
            chosen = tasks.filter((t) => want.has(t.pid));
            const missing = [...want].filter((p) => !chosen.some((t) => t.pid === p));
            if (missing.length) throw new InputError(`no task with PID ${missing.join(', ')} in the dump`, vmcore);
          }
          if (opts.state) chosen = chosen.filter((t) => opts.state!.includes(t.state.letter));
          for (const t of chosen) {
            const b = bt.task(t);
            recs.push(btRecord(b.trace, { cpu: t.cpu, task: t }));
            text.push(renderBt(b.trace, { pid: t.pid, task: hex(t.address), cpu: t.cpu, comm: t.comm }));
          }
        }
        write(opts.format === 'json' ? toJson(recs) : text.join('\n'));
      });
    });
}
