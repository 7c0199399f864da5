/** ELF64 cores: PN_XNUM program header counts, memsz beyond filesz (filtered tails), truncated segments. */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, truncateSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ElfContainer } from '../../../../src/sources/dump/format/elf.ts';
import { KdumpContainer } from '../../../../src/sources/dump/format/kdump.ts';
import { openDumpContainer } from '../../../../src/sources/dump/format/open.ts';
import { ExcludedPageError, MissingPageError } from '../../../../src/sources/dump/format/types.ts';
import { listFixtures } from './fixtures.ts';
import { withPageMemo, writeElf } from './writers.ts';

const fixture = listFixtures()[0];

describe('ELF cores', { skip: fixture ? false : 'no fixtures' }, () => {
  let dir: string;
  let src: KdumpContainer;
  let only: bigint[];
  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'coroner-elf-'));
    src = openDumpContainer(fixture!.vmcore) as KdumpContainer;
    only = [];
    // Every other present page among the first ones: many one-page segments.
    for (const r of src.presentRanges()) for (let p = r.start; p < r.end && only.length < 3000; p += 2n) only.push(p);
  });
  after(() => {
    src?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads a core whose program header count is in section header 0 (PN_XNUM)', () => {
    const file = path.join(dir, 'xnum.elf');
    writeElf(withPageMemo(src), file, only, { xnum: true });
    const c = openDumpContainer(file) as ElfContainer;
    try {
      assert.equal(c.format, 'elf');
      assert.equal(c.segments.length, only.length);
      assert.equal(c.vmcoreinfo, src.vmcoreinfo);
      assert.deepEqual(c.cpuNotes, src.cpuNotes);
      for (const p of only.slice(0, 200)) assert.ok(c.readPhys(p * 4096n, 4096).equals(src.readPhys(p * 4096n, 4096)));
      assert.throws(() => c.readPhys((only[0] + 1n) * 4096n, 8), MissingPageError);
      assert.equal(c.hasPage(only[0]), true);
      assert.equal(c.hasPage(only[0] + 1n), false);
      const ranges = [...c.presentRanges()];
      assert.equal(ranges.length, only.length);
    } finally {
      c.close();
    }
  });

  it('gathers the notes of several PT_NOTE segments', () => {
    const file = path.join(dir, 'notes3.elf');
    writeElf(withPageMemo(src), file, only.slice(0, 50), { noteSegments: 3 });
    const c = openDumpContainer(file) as ElfContainer;
    try {
      assert.ok(src.cpuNotes.length >= 2);
      assert.deepEqual(c.cpuNotes, src.cpuNotes);
      assert.equal(c.vmcoreinfo, src.vmcoreinfo);
      assert.deepEqual(c.incomplete, []);
    } finally {
      c.close();
    }
  });

  it('treats memsz beyond filesz as excluded, never zeros', () => {
    const file = path.join(dir, 'tail.elf');
    writeElf(withPageMemo(src), file, only.slice(0, 10), { tailPages: 3n });
    const c = openDumpContainer(file) as ElfContainer;
    try {
      const last = only[9];
      assert.ok(c.readPhys(last * 4096n, 16).equals(src.readPhys(last * 4096n, 16)));
      assert.throws(() => c.readPhys((last + 1n) * 4096n, 8), ExcludedPageError);
      assert.throws(() => c.readPhys((last + 3n) * 4096n + 100n, 8), ExcludedPageError);
      assert.throws(() => c.readPhys((last + 4n) * 4096n, 8), MissingPageError);
      // A read that starts in data and runs into the excluded tail fails as a whole.
      assert.throws(() => c.readPhys(last * 4096n + 4000n, 200), ExcludedPageError);
    } finally {
      c.close();
    }
  });

  it('opens a truncated core with the cut segments marked incomplete', () => {
    const file = path.join(dir, 'cut.elf');
    writeElf(withPageMemo(src), file, only.slice(0, 100));
    const cut = path.join(dir, 'cut2.elf');
    copyFileSync(file, cut);
    truncateSync(cut, Math.floor(statSync(file).size * 0.6));
    const c = openDumpContainer(cut) as ElfContainer;
    try {
      assert.ok(c.incomplete.some((s) => /truncated/.test(s)), c.incomplete.join('; '));
      // The first note says how much is there of how much the program headers describe.
      assert.equal(c.incomplete[0], `truncated: ${Math.floor(statSync(file).size * 0.6)} of ${statSync(file).size} bytes (the program headers describe ${c.segments.length + 1} segments ending at byte ${statSync(file).size}): memory stored past the cut is missing`);
      assert.ok(c.readPhys(only[0] * 4096n, 8).equals(src.readPhys(only[0] * 4096n, 8)));
      assert.throws(() => c.readPhys(only[99] * 4096n, 8), MissingPageError);
      assert.equal(c.hasPage(only[99]), false);
    } finally {
      c.close();
    }
  });
});
