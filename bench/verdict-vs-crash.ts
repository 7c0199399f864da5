/**
 * Benchmark (issues 11 and 16): the whole verdict (`bin/coroner analyze --format json VMCORE`, no debuginfo) of every
 * vmcore fixture against crash on the same dump in the same run, crash doing only the first look an engineer takes —
 * `bt -a; foreach bt; log` — with the kernel's -dbg vmlinux (600+ MB of DWARF). Wall time and peak RSS, medians of
 * --runs, and the ratios. Targets (issue 11): 20x faster at 1/5 of crash's memory.
 *
 *   node --import tsx bench/verdict-vs-crash.ts [--runs N] [--arch x86_64|arm64] [FILTER]
 *
 * Peers: x86_64 — $CRASH, else /var/tmp/forge/crashsrc/crash-8.0.6/crash (Debian's crash 8.0.2 cannot read 6.12),
 * else crash on PATH, with /usr/lib/debug/boot/vmlinux-RELEASE; arm64 — $CRASH_ARM64 (crash built with target=ARM64,
 * ../shared/forge/lib/build-crash-arm64.sh) and $VMLINUX_ARM64 (the arm64 -dbg vmlinux), defaults under
 * /var/tmp/forge-arm64. A missing peer prints the fixture's recorded oracle session (crash.time.txt), marked `*`.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers.ts';
import { allVmcoreFixtures } from '../test/sources/dump/kernel/fixtures.ts';
import { median, recordedCrash, timed } from './lib.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(opt('--runs') ?? 3);
const ARCH = opt('--arch');
const filter = args.find((a, i) => !a.startsWith('--') && !['--runs', '--arch'].includes(args[i - 1] ?? ''));
const BIN = join(repoRoot, 'bin/coroner');

function release(dir: string): string | undefined {
  const p = join(dir, 'vmcoreinfo.txt');
  return existsSync(p) ? /^OSRELEASE=(.+)$/m.exec(readFileSync(p, 'latin1'))?.[1] : undefined;
}

function peerFor(arch: string, rel: string | undefined): { crash: string; vmlinux: string } | undefined {
  if (!rel) return undefined;
  if (arch === 'arm64') {
    const crash = [process.env.CRASH_ARM64, '/var/tmp/forge-arm64/crashsrc/crash-8.0.6/crash'].find((p) => p && existsSync(p));
    const vmlinux = [process.env.VMLINUX_ARM64, `/var/tmp/forge-arm64/dbg/usr/lib/debug/boot/vmlinux-${rel}`].find((p) => p && existsSync(p));
    return crash && vmlinux ? { crash, vmlinux } : undefined;
  }
  const crash = [process.env.CRASH, '/var/tmp/forge/crashsrc/crash-8.0.6/crash', '/usr/bin/crash'].find((p) => p && existsSync(p));
  const vmlinux = [`/usr/lib/debug/boot/vmlinux-${rel}`, `/usr/lib/debug/lib/modules/${rel}/vmlinux`].find((p) => existsSync(p));
  return crash && vmlinux ? { crash, vmlinux } : undefined;
}

const script = join(mkdtempSync(join(tmpdir(), 'coroner-bench-')), 'crash.in');
writeFileSync(script, 'bt -a\nforeach bt\nlog\nquit\n');
const fixtures = allVmcoreFixtures().filter((f) => (!ARCH || f.arch === ARCH) && (!filter || f.name.includes(filter)));
if (!fixtures.length) {
  console.log('no vmcore fixtures under ../shared/fixtures');
  process.exit(0);
}
console.log(`runs ${RUNS} (median), node ${process.version}`);
console.log(['fixture'.padEnd(40), 'verdict'.padEnd(24), 'coroner s', 'MiB', 'crash s', 'MiB', 'speed', 'memory'].join('  '));
const speeds: number[] = [];
const mems: number[] = [];
for (const f of fixtures) {
  const ours: number[] = [];
  const ourRss: number[] = [];
  let verdict = '?';
  for (let r = 0; r < RUNS; r++) {
    const t = timed([BIN, 'analyze', '--format', 'json', f.vmcore]);
    ours.push(t.ms);
    if (t.rssKb) ourRss.push(t.rssKb / 1024);
    try {
      const j = JSON.parse(t.out) as { verdict: { status: string; roots: string[] }; findings: Array<{ id: string; kind: string }> };
      verdict = j.verdict.roots.length ? j.findings.find((x) => x.id === j.verdict.roots[0])!.kind : j.verdict.status;
    } catch {
      verdict = `exit ${t.code}`;
    }
  }
  let peer: { ms: number; rss?: number; recorded: boolean } | undefined;
  const p = peerFor(f.arch, release(f.dir));
  if (p) {
    const ms: number[] = [];
    const rss: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = timed(['sh', '-c', `"${p.crash}" -s "${p.vmlinux}" "${f.vmcore}" < "${script}"`]);
      if (!/^PID: /m.test(t.out)) break; // the peer could not read this dump: not comparable
      ms.push(t.ms);
      if (t.rssKb) rss.push(t.rssKb / 1024);
    }
    if (ms.length) peer = { ms: median(ms), ...(rss.length ? { rss: median(rss) } : {}), recorded: false };
  }
  if (!peer) {
    const rec = recordedCrash(f.dir);
    if (rec) peer = { ms: rec.ms, ...(rec.rssMiB ? { rss: rec.rssMiB } : {}), recorded: true };
  }
  const o = median(ours);
  const oRss = ourRss.length ? median(ourRss) : undefined;
  if (peer && !peer.recorded) {
    speeds.push(peer.ms / o);
    if (peer.rss && oRss) mems.push(oRss / peer.rss);
  }
  console.log(
    [
      f.name.padEnd(40),
      verdict.padEnd(24),
      (o / 1000).toFixed(2).padStart(9),
      (oRss?.toFixed(0) ?? '?').padStart(3),
      peer ? `${(peer.ms / 1000).toFixed(2)}${peer.recorded ? '*' : ''}`.padStart(7) : '      -',
      (peer?.rss?.toFixed(0) ?? '?').padStart(3),
      peer ? `${(peer.ms / o).toFixed(1)}x`.padStart(5) : '    -',
      peer?.rss && oRss ? `1/${(peer.rss / oRss).toFixed(1)}` : '-',
    ].join('  '),
  );
}
if (speeds.length) console.log(`median over ${speeds.length} dumps with the peer run here: ${median(speeds).toFixed(1)}x faster, ${median(mems).toFixed(2)} of crash's peak RSS (targets: 20x, 0.20)`);
console.log("* the fixture's recorded crash session (sys, bt -a, ps, log ...), not run here");
