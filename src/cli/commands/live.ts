/** `coroner live`: analyse the running host (root) from /proc, /sys and perf. */
import { InvalidArgumentError, Option, type Command } from '@commander-js/extra-typings';
import { InputError } from '../../model/errors.ts';
import { writeReport } from '../report-output.ts';
import { startProgress } from '../progress.ts';

function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0.5 || n > 600) throw new InvalidArgumentError('a number of seconds between 0.5 and 600');
  return n;
}

function pids(v: string, prev: number[] = []): number[] {
  const out = [...prev];
  for (const part of v.split(',')) {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('a process or thread id (several: repeat --pid or separate with commas)');
    out.push(n);
  }
  return out;
}

export function registerLive(program: Command): void {
  program
    .command('live')
    .description('analyse the running host (as root): hung tasks, unserved userfaultfds, frozen instructions; samples for a few seconds')
    .addOption(new Option('-w, --watch <seconds>', 'sampling window').argParser(seconds).default(3))
    .addOption(new Option('-p, --pid <pid>', 'focus on these processes (repeatable, or comma-separated)').argParser(pids))
    .addOption(new Option('-f, --format <format>', 'report format').choices(['text', 'json', 'html'] as const).default('text' as const))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--no-perf', 'do not run perf (user PCs, IPC, fault and signal counters stay unknown)')
    .option('--no-kernel-log', 'do not read the kernel log (/dev/kmsg)')
    .action(async (opts) => {
      for (const p of opts.pid ?? []) {
        try {
          process.kill(p, 0);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ESRCH') throw new InputError(`--pid ${p}: no such process`);
        }
      }
      if (process.getuid?.() !== 0) {
        process.stderr.write('coroner: not running as root: kernel stacks, other processes\' descriptors and perf sampling are not readable; the report covers what could be read and is marked incomplete\n');
      }
      // Progress on a terminal only: pipes and files never see it.
      const bar = await startProgress('coroner live', { delayMs: 0 });
      const { collectLive } = await import('../../sources/live/index.ts');
      let c;
      try {
        c = await collectLive({
          seconds: opts.watch,
          pids: opts.pid,
          perf: opts.perf ? 'perf' : false,
          kernelLog: opts.kernelLog,
          onProgress: (f: number, what: string) => bar?.update(f, what),
        });
      } finally {
        bar?.stop();
      }
      await writeReport(c, opts.format, opts.output);
    });
}
