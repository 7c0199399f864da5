/** The `coroner` command line: parses arguments, runs a command, maps errors to exit codes. No analysis here. */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { InputError, EXIT_USAGE } from '../model/errors.ts';
import { registerDump } from './commands/dump.ts';

export function buildProgram(): Command {
  const program = new Command()
    .name('coroner')
    .description('Finds out why a Linux kernel hung or crashed: from a vmcore, the kernel log, or a live host.')
    .version('0.1.0')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  registerDump(program);
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
    throw err;
  }
}

await main();
