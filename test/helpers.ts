/** Shared test helpers: where the repo and the shared fixtures are, and running the CLI. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** CI has shared/ beside the checkout. */
export const fixturesRoot = resolve(repoRoot, '../shared/fixtures');
export const corpusRoot = resolve(repoRoot, '../shared/corpus');

/** The architecture of a fixture kernel directory (`x86_64` or `arm64`), from its `config`. */
export function fixtureArch(kernelDir: string): string {
  const cfg = join(kernelDir, 'config');
  if (!existsSync(cfg)) return 'x86_64';
  return /^CONFIG_ARM64=y$/m.test(readFileSync(cfg, 'latin1')) ? 'arm64' : 'x86_64';
}

/** Every scenario directory of an x86_64 kernel under the fixtures (arm64 dumps are issue 16). */
export function fixtureDirs(): string[] {
  return allFixtureDirs().filter((d) => fixtureArch(dirname(d)) === 'x86_64');
}

/** Every scenario directory under the fixtures: `<kernel>/<scenario>`, whatever the architecture. */
export function allFixtureDirs(): string[] {
  if (!existsSync(fixturesRoot)) return [];
  const out: string[] = [];
  for (const k of readdirSync(fixturesRoot, { withFileTypes: true })) {
    if (!k.isDirectory()) continue;
    for (const s of readdirSync(join(fixturesRoot, k.name), { withFileTypes: true })) {
      if (s.isDirectory()) out.push(join(fixturesRoot, k.name, s.name));
    }
  }
  return out.sort();
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], input?: string): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin/coroner'), ...args], {
    input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
