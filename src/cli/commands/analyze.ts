/** `coroner analyze PATH...`: all evidence about one incident -> the verdict (text or JSON). */
import { Option, type Command } from '@commander-js/extra-typings';
import { EXIT_OK, EXIT_PROBLEM } from '../../model/errors.ts';
import { emit, useColor } from '../output.ts';

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('analyse the evidence of one incident (kernel logs, vmcore-dmesg.txt, a /var/crash/<dir>, a vmcore, or - for stdin) and print the verdict')
    .argument('<paths...>', 'log files, crash directories, vmcores, or - for stdin')
    .addOption(new Option('-f, --format <format>', 'report format').choices(['text', 'json', 'html'] as const).default('text' as const))
    .option('-o, --output <file>', 'write the report to a file instead of stdout')
    .option('--system-map <file>', 'System.map for a vmcore whose VMCOREINFO lacks kallsyms')
    .action(async (paths, opts) => {
      // Loaded here, not at start-up: `coroner --help` and the other commands stay fast.
      const { collectEvidence } = await import('../../sources/collect.ts');
      const { diagnose } = await import('../../diagnose/index.ts');
      const { buildReport } = await import('../../report/json.ts');
      const c = await collectEvidence(paths, { systemMap: opts.systemMap });
      const d = diagnose(c);
      const report = buildReport(c, d);
      const text =
        opts.format === 'json'
          ? JSON.stringify(report, null, 2) + '\n'
          : opts.format === 'html'
            ? await html(report)
            : (await import('../../report/text.ts')).renderText(report, { color: useColor(opts.output) });
      await emit(text, opts.output);
      process.exitCode = d.verdict.status === 'healthy' ? EXIT_OK : EXIT_PROBLEM;
    });
}

async function html(report: import('../../report/schema.ts').Report): Promise<string> {
  const { readLogsForHtml, renderHtml } = await import('../../report/html/index.ts');
  return renderHtml(report, { logs: readLogsForHtml(report) });
}
