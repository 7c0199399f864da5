/**
 * Benchmark: every CPU's and task's stack of each vmcore fixture. In process: task list, bt -a,
 * all D/R task stacks and foreach bt (ms, per task); as children: `bin/coroner dump bt -a`,
 * `dump ps`, `dump bt --state DR` (wall ms, peak RSS). Peer: `crash -s vmlinux vmcore` running
 * `bt -a; foreach bt; ps` when crash and the kernel's debuginfo are installed, else "peer missing"
 * (the fixture's recorded oracle session is shown for reference). Scaling: time per task across
 * the fixtures' task counts (and, with --repeat N, foreach bt repeated N times in one process).
 *
 *   node --import tsx bench/dump-stacks.ts [--runs N] [--repeat N]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openKernelDump } from '../src/sources/dump/index.ts';
import { repoRoot, vmcoreFixtures } from '../test/sources/dump/kernel/fixtures.ts';
import { crashPeer, median, recordedCrash, timed } from './lib.ts';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const RUNS = arg('--runs', 3);
const REPEAT = arg('--repeat', 10);
const BIN = join(repoRoot, 'bin/coroner');





const fixtures = vmcoreFixtures();
if (!fixtures.length) {
  console.log('no fixtures under ../shared/fixtures');
  process.exit(0);
}
console.log(`runs ${RUNS} (median), node ${process.version}`);
console.log(['fixture'.padEnd(40), 'tasks', 'open+ps', 'bt -a', 'D/R', 'foreach', 'µs/task', 'bt-a child', 'ps child', 'D/R child', 'RSS MiB'].join('  '));
const scaling: Array<{ tasks: number; us: number }> = [];
for (const f of fixtures) {
  const inproc: Record<string, number[]> = { ps: [], bta: [], dr: [], all: [] };
  let tasks = 0;
  let release: string | undefined;
  for (let r = 0; r < RUNS; r++) {
    let t0 = performance.now();
    const d = openKernelDump(f.vmcore);
    release = d.release;
    const ts = d.scheduler.tasks();
    tasks = ts.length;
    inproc.ps.push(performance.now() - t0);
    t0 = performance.now();
    for (const cpu of d.onlineCpus()) d.backtracer.cpu(cpu);
    inproc.bta.push(performance.now() - t0);
    t0 = performance.now();
    for (const t of ts) if (t.state.letter === 'D' || t.state.letter === 'R') d.backtracer.task(t);
    inproc.dr.push(performance.now() - t0);
    t0 = performance.now();
    for (const t of ts) d.backtracer.task(t);
    inproc.all.push(performance.now() - t0);
    d.close();
  }
  // Repeat foreach bt in one process to measure per-task cost without start-up (sleeping tasks are unwound afresh each time).
  const d = openKernelDump(f.vmcore);
  const ts = d.scheduler.tasks();
  const t0 = performance.now();
  for (let i = 0; i < REPEAT; i++) for (const t of ts) if (!t.current) d.backtracer.unwinder.sleeping(t.threadSp, t.stack, t.cpu);
  const perTask = ((performance.now() - t0) * 1000) / (REPEAT * ts.length);
  d.close();
  scaling.push({ tasks, us: perTask });
  const child = (args: string[]) => {
    const rs = Array.from({ length: RUNS }, () => timed([process.execPath, BIN, ...args]));
    return { ms: median(rs.map((x) => x.ms)), rss: Math.max(...rs.map((x) => x.rssKb ?? 0)) };
  };
  const bta = child(['dump', 'bt', '-a', f.vmcore]);
  const ps = child(['dump', 'ps', f.vmcore]);
  const dr = child(['dump', 'bt', '--state', 'DR', f.vmcore]);
  console.log(
    [
      f.name.padEnd(40),
      String(tasks).padStart(5),
      median(inproc.ps).toFixed(0).padStart(7),
      median(inproc.bta).toFixed(1).padStart(5),
      median(inproc.dr).toFixed(1).padStart(5),
      median(inproc.all).toFixed(1).padStart(7),
      perTask.toFixed(0).padStart(7),
      bta.ms.toFixed(0).padStart(10),
      ps.ms.toFixed(0).padStart(8),
      dr.ms.toFixed(0).padStart(9),
      String(Math.round(Math.max(bta.rss, ps.rss, dr.rss) / 1024)).padStart(7),
    ].join('  '),
  );
  const p = crashPeer(release);
  if (p) {
    const r = timed([p.crash, '-s', p.vmlinux, f.vmcore], 'bt -a\nforeach bt\nps\nquit\n');
    // Like for like: crash does the three in one session; `dump bt --tasks` (foreach bt) is our heaviest one, in one process.
    const all = child(['dump', 'bt', '--tasks', f.vmcore]);
    const sum = bta.ms + dr.ms + ps.ms;
    const mib = (kb?: number) => (kb ? Math.round(kb / 1024) : '?');
    console.log(
      `    peer crash (bt -a; foreach bt; ps, one session): ${r.ms.toFixed(0)} ms, ${mib(r.rssKb)} MiB; coroner dump bt --tasks (one process): ${all.ms.toFixed(0)} ms, ${mib(all.rss)} MiB` +
        ` -> crash/coroner ${(r.ms / all.ms).toFixed(1)}x time, RSS 1/${r.rssKb && all.rss ? (r.rssKb / all.rss).toFixed(1) : '?'}; vs the three commands as separate processes ${(r.ms / sum).toFixed(1)}x`,
    );
  } else {
    const rec = recordedCrash(f.dir);
    console.log(`    peer missing: crash/debuginfo vmlinux not installed (set CRASH=/path/to/crash)${rec ? ` (recorded oracle session ${rec.ms.toFixed(0)} ms, ${rec.rssMiB ?? '?'} MiB)` : ''}`);
  }
}
// Linearity: µs per sleeping-task unwind should not grow with the task count.
const sorted = [...scaling].sort((a, b) => a.tasks - b.tasks);
console.log(`scaling: µs per task unwind by task count: ${sorted.map((s) => `${s.tasks}:${s.us.toFixed(0)}`).join(', ')}`);
