/** Shared test helpers: where the repo and the shared fixtures are, and running the CLI. */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** CI has shared/ beside the checkout. */
export const fixturesRoot = resolve(repoRoot, '../shared/fixtures');
export const corpusRoot = resolve(repoRoot, '../shared/corpus');

/** Every scenario directory under the fixtures: `<kernel>/<scenario>`. */
export function fixtureDirs(): string[] {
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
