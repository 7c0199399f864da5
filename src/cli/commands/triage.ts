/** `coroner triage FILE...`: one record per log (per boot with trouble, for a log of several boots), grouped by signature. */
import { Option, type Command } from '@commander-js/extra-typings';
import { EXIT_OK, EXIT_PROBLEM, EXIT_USAGE } from '../../model/errors.ts';
import type { TriageRecord } from '../../fleet/triage.ts';
import { emit, useColor } from '../output.ts';

export function registerTriage(program: Command): void {
  program
    .command('triage')
    .description('one record per log (per boot with trouble in a log of several boots) with a stable bug signature, for triage of many logs')
    .argument('<files...>', 'kernel logs: files (also .gz, .xz, .zst, .bz2), FIFOs, or - for stdin')
    .addOption(new Option('-f, --format <format>', 'output format').choices(['text', 'jsonl'] as const).default('text' as const))
    .option('-o, --output <file>', 'write to a file instead of stdout')
    .action(async (files, opts) => {
      const { triageFile, renderTriageTable } = await import('../../fleet/triage.ts');
      const records: TriageRecord[] = [];
      const chunks: string[] = [];
      for (const f of files) {
        for (const r of await triageFile(f)) {
          if (r.error) process.stderr.write(`coroner: ${r.error}\n`);
          records.push(r);
          if (opts.format === 'jsonl') {
            if (opts.output) chunks.push(JSON.stringify(r));
            else await emit(JSON.stringify(r) + '\n', undefined);
          }
        }
      }
      if (opts.format === 'text') await emit(renderTriageTable(records, useColor(opts.output)), opts.output);
      else if (opts.output) await emit(chunks.join('\n') + '\n', opts.output);
      const readable = records.filter((r) => !r.error);
      process.exitCode = !readable.length ? EXIT_USAGE : readable.some((r) => r.signature !== 'clean' || (r.verdict ?? 'healthy') !== 'healthy') ? EXIT_PROBLEM : EXIT_OK;
    });
}
