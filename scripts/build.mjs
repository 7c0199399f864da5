// Prepares dist/coroner.mjs: the CLI and everything it loads, compiled from src/ into one ES module
// (packages bundled too, but for the ones that load files of their own at run time). bin/coroner runs it when it is at least as new
// as every file under src/, else it runs the TypeScript sources through tsx. Run by `npm ci` (prepare).
// `--outfile PATH` (relative to the repo) builds elsewhere, e.g. for the tests of the built CLI; keep it under the repo so
// that the packages left external resolve from node_modules.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const at = process.argv.indexOf('--outfile');
const outfile = at > 0 && process.argv[at + 1] ? process.argv[at + 1] : 'dist/coroner.mjs';
// Code split at the CLI's dynamic imports: a command loads its own part (dump reading, log parsing, the HTML report,
// the schema) and not the rest — parsing one 1.3 MB module cost every command ~60 ms at start.
rmSync(join(root, dirname(outfile), 'chunks'), { recursive: true, force: true });
// What every bundle shares: ES modules for node 20, code split at dynamic imports, packages bundled but for the ones
// that read WASM or other files next to themselves or spawn binaries (loaded from node_modules).
const common = {
  absWorkingDir: root,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  external: ['esbuild', 'iced-x86', '@alexaltea/capstone-js', 'zstddec', 'playwright-core', 'lzo'],
  // Bundled CommonJS packages call require(): give the ES module one.
  banner: { js: "import { createRequire as __coronerCreateRequire } from 'node:module'; const require = __coronerCreateRequire(import.meta.url);" },
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  logLevel: 'warning',
};
await build({ ...common, entryPoints: { [basename(outfile).replace(/\.mjs$/, '')]: 'src/cli/main.ts' }, outdir: dirname(outfile) });

// The library API (package exports `coroner` and `coroner/dump`): dist/api/*.mjs, and its declarations in dist/types
// (tsc, declarations only). Only for the default build: `--outfile` builds the CLI alone.
if (at < 0) {
  rmSync(join(root, 'dist/api'), { recursive: true, force: true });
  await build({ ...common, entryPoints: { index: 'src/api/index.ts', dump: 'src/api/dump.ts' }, outdir: 'dist/api' });
  const { execFileSync } = await import('node:child_process');
  rmSync(join(root, 'dist/types'), { recursive: true, force: true });
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.types.json')], { stdio: 'inherit' });
}
