/**
 * Benchmark against drgn on the ELF cores both can read (drgn reads ELF cores with virtual addresses, e.g. QEMU
 * `dump-guest-memory` paging=true; without libkdumpfile not kdump-compressed files). The same work on each side:
 * every task with its pid, parent, CPU, state and command, and every task's stack trace — drgn
 * (`bench/drgn-tasks.py`, with the kernel's DWARF debuginfo) against `coroner dump bt --tasks` (no debuginfo), and
 * `coroner analyze` (the whole verdict) beside them. Wall time and peak RSS are medians of --runs children.
 *
 *   node --import tsx bench/drgn-elf.ts [--runs N] [CORE...]
 * Without CORE: the ELF cores under $CORONER_FORGED (/var/tmp/coroner-forge) and ../shared/fixtures.
 * drgn: python3 -c 'import drgn' (Debian: apt-get install python3-drgn); debuginfo: linux-image-<release>-dbg.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openKernelDump } from '../src/sources/dump/index.ts';
import { dumpKindOf } from '../src/sources/collect.ts';
import { fixturesRoot, repoRoot } from '../test/helpers.ts';
import { median, timed } from './lib.ts';

const argv = process.argv.slice(2);
const runsAt = argv.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(argv[runsAt + 1]) : 3;
const given = argv.filter((a, i) => !a.startsWith('--') && (runsAt < 0 || i !== runsAt + 1));
const BIN = join(repoRoot, 'bin/coroner');
const PY = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

function elfCores(): string[] {
  const out: string[] = [];
  for (const root of [process.env.CORONER_FORGED ?? '/var/tmp/coroner-forge', fixturesRoot]) {
    if (!existsSync(root)) continue;
    for (const k of readdirSync(root, { withFileTypes: true }).filter((d) => d.isDirectory())) {
      for (const s of readdirSync(join(root, k.name), { withFileTypes: true }).filter((d) => d.isDirectory())) {
        const dir = join(root, k.name, s.name);
        for (const f of readdirSync(dir)) if (/^vmcore/.test(f) && !/\.txt$/.test(f) && dumpKindOf(join(dir, f)) === 'elf') out.push(join(dir, f));
      }
    }
  }
  return out.sort();
}

const drgnOk = spawnSync(PY, ['-c', 'import drgn'], { encoding: 'utf8' }).status === 0;
if (!drgnOk) console.log('peer missing: drgn (apt-get install python3-drgn); only Coroner is timed');
const cores = given.length ? given : elfCores();
if (!cores.length) {
  console.log('no ELF cores found (make them with ELF_SHAPES=1 forge/run.sh <kernel> <scenario>)');
  process.exit(0);
}
console.log(`runs ${RUNS} (median), node ${process.version}`);
const head = ['core'.padEnd(58), 'tasks', 'drgn s', 'drgn MiB', 'drgn stacks', 'bt s', 'bt MiB', 'analyze s', 'analyze MiB', 'speed x', 'mem ratio'];
console.log(head.join('  '));
const mib = (kb?: number) => (kb === undefined ? NaN : kb / 1024);
for (const core of cores) {
  let release: string | undefined;
  let tasks = 0;
  try {
    const d = openKernelDump(core);
    release = d.release;
    tasks = d.scheduler.tasks().length;
    d.close();
  } catch (e) {
    console.log(`${core}: coroner cannot open it: ${(e as Error).message}`);
    continue;
  }
  const vmlinux = [`/usr/lib/debug/boot/vmlinux-${release}`, `/usr/lib/debug/lib/modules/${release}/vmlinux`].find((p) => existsSync(p));
  const drgn: Array<ReturnType<typeof timed>> = [];
  const bt: Array<ReturnType<typeof timed>> = [];
  const an: Array<ReturnType<typeof timed>> = [];
  for (let r = 0; r < RUNS; r++) {
    if (drgnOk && vmlinux) drgn.push(timed([PY, join(repoRoot, 'bench/drgn-tasks.py'), core, vmlinux]));
    bt.push(timed([process.execPath, BIN, 'dump', 'bt', '--tasks', core]));
    an.push(timed([process.execPath, BIN, 'analyze', core, '--format', 'json']));
  }
  const ok = (xs: Array<ReturnType<typeof timed>>, codes: number[]) => xs.filter((x) => codes.includes(x.code ?? -1));
  const d = ok(drgn, [0]);
  const b = ok(bt, [0]);
  const a = ok(an, [0, 1]);
  const dS = d.length ? median(d.map((x) => x.ms)) / 1000 : NaN;
  const dM = d.length ? median(d.map((x) => mib(x.rssKb))) : NaN;
  const bS = b.length ? median(b.map((x) => x.ms)) / 1000 : NaN;
  const bM = b.length ? median(b.map((x) => mib(x.rssKb))) : NaN;
  const aS = a.length ? median(a.map((x) => x.ms)) / 1000 : NaN;
  const aM = a.length ? median(a.map((x) => mib(x.rssKb))) : NaN;
  const stacks = d.length ? (/# tasks (\d+) frames (\d+) failed (\d+)/.exec(d[0].err)?.slice(1).join('/') ?? '?') : !vmlinux ? 'no debuginfo' : drgn.length ? `exit ${drgn[0].code}` : '-';
  const f = (n: number, p = 2) => (Number.isFinite(n) ? n.toFixed(p) : '-');
  const short = core.replace(/^.*?\/(deb[^/]+\/[^/]+\/[^/]+)$/, '$1');
  console.log(
    [short.padEnd(58), String(tasks).padStart(5), f(dS).padStart(6), f(dM, 0).padStart(8), stacks.padStart(11), f(bS).padStart(4), f(bM, 0).padStart(6), f(aS).padStart(9), f(aM, 0).padStart(11), f(dS / bS, 1).padStart(7), f(bM / dM, 2).padStart(9)].join('  '),
  );
  if (!b.length) console.log(`  coroner dump bt failed: ${bt[0]?.err.split('\n').slice(-3).join(' ')}`);
}
console.log('speed x = drgn wall / coroner dump bt --tasks wall; mem ratio = coroner peak RSS / drgn peak RSS (drgn stacks: tasks/frames/failed)');
