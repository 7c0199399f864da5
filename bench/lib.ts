/** Shared by the benchmarks: timing a child process with its peak RSS, and finding the crash peer. */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers.ts';

const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Runs a command (under /usr/bin/time -v when present): wall ms, max RSS KiB, exit code and output. */
export function timed(cmd: string[], input?: string): { ms: number; rssKb?: number; code: number | null; out: string; err: string } {
  const argv = TIME ? [TIME, '-v', ...cmd] : cmd;
  const t0 = performance.now();
  const r = spawnSync(argv[0], argv.slice(1), { cwd: repoRoot, encoding: 'latin1', input, maxBuffer: 256 << 20 });
  const ms = performance.now() - t0;
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(r.stderr)?.[1];
  return { ms, rssKb: rss ? Number(rss) : undefined, code: r.status, out: r.stdout, err: r.stderr };
}

/** crash (`$CRASH`, else on PATH) and the kernel's debuginfo vmlinux, when both are installed. */
export function crashPeer(release: string | undefined): { crash: string; vmlinux: string } | undefined {
  const crash = process.env.CRASH ?? spawnSync('sh', ['-c', 'command -v crash'], { encoding: 'utf8' }).stdout.trim();
  if (!crash || !existsSync(crash) || !release) return undefined;
  for (const v of [`/usr/lib/debug/boot/vmlinux-${release}`, `/usr/lib/debug/lib/modules/${release}/vmlinux`]) if (existsSync(v)) return { crash, vmlinux: v };
  return undefined;
}

/** The fixture's recorded crash oracle session (crash.time.txt, made when the fixtures were built): wall ms and RSS MiB. */
export function recordedCrash(dir: string): { ms: number; rssMiB?: number } | undefined {
  const p = join(dir, 'crash.time.txt');
  if (!existsSync(p)) return undefined;
  const t = readFileSync(p, 'latin1');
  const wall = /Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)/.exec(t)?.[1];
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(t)?.[1];
  if (!wall) return undefined;
  const [m, s] = wall.split(':').map(Number);
  return { ms: (m * 60 + s) * 1000, rssMiB: rss ? Math.round(Number(rss) / 1024) : undefined };
}
