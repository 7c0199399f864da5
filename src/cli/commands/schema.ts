/** `coroner schema`: prints the JSON Schema of the `analyze --format json` report. */
import type { Command } from '@commander-js/extra-typings';
import { ReportSchema } from '../../report/schema.ts';
import { emit } from '../output.ts';

export function registerSchema(program: Command): void {
  program
    .command('schema')
    .description('print the JSON Schema of the JSON report')
    .action(async () => {
      await emit(JSON.stringify({ $schema: 'https://json-schema.org/draft/2020-12/schema', ...ReportSchema }, null, 2) + '\n', undefined);
    });
}
