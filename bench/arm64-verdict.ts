/**
 * Benchmark (issue 16): the whole arm64 verdict against crash built for ARM64 targets on the same dump, in the same run.
 * Coroner: `bin/coroner analyze --format json VMCORE` (no debuginfo: BTF, kallsyms, System.map beside the dump).
 * Peer: `crash -s vmlinux VMCORE` running `bt -a; foreach bt; log` with the kernel's -dbg vmlinux (600+ MB of DWARF) —
 * the first look an engineer takes, not yet a verdict. Wall time and peak RSS, median of --runs, and the ratios.
 *
 *   CRASH_ARM64=/path/to/crash VMLINUX_ARM64=/path/to/vmlinux node --import tsx bench/arm64-verdict.ts [--runs N]
 *
 * Without the peer (../shared/forge/lib/build-crash-arm64.sh builds it; the -dbg package gives the vmlinux) the
 * fixture's recorded oracle session (crash.time.txt) is printed for reference, marked as such.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesRoot, repoRoot } from '../test/helpers.ts';
import { median, recordedCrash, timed } from './lib.ts';

const i = process.argv.indexOf('--runs');
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 3;
const BIN = join(repoRoot, 'bin/coroner');
const base = join(fixturesRoot, 'deb12-6.1-arm64');
const release = '6.1.0-56-arm64';
const crash = [process.env.CRASH_ARM64, '/var/tmp/forge-arm64/crashsrc/crash-8.0.6/crash'].find((p) => p && existsSync(p));
const vmlinux = [process.env.VMLINUX_ARM64, `/var/tmp/forge-arm64/dbg/usr/lib/debug/boot/vmlinux-${release}`].find((p) => p && existsSync(p));

if (!existsSync(base)) {
  console.log('no arm64 fixtures under ../shared/fixtures/deb12-6.1-arm64');
  process.exit(0);
}
const script = join(mkdtempSync(join(tmpdir(), 'coroner-bench-')), 'crash.in');
writeFileSync(script, 'bt -a\nforeach bt\nlog\nquit\n');
console.log(`runs ${RUNS} (median), node ${process.version}, peer ${crash && vmlinux ? `${crash} with ${vmlinux}` : 'missing (recorded oracle session shown)'}`);
console.log(['fixture'.padEnd(22), 'verdict'.padEnd(22), 'coroner s', 'MiB', 'crash s', 'MiB', 'speed', 'memory'].join('  '));
for (const scenario of ['healthy', 'hung-uffd', 'softlockup-ipi', 'hardlockup-seqcount']) {
  const vmcore = join(base, scenario, 'vmcore.kdump');
  if (!existsSync(vmcore)) continue;
  const ours: number[] = [];
  const ourRss: number[] = [];
  let verdict = '?';
  for (let r = 0; r < RUNS; r++) {
    const t = timed([BIN, 'analyze', '--format', 'json', vmcore]);
    ours.push(t.ms);
    if (t.rssKb) ourRss.push(t.rssKb / 1024);
    try {
      const j = JSON.parse(t.out) as { verdict: { status: string; roots: string[] }; findings: Array<{ id: string; kind: string }> };
      verdict = j.verdict.roots.length ? j.findings.find((f) => f.id === j.verdict.roots[0])!.kind : j.verdict.status;
    } catch {
      verdict = `exit ${t.code}`;
    }
  }
  let peer: { ms: number; rss?: number; recorded: boolean } | undefined;
  if (crash && vmlinux) {
    const ms: number[] = [];
    const rss: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = timed(['sh', '-c', `"${crash}" -s "${vmlinux}" "${vmcore}" < "${script}"`]);
      ms.push(t.ms);
      if (t.rssKb) rss.push(t.rssKb / 1024);
    }
    peer = { ms: median(ms), ...(rss.length ? { rss: median(rss) } : {}), recorded: false };
  } else {
    const rec = recordedCrash(join(base, scenario));
    if (rec) peer = { ms: rec.ms, ...(rec.rssMiB ? { rss: rec.rssMiB } : {}), recorded: true };
  }
  const o = median(ours);
  const oRss = ourRss.length ? median(ourRss) : undefined;
  console.log(
    [
      scenario.padEnd(22),
      verdict.padEnd(22),
      (o / 1000).toFixed(2).padStart(9),
      (oRss?.toFixed(0) ?? '?').padStart(3),
      peer ? `${(peer.ms / 1000).toFixed(2)}${peer.recorded ? '*' : ''}`.padStart(7) : '      -',
      (peer?.rss?.toFixed(0) ?? '?').padStart(3),
      peer ? `${(peer.ms / o).toFixed(1)}x`.padStart(5) : '    -',
      peer?.rss && oRss ? `1/${(peer.rss / oRss).toFixed(1)}` : '-',
    ].join('  '),
  );
}
if (!(crash && vmlinux)) console.log('* the fixture\'s recorded crash session (sys, bt -a, ps, log ...), not run here');
