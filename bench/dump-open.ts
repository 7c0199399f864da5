/**
 * Benchmark: open + info + log of every vmcore fixture, in process (time) and as a child
 * `bin/coroner dump log` (wall time, peak RSS), against `crash -s vmlinux vmcore` running `log`
 * when crash and the kernel's debuginfo vmlinux are installed.
 *
 *   node --import tsx bench/dump-open.ts [--runs N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openKernelDump } from '../src/sources/dump/index.ts';
import { repoRoot, vmcoreFixtures } from '../test/sources/dump/kernel/fixtures.ts';
import { crashPeer, median, recordedCrash, timed } from './lib.ts';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;





const fixtures = vmcoreFixtures();
if (!fixtures.length) {
  console.log('no fixtures under ../shared/fixtures');
  process.exit(0);
}
const tmp = mkdtempSync(join(tmpdir(), 'coroner-bench-'));
const cmdFile = join(tmp, 'crash.cmd');
writeFileSync(cmdFile, 'log\nquit\n');

console.log(`dump open+info+log, median of ${RUNS} in-process runs; child = bin/coroner dump log (cold process)`);
console.log(
  ['fixture'.padEnd(42), 'open', 'info', 'log', 'total', 'child ms', 'child RSS', 'peer (crash log)'].join('  '),
);
let cliBroken: string | undefined;
for (const f of fixtures) {
  const open: number[] = [];
  const info: number[] = [];
  const log: number[] = [];
  let release: string | undefined;
  let lines = 0;
  for (let i = 0; i < RUNS; i++) {
    let t = performance.now();
    const d = openKernelDump(f.vmcore);
    open.push(performance.now() - t);
    t = performance.now();
    const inf = d.info();
    info.push(performance.now() - t);
    release = inf.release;
    t = performance.now();
    lines = d.log().length;
    log.push(performance.now() - t);
    d.close();
  }
  const total = median(open) + median(info) + median(log);

  let child = '-';
  let childRss = '-';
  if (!cliBroken) {
    const r = timed([join(repoRoot, 'bin/coroner'), 'dump', 'log', f.vmcore]);
    if (r.code === 0) {
      child = r.ms.toFixed(0);
      childRss = r.rssKb ? `${(r.rssKb / 1024).toFixed(0)} MiB` : '?';
      if (r.out.split('\n').length - 1 !== lines) child += ' (line count differs!)';
    } else cliBroken = r.err.split('\n').find((l) => /Error|coroner:/.test(l)) ?? `exit ${r.code}`;
  }

  let peer = 'peer missing: crash/debuginfo not installed';
  const p = crashPeer(release);
  if (p) {
    const r = timed([p.crash, '-s', p.vmlinux, f.vmcore], 'log\nquit\n');
    peer =
      r.code === 0
        ? `${r.ms.toFixed(0)} ms, ${r.rssKb ? (r.rssKb / 1024).toFixed(0) : '?'} MiB; ratio crash/coroner ${(r.ms / Number(child === '-' ? total : child.split(' ')[0])).toFixed(1)}x`
        : `crash failed (exit ${r.code})`;
  } else {
    const rec = recordedCrash(f.dir);
    if (rec) peer += `; recorded crash: ${rec.ms.toFixed(0)} ms, ${rec.rssMiB ?? '?'} MiB (whole oracle session, recorded at fixture build)`;
  }
  console.log(
    [
      f.name.padEnd(42),
      median(open).toFixed(0).padStart(4),
      median(info).toFixed(0).padStart(4),
      median(log).toFixed(0).padStart(3),
      total.toFixed(0).padStart(5),
      child.padStart(8),
      childRss.padStart(9),
      peer,
    ].join('  '),
  );
}
if (cliBroken) console.log(`child runs skipped: bin/coroner failed: ${cliBroken}`);
console.log(`this process: max RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`);
rmSync(tmp, { recursive: true, force: true });
