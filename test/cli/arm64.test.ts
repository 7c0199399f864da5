/**
 * arm64 dumps (issue 16, first part): kernel virtual memory from VMCOREINFO (linear map, kimage_voffset,
 * swapper_pg_dir walk), symbols (kallsyms holds text only on Debian arm64: System.map beside the dump, KASLR applied
 * from KIMAGE_VADDR), the task list and the printk ring: `dump log` equals crash's `log`, and `dump ps` equals crash's
 * `ps` in every column but %MEM (crash 8.0.6 prints 0.1 for every user task on these arm64 dumps, whatever its RSS — 788 KiB
 * and 1432 KiB alike — against the 256 MB its own `sys` reports; ours is RSS over the nodes' spanned pages).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { allFixtureDirs, fixtureArch, runCli } from '../helpers.ts';

const dirs = allFixtureDirs().filter((d) => fixtureArch(dirname(d)) === 'arm64' && existsSync(join(d, 'vmcore.kdump')));
const trim = (s: string) => s.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();
/** A ps line without its %MEM column. */
const noMem = (s: string) => trim(s).split('\n').map((l) => l.replace(/^(>?\s*\d+\s+\d+\s+\d+\s+[0-9a-f]+\s+\S\S\s+)\d+\.\d+/, '$1-')).join('\n');

describe('arm64 dumps', { skip: dirs.length ? false : 'no arm64 fixtures (../shared/fixtures/deb12-6.1-arm64)' }, () => {
  for (const d of dirs) {
    const name = d.split('/').slice(-2).join('/');
    it(`${name}: dump log is crash's log`, () => {
      const r = runCli(['dump', 'log', join(d, 'vmcore.kdump')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(trim(r.stdout), trim(readFileSync(join(d, 'crash.log.txt'), 'utf8')));
    });
    it(`${name}: dump ps is crash's ps (but %MEM)`, () => {
      const r = runCli(['dump', 'ps', join(d, 'vmcore.kdump')]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(noMem(r.stdout), noMem(readFileSync(join(d, 'crash.ps.txt'), 'utf8')));
    });
    it(`${name}: dump bt is crash's bt -a and foreach UN bt, register blocks included`, () => {
      // Frames, task headers and the user registers below an entry from user space (crash reads the pt_regs the same
      // way). crash names a module's function without the compiler's .isra.N/.constprop.N suffix that the module's own
      // kallsyms carries.
      const frames = (s: string) => trim(s).split('\n').map((l) => l.replace(/\.(isra|constprop|part|cold)\.\d+( at \S+ \[)/, '$2')).join('\n');
      const all = runCli(['dump', 'bt', join(d, 'vmcore.kdump')]);
      assert.equal(frames(all.stdout), frames(readFileSync(join(d, 'crash.bt-a.txt'), 'utf8')));
      const un = runCli(['dump', 'bt', '--state', 'D', join(d, 'vmcore.kdump')]);
      assert.equal(frames(un.stdout), frames(readFileSync(join(d, 'crash.foreach-UN-bt.txt'), 'utf8')));
    });
    it(`${name}: the System line says arm64`, () => {
      const r = runCli(['dump', 'info', join(d, 'vmcore.kdump')]);
      assert.match(r.stdout, /arch: arm64/);
    });
  }
});
