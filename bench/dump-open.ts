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

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 3;
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs a command under /usr/bin/time -v: wall ms and max RSS KiB. */
function timed(cmd: string[], input?: string): { ms: number; rssKb?: number; code: number | null; out: string; err: string } {
  const argv = TIME ? [TIME, '-v', ...cmd] : cmd;
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: repoRoot, encoding: 'latin1', input, maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
  return { ms, rssKb: rss ? Number(rss) : undefined, code: r.status, out: r.stdout, err: r.stderr };
}

/** The fixture's recorded crash run (crash.time.txt, made when the fixtures were built), for reference only. */
function recordedCrash(dir: string): string | undefined {
  const p = join(dir, 'crash.time.txt');
  if (!existsSync(p)) return undefined;
  const t = readFileSync(p, 'latin1');
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(t)?.[1];
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(t)?.[1];
  if (!wall) return undefined;
  const [m, s] = wall.split(':').map(Number);
  return `${((m * 60 + s) * 1000).toFixed(0)} ms, ${rss ? Math.round(Number(rss) / 1024) : '?'} MiB (whole oracle session, recorded at fixture build)`;
}

function crashPeer(release: string | undefined): { crash: string; vmlinux: string } | undefined {
  const which = spawnSync('sh', ['-c', 'command -v crash'], { encoding: 'utf8' });
  const crash = which.stdout.trim();
  if (!crash || !release) return undefined;
  for (const v of [`/usr/lib/debug/boot/vmlinux-${release}`, `/usr/lib/debug/lib/modules/${release}/vmlinux`]) if (existsSync(v)) return { crash, vmlinux: v };
  return undefined;
}

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
    if (rec) peer += `; recorded crash: ${rec}`;
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
