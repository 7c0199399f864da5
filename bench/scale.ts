/**
 * Benchmark (issue 11): the whole verdict on a big machine — a forged guest with 64 vCPUs and 20,000+ threads, some
 * hung (../shared/forge or forge/: `run.sh deb12-6.12.117 scale-20k`) — against crash running `bt -a; foreach bt; log`
 * on the same dump in the same run, and the cost per task and per CPU against a small fixture of the same kernel (so
 * growth is visible). Targets: verdict within 10 s and 300 MiB.
 *
 *   CRASH=/path/to/crash-8.0.6 node --import tsx bench/scale.ts [BIG_VMCORE] [--small SMALL_VMCORE] [--runs N] [--no-peer]
 *
 * (crash 8.0.2, Debian's, cannot read 6.12 dumps; ../shared/forge builds 8.0.6.)
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturesRoot, repoRoot } from '../test/helpers.ts';
import { crashPeer, median, timed } from './lib.ts';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(opt('--runs') ?? 3);
const big = args.find((a, i) => !a.startsWith('--') && !['--small', '--runs'].includes(args[i - 1] ?? '')) ?? '/var/tmp/coroner-forge/deb12-6.12.117/scale-20k/vmcore.kdump';
const small = opt('--small') ?? join(fixturesRoot, 'deb12-6.12.117/hung-uffd/vmcore.kdump');
const BIN = join(repoRoot, 'bin/coroner');
if (!existsSync(big)) {
  console.log(`no big dump at ${big}: forge one (forge/run.sh deb12-6.12.117 scale-20k) or pass its path`);
  process.exit(0);
}

type Run = { ms: number; mib?: number; tasks: number; cpus: number; verdict: string };
function analyze(vmcore: string): Run {
  const ms: number[] = [];
  const mib: number[] = [];
  let tasks = 0;
  let cpus = 0;
  let verdict = '?';
  for (let r = 0; r < RUNS; r++) {
    const t = timed([BIN, 'analyze', '--format', 'json', vmcore]);
    ms.push(t.ms);
    if (t.rssKb) mib.push(t.rssKb / 1024);
    const j = JSON.parse(t.out) as { tasks: unknown[]; cpus: unknown[]; verdict: { status: string; roots: string[] }; findings: Array<{ id: string; kind: string }> };
    tasks = j.tasks.length;
    cpus = j.cpus.length;
    verdict = j.verdict.roots.length ? j.findings.find((f) => f.id === j.verdict.roots[0])!.kind : j.verdict.status;
  }
  return { ms: median(ms), ...(mib.length ? { mib: median(mib) } : {}), tasks, cpus, verdict };
}

const b = analyze(big);
const s = existsSync(small) ? analyze(small) : undefined;
console.log(`runs ${RUNS} (median), node ${process.version}`);
console.log(['dump'.padEnd(60), 'tasks', 'cpus', 'verdict'.padEnd(16), 'wall s', 'MiB'].join('  '));
for (const [p, r] of [[big, b], ...(s ? [[small, s]] : [])] as Array<[string, Run]>) {
  console.log([p.slice(-60).padEnd(60), String(r.tasks).padStart(5), String(r.cpus).padStart(4), r.verdict.padEnd(16), (r.ms / 1000).toFixed(2).padStart(6), (r.mib?.toFixed(0) ?? '?').padStart(4)].join('  '));
}
if (s) {
  const perTask = (b.ms - s.ms) / Math.max(1, b.tasks - s.tasks);
  console.log(`growth: ${(perTask * 1000).toFixed(0)} µs and ${(((b.mib ?? 0) - (s.mib ?? 0)) * 1024 / Math.max(1, b.tasks - s.tasks)).toFixed(1)} KiB per extra task (${b.tasks - s.tasks} tasks, ${b.cpus - s.cpus} CPUs more); ${(b.ms / b.cpus).toFixed(0)} ms per CPU overall`);
}
console.log(`target: verdict within 10 s and 300 MiB — ${b.ms <= 10000 && (b.mib ?? 0) <= 300 ? 'met' : 'NOT met'}`);

if (!args.includes('--no-peer')) {
  const release = /deb12-6\.12\.117/.test(big) ? '6.12.117+deb12-amd64' : undefined;
  const peer = crashPeer(release);
  if (!peer) console.log('peer: crash or the kernel -dbg vmlinux is missing');
  else {
    const script = join(mkdtempSync(join(tmpdir(), 'coroner-bench-')), 'crash.in');
    writeFileSync(script, 'bt -a\nforeach bt\nlog\nquit\n');
    const t = timed(['sh', '-c', `"${peer.crash}" -s "${peer.vmlinux}" "${big}" < "${script}"`]);
    const mib = t.rssKb ? t.rssKb / 1024 : undefined;
    // Each task's backtrace starts with a PID: line: the peer must have printed them all for the timing to count.
    const traces = (t.out.match(/^PID: /gm) ?? []).length;
    if (traces < b.tasks) console.log(`peer: crash printed ${traces} backtraces of ${b.tasks} tasks (${t.out.split('\n')[0].slice(0, 100)}): not comparable`);
    else console.log(`peer: crash bt -a; foreach bt; log (${traces} backtraces): ${(t.ms / 1000).toFixed(1)} s at ${mib?.toFixed(0) ?? '?'} MiB — Coroner's whole verdict ${(t.ms / b.ms).toFixed(1)}x faster at 1/${mib && b.mib ? (mib / b.mib).toFixed(1) : '?'} of its memory`);
  }
}
