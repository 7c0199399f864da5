/** The `coroner` command line: parses arguments, runs a command, maps errors to exit codes. No analysis here. */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { InputError, EXIT_INTERNAL, EXIT_USAGE } from '../model/errors.ts';
import { registerAnalyze } from './commands/analyze.ts';
import { registerDump } from './commands/dump.ts';
import { registerLive } from './commands/live.ts';
import { registerSchema } from './commands/schema.ts';
import { registerTriage } from './commands/triage.ts';

export function buildProgram(): Command {
  const program = new Command()
    .name('coroner')
    .description('Finds out why a Linux kernel hung or crashed: from a vmcore, the kernel log, or a live host.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerAnalyze(program);
  registerTriage(program);
  registerSchema(program);
  registerDump(program);
  registerLive(program);
  return program;
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    if (err instanceof InputError) {
      process.stderr.write(`coroner: ${err.describe()}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    // A bug of ours: one line, no stack trace unless asked for.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`coroner: internal error: ${message}${process.env.CORONER_DEBUG ? '' : ' (set CORONER_DEBUG=1 for details)'}\n`);
    if (process.env.CORONER_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.exitCode = EXIT_INTERNAL;
  }
}

// `coroner ... | head` closes the pipe early: that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw err;
});

await main();
