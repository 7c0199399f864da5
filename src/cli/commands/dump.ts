/** `coroner dump ...`: raw views of a vmcore (info, log; later ps, bt). */
import { Option, type Command } from '@commander-js/extra-typings';
import type { DumpInfo } from '../../sources/dump/index.ts';

/** Loaded on first use, so `coroner --help` and other commands stay fast. */
async function reader() {
  return import('../../sources/dump/index.ts');
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
  if (cpu.nrCpuIds !== undefined) cpuParts.push(`nr_cpu_ids ${cpu.nrCpuIds}`);
  if (cpu.headerCount !== undefined) cpuParts.push(`header ${cpu.headerCount}`);
  add('cpus', `${cpu.online?.length ?? cpu.headerCount ?? cpu.notes}: ${cpuParts.join('; ')}`);
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

export function registerDump(program: Command): void {
  const dump = program.command('dump').description('raw views of a vmcore: info, log');

  dump
    .command('info')
    .description('what the dump is: kernel, CPUs, crash time, panic, format, KASLR, symbol and type sources')
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'json'] as const).default('text' as const))
    .option('--system-map <file>', 'System.map to use instead of the kallsyms in the dump')
    .action(async (vmcore, opts) => {
      const { openKernelDump } = await reader();
      const d = openKernelDump(vmcore, { systemMap: opts.systemMap });
      try {
        const info = d.info();
        write(opts.format === 'json' ? toJson(info) : renderDumpInfo(info));
      } finally {
        d.close();
      }
    });

  dump
    .command('log')
    .description("the kernel log from the printk ring buffer, as crash's `log` prints it")
    .argument('<vmcore>', 'vmcore file, or a /var/crash/<dir> directory holding one')
    .option('--system-map <file>', 'System.map (not needed for the log; accepted for symmetry)')
    .action(async (vmcore, opts) => {
      const { openKernelDump } = await reader();
      const d = openKernelDump(vmcore, { systemMap: opts.systemMap });
      try {
        const lines = d.log();
        write(lines.length ? lines.join('\n') + '\n' : '');
        const notes = d.printk().notes;
        for (const n of notes) process.stderr.write(`coroner: ${d.path}: log incomplete: ${n}\n`);
      } finally {
        d.close();
      }
    });
}
