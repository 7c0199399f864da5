// Prepares dist/coroner.mjs: the CLI and everything it loads, compiled from src/ into one ES module
// (packages bundled too, but for the ones that load files of their own at run time). bin/coroner runs it when it is at least as new
// as every file under src/, else it runs the TypeScript sources through tsx. Run by `npm ci` (prepare).
// `--outfile PATH` (relative to the repo) builds elsewhere, e.g. for the tests of the built CLI; keep it under the repo so
// that the packages left external resolve from node_modules.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = process.argv.indexOf('--outfile');
const outfile = at > 0 && process.argv[at + 1] ? process.argv[at + 1] : 'dist/coroner.mjs';
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile,
  bundle: true,
  // These read WASM or other files next to themselves, or spawn binaries: load them from node_modules.
  external: ['esbuild', 'iced-x86', 'zstddec', 'playwright-core', 'lzo'],
  // Bundled CommonJS packages call require(): give the ES module one.
  banner: { js: "import { createRequire as __coronerCreateRequire } from 'node:module'; const require = __coronerCreateRequire(import.meta.url);" },
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
});
