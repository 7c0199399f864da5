/** `coroner schema`: prints the JSON Schema of the `analyze --format json` report. */
import type { Command } from '@commander-js/extra-typings';
import { emit } from '../output.ts';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the JSON report')
    .action(async () => {
      // Loaded when asked for: building the schema's types costs every other command time at start.
      const { ReportSchema } = await import('../../report/schema.ts');
      await emit(JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...ReportSchema }, null, 2) + '\n', undefined);
    });
}
