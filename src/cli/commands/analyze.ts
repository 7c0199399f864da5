/** `coroner analyze PATH...`: all evidence about one incident -> the verdict (text or JSON). */
import { Option, type Command } from '@commander-js/extra-typings';
import { writeReport } from '../report-output.ts';
import { startProgress } from '../progress.ts';

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('analyse the evidence of one incident (kernel logs, vmcore-dmesg.txt, a /var/crash/<dir>, a vmcore, or - for stdin) and print the verdict; a log of several boots gives the verdict of the last boot with trouble (or the one the vmcore is of) and lists the others; evidence of another kernel or boot is left out and said so')
    .argument('<paths...>', 'log files (also .gz, .xz, .zst, .bz2; pipes and FIFOs), crash directories, vmcores, or - for stdin')
    .addOption(new Option('-f, --format <format>', 'report format').choices(['text', 'json', 'html'] as const).default('text' as const))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--system-map <file>', 'System.map for a vmcore whose VMCOREINFO lacks kallsyms')
    .action(async (paths, opts) => {
      // Loaded here, not at start-up: `coroner --help` and the other commands stay fast.
      const { collectEvidence } = await import('../../sources/collect.ts');
      // A bar on a terminal when reading takes over a second (a vmcore, a big log); nothing when piped.
      const progress = await startProgress('coroner analyze');
      try {
        const c = await collectEvidence(paths, { systemMap: opts.systemMap, onProgress: (f, what) => progress?.update(f, what) });
        progress?.update(1, 'diagnosing');
        progress?.stop();
        await writeReport(c, opts.format, opts.output);
      } finally {
        progress?.stop();
      }
    });
}

