/**
 * Benchmark: 20 lookups (sym, p, rd, struct, dis, bt, files, waitq) on one vmcore — in one `coroner dump shell` session,
 * as 20 one-shot `coroner dump` runs, and, when crash and the kernel's debuginfo vmlinux are installed, as 20 one-shot
 * `crash -s` runs and one crash session. Wall time; the ratios are printed.
 *
 *   node --import tsx bench/dump-shell.ts [VMCORE]
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { fixturesRoot, repoRoot } from '../test/helpers.ts';
import { crashPeer, timed } from './lib.ts';

const vmcore = process.argv[2] ?? join(fixturesRoot, 'deb12-6.1.0-56/hung-uffd/vmcore.kdump');
if (!existsSync(vmcore)) {
  console.log(`no vmcore at ${vmcore}`);
  process.exit(0);
}
// The same questions in Coroner's words and crash's.
const LOOKUPS: Array<[string, string]> = [
  ['sym jiffies', 'sym jiffies'],
  ['sym schedule', 'sym schedule'],
  ['sym handle_userfault', 'sym handle_userfault'],
  ['p jiffies_64', 'p jiffies_64'],
  ['p init_task.comm', 'p init_task.comm'],
  ['p jiffies_seq', 'p jiffies_seq'],
  ['rd jiffies 4', 'rd jiffies 4'],
  ['rd init_task 8', 'rd init_task 8'],
  ['dis schedule 10', 'dis schedule 10'],
  ['dis handle_userfault 10', 'dis handle_userfault 10'],
  ['bt 158', 'bt 158'],
  ['bt 159', 'bt 159'],
  ['bt 161', 'bt 161'],
  ['task 1', 'task 1'],
  ['files 154', 'files 154'],
  ['ps', 'ps'],
  ['mod', 'mod'],
  ['kmem -i', 'kmem -i'],
  ['irq -s', 'irq -s'],
  ['sym ffffffffae85271d', 'sym ffffffffae85271d'],
];
const coroner = join(repoRoot, 'bin/coroner');

const session = timed([process.execPath, coroner, 'dump', 'shell', vmcore], LOOKUPS.map(([c]) => c).join('\n') + '\nquit\n');
let oneShot = 0;
let failed = 0;
for (const [c] of LOOKUPS) {
  const [cmd, ...rest] = c.split(' ');
  const r = timed([process.execPath, coroner, 'dump', cmd, vmcore, ...rest]);
  oneShot += r.ms;
  if (r.code !== 0) failed++;
}
console.log(`20 lookups on ${vmcore}`);
console.log(`  coroner dump shell, one session:   ${session.ms.toFixed(0)} ms (${session.rssKb ? `${Math.round(session.rssKb / 1024)} MiB` : '?'} peak)`);
console.log(`  coroner dump, 20 one-shot runs:    ${oneShot.toFixed(0)} ms${failed ? ` (${failed} failed)` : ''}`);

const release = /Linux version (\S+)/.exec(timed([process.execPath, coroner, 'dump', 'info', vmcore]).out)?.[1] ?? /release: (\S+)/.exec(timed([process.execPath, coroner, 'dump', 'info', vmcore]).out)?.[1];
const peer = crashPeer(release);
if (!peer) {
  console.log('  crash: not installed with the debuginfo vmlinux of this kernel here; no peer timing');
  process.exit(0);
}
const crashSession = timed([peer.crash, '-s', peer.vmlinux, vmcore], LOOKUPS.map(([, c]) => c).join('\n') + '\nquit\n');
let crashOneShot = 0;
for (const [, c] of LOOKUPS) crashOneShot += timed([peer.crash, '-s', peer.vmlinux, vmcore], `${c}\nquit\n`).ms;
console.log(`  crash -s, one session:             ${crashSession.ms.toFixed(0)} ms (${crashSession.rssKb ? `${Math.round(crashSession.rssKb / 1024)} MiB` : '?'} peak)`);
console.log(`  crash -s, 20 one-shot runs:        ${crashOneShot.toFixed(0)} ms`);
console.log(`  ratios: crash session / coroner session = ${(crashSession.ms / session.ms).toFixed(1)}x; crash one-shot / coroner session = ${(crashOneShot / session.ms).toFixed(1)}x; coroner one-shot / coroner session = ${(oneShot / session.ms).toFixed(1)}x`);
