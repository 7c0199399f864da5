/** `coroner analyze PATH...`: all evidence about one incident -> the verdict (text or JSON). */
import { Option, type Command } from '@commander-js/extra-typings';
import { diagnose } from '../../diagnose/index.ts';
import { EXIT_OK, EXIT_PROBLEM } from '../../model/errors.ts';
import { buildReport } from '../../report/json.ts';
import { renderHtml } from '../../report/html/index.ts';
import { renderText } from '../../report/text.ts';
import { collectEvidence } from '../../sources/collect.ts';
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
      const c = await collectEvidence(paths, { systemMap: opts.systemMap });
      const d = diagnose(c);
      const report = buildReport(c, d);
      const text =
        opts.format === 'json'
          ? JSON.stringify(report, null, 2) + '\n'
          : opts.format === 'html'
            ? renderHtml(report)
            : renderText(report, { color: useColor(opts.output) });
      await emit(text, opts.output);
      process.exitCode = d.verdict.status === 'healthy' ? EXIT_OK : EXIT_PROBLEM;
    });
}
