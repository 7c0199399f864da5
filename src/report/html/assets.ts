/** The page's script and style: client.ts bundled and style.css minified with esbuild, once per process. */
import type * as Esbuild from 'esbuild';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export interface Assets {
  script: string;
  style: string;
}

let cached: Assets | undefined;

/** Where client.ts and style.css are: beside this module, or under src/ when running the prepared build (dist/). */
function assetDir(): URL {
  // From the sources: beside this module; from the build: dist/coroner.mjs or a chunk under dist/chunks/.
  for (const rel of ['./', '../src/report/html/', '../../src/report/html/']) {
    const dir = new URL(rel, import.meta.url);
    if (existsSync(new URL('client.ts', dir))) return dir;
  }
  return new URL('../src/report/html/', import.meta.url);
}

/** Bundles the assets (about 30 ms the first time; cached after, they never change within a process). */
export function assets(): Assets {
  if (cached) return cached;
  // Loaded here, not at start: every other command would pay for parsing esbuild's API.
  const { buildSync, transformSync } = createRequire(import.meta.url)('esbuild') as typeof Esbuild;
  const built = buildSync({
    entryPoints: [fileURLToPath(new URL('client.ts', assetDir()))],
    bundle: true,
    minify: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const script = built.outputFiles[0].text.trim();
  const css = readFileSync(new URL('style.css', assetDir()), 'utf8');
  const style = transformSync(css, { loader: 'css', minify: true, target: 'chrome100', logLevel: 'silent' }).code.trim();
  // Inline <script>/<style> end at the first "</": never let one appear inside.
  cached = { script: script.replace(/<\/(script)/gi, '<\\/$1'), style: style.replace(/<\/(style)/gi, '<\\/$1') };
  return cached;
}
