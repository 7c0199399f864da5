/** `coroner live`: analyse the running host (root) from /proc, /sys and perf. */
import type { Command } from '@commander-js/extra-typings';

export function registerLive(program: Command): void {
  program.command('live').description('analyse the running host: hung tasks, unserved userfaultfds, frozen instructions');
}
