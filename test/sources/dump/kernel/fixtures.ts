/** Locates the shared vmcore fixtures (../shared/fixtures from the repo root) and their oracle files. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
export const fixturesDir = resolve(repoRoot, '../shared/fixtures');

export interface Fixture {
  /** e.g. `deb12-6.1.0-56/healthy`. */
  name: string;
  dir: string;
  vmcore: string;
  kernelDir: string;
  systemMap?: string;
  /** `x86_64` or `arm64`, from the kernel directory's `config`. */
  arch: string;
  /** Reads an oracle file of the scenario (crash.sys.txt ...), or undefined if absent. */
  oracle(file: string): string | undefined;
}

/** The architecture a fixture kernel directory was built for (its `config`). */
export function fixtureArch(kernelDir: string): string {
  const cfg = join(kernelDir, 'config');
  if (!existsSync(cfg)) return 'x86_64';
  return /^CONFIG_ARM64=y$/m.test(readFileSync(cfg, 'latin1')) ? 'arm64' : 'x86_64';
}

/** Every `*\/*\/vmcore.kdump` and `*-kdump/*\/vmcore` of a readable architecture (x86_64; arm64 is issue 16). */
export function vmcoreFixtures(): Fixture[] {
  return allVmcoreFixtures().filter((f) => f.arch === 'x86_64');
}

/** Every vmcore fixture, whatever its architecture. */
export function allVmcoreFixtures(): Fixture[] {
  if (!existsSync(fixturesDir)) return [];
  const out: Fixture[] = [];
  for (const k of readdirSync(fixturesDir, { withFileTypes: true })) {
    if (!k.isDirectory()) continue;
    const kernelDir = join(fixturesDir, k.name);
    for (const s of readdirSync(kernelDir, { withFileTypes: true })) {
      if (!s.isDirectory()) continue;
      const dir = join(kernelDir, s.name);
      const vmcore = ['vmcore.kdump', 'vmcore'].map((n) => join(dir, n)).find((p) => existsSync(p));
      if (!vmcore) continue;
      const map = join(kernelDir, 'System.map');
      out.push({
        name: `${k.name}/${s.name}`,
        dir,
        vmcore,
        kernelDir,
        systemMap: existsSync(map) ? map : undefined,
        arch: fixtureArch(kernelDir),
        oracle: (file) => (existsSync(join(dir, file)) ? readFileSync(join(dir, file), 'latin1') : undefined),
      });
    }
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

/** `KEY: value` lines of crash's `sys` output. */
export function crashSys(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z ]+[A-Z]): (.*)$/.exec(line);
    if (m) out[m[1].trim()] = m[2].trim();
  }
  return out;
}

/** `#N [sp] func at addr [mod]` frames and `[exception RIP: func+off]` lines from crash's `bt`. */
export function crashBtFrames(text: string): Array<{ func: string; address: bigint; module?: string }> {
  const out: Array<{ func: string; address: bigint; module?: string }> = [];
  for (const line of text.split('\n')) {
    const m = /#\d+ \[[0-9a-f]+\] (\S+) at ([0-9a-f]+)(?: \[(\S+)\])?/.exec(line);
    if (m) out.push({ func: m[1], address: BigInt('0x' + m[2]), module: m[3] });
  }
  return out;
}
