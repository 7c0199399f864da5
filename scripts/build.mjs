// Prepares dist/coroner.mjs: the CLI and everything it loads, compiled from src/ into one ES module
// (packages bundled too, but for the ones that load files of their own at run time). bin/coroner runs it when it is at least as new
// as every file under src/, else it runs the TypeScript sources through tsx. Run by `npm ci` (prepare).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
await build({
  absWorkingDir: root,
  entryPoints: ['src/cli/main.ts'],
  outfile: 'dist/coroner.mjs',
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
