/** `coroner dump ...`: raw views of a vmcore (info, log; later ps, bt). */
import type { Command } from '@commander-js/extra-typings';

export function registerDump(program: Command): void {
  program.command('dump').description('raw views of a vmcore: info, log');
}
