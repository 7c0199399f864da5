/**
 * The same real pages in every container format: the kdump-made fixture's pages are rewritten as
 * kdump-compressed with zlib / lzo / snappy / zstd / none, as an ELF64 core and as flattened streams,
 * with real encoders; every format must give identical pages, notes, VMCOREINFO and virtual reads.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDumpContainer } from '../../../../src/sources/dump/format/open.ts';
import { parseVmcoreinfo } from '../../../../src/sources/dump/format/vmcoreinfo.ts';
import { KdumpContainer } from '../../../../src/sources/dump/format/kdump.ts';
import { ExcludedPageError, MissingPageError, type DumpContainer } from '../../../../src/sources/dump/format/types.ts';
import { openKernelMemory } from '../../../../src/sources/dump/arch/x86_64/memory.ts';
import { listFixtures } from './fixtures.ts';
import { encoder, withPageMemo, writeElf, writeFlattened, writeKdump, type Codec } from './writers.ts';

const fixture = listFixtures().find((f) => f.kdump);

describe('container formats give identical pages', { skip: fixture ? false : 'no kdump-made fixture' }, () => {
  let dir: string;
  let src: KdumpContainer;
  let memo: KdumpContainer;
  let present: bigint[];
  let excluded: bigint[];
  const made = new Map<string, string | { skip: string }>();

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'coroner-formats-'));
    src = openDumpContainer(fixture!.vmcore) as KdumpContainer;
    present = [];
    for (const r of src.presentRanges()) for (let p = r.start; p < r.end; p++) present.push(p);
    excluded = [];
    for (let p = 0n; p < src.maxPfn && excluded.length < 50; p += 7n) {
      if (src.hasPage(p)) continue;
      try {
        src.readPhys(p * 4096n, 1);
      } catch (e) {
        if (e instanceof ExcludedPageError) excluded.push(p);
      }
    }
    memo = withPageMemo(src);
    for (const codec of ['zlib', 'lzo', 'snappy', 'zstd', 'none'] as Codec[]) {
      const enc = await encoder(codec);
      if (typeof enc === 'string') {
        made.set(`kdump-${codec}`, { skip: enc });
        continue;
      }
      const file = path.join(dir, `vmcore.${codec}.kdump`);
      const t0 = performance.now();
      writeKdump(memo, file, enc, codec);
      if (process.env.COTIME) console.log(codec, performance.now() - t0);
      made.set(`kdump-${codec}`, file);
    }
    const elf = path.join(dir, 'vmcore.elf');
    writeElf(memo, elf);
    made.set('elf', elf);
    const inner = made.get('kdump-snappy') ?? made.get('kdump-zlib');
    if (typeof inner === 'string') {
      writeFlattened(inner, path.join(dir, 'vmcore.kdump.flat'));
      made.set('flattened-kdump', path.join(dir, 'vmcore.kdump.flat'));
    }
    writeFlattened(elf, path.join(dir, 'vmcore.elf.flat'), 16 * 1024);
    // makedumpfile --split: three files, each with the pages of a third of the page-frame range.
    const zlib = await encoder('zlib');
    if (typeof zlib !== 'string') {
      mkdirSync(path.join(dir, 'split'));
      const third = src.maxPfn / 3n;
      const bounds = [0n, third, 2n * third, src.maxPfn];
      for (let i = 0; i < 3; i++) writeKdump(memo, path.join(dir, 'split', `vmcore.split-${i + 1}`), zlib, 'zlib', undefined, { start: bounds[i], end: bounds[i + 1] });
      made.set('split', path.join(dir, 'split', 'vmcore.split-2'));
    }
    made.set('flattened-elf', path.join(dir, 'vmcore.elf.flat'));
  });

  after(() => {
    src?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the source has pages present and excluded', () => {
    assert.ok(present.length > 1000, `${present.length} pages`);
    assert.ok(excluded.length > 10);
  });

  const cases: Array<[string, string, string[], string | undefined]> = [
    ['kdump-zlib', 'kdump-compressed', ['zlib'], undefined],
    ['kdump-lzo', 'kdump-compressed', ['lzo'], undefined],
    ['kdump-snappy', 'kdump-compressed', ['snappy'], undefined],
    ['kdump-zstd', 'kdump-compressed', ['zstd'], undefined],
    ['kdump-none', 'kdump-compressed', [], undefined],
    ['elf', 'elf', ['none'], undefined],
    ['flattened-kdump', 'flattened', [], 'kdump-compressed'],
    ['flattened-elf', 'flattened', ['none'], 'elf'],
    ['split', 'kdump-compressed (split into 3 files)', ['zlib'], undefined],
  ];
  for (const [name, format, compression, inner] of cases) {
    it(name, (t) => {
      const file = made.get(name);
      if (file === undefined || typeof file !== 'string') {
        t.skip(file ? file.skip : 'not made');
        return;
      }
      const c: DumpContainer = openDumpContainer(file);
      try {
        assert.equal(c.format, format);
        assert.equal(c.innerFormat, inner);
        for (const x of compression) assert.ok(c.compression.includes(x), `${x} in ${c.compression}`);
        assert.deepEqual(c.incomplete, []);
        assert.equal(c.vmcoreinfo, src.vmcoreinfo);
        assert.deepEqual(c.cpuNotes, src.cpuNotes);
        for (const p of present) {
          assert.ok(c.hasPage(p), `pfn 0x${p.toString(16)} present`);
          const a = c.readPhys(p * 4096n, 4096);
          const b = memo.readPhys(p * 4096n, 4096);
          if (!a.equals(b)) assert.fail(`pfn 0x${p.toString(16)} differs`);
        }
        // Reads across page boundaries and at odd offsets.
        for (let i = 1; i < present.length; i += 97) {
          if (present[i] !== present[i - 1] + 1n) continue;
          const at = present[i] * 4096n - 13n;
          assert.ok(c.readPhys(at, 40).equals(memo.readPhys(at, 40)));
        }
        for (const p of excluded) {
          assert.equal(c.hasPage(p), false);
          const kdumpLike = c.format.startsWith('kdump-compressed') || c.innerFormat === 'kdump-compressed';
          assert.throws(() => c.readPhys(p * 4096n, 8), kdumpLike ? ExcludedPageError : MissingPageError);
        }
        const info = parseVmcoreinfo(c.vmcoreinfo!);
        const mem = openKernelMemory(c, info);
        const ref = openKernelMemory(src, info);
        assert.equal(mem.physBase, ref.physBase);
        assert.equal(mem.pageOffsetBase, ref.pageOffsetBase);
        const uts = info.symbols.get('init_uts_ns')!;
        assert.ok(mem.read(uts, 390).equals(ref.read(uts, 390)));
        assert.equal(mem.readCString(uts + 130n), info.osrelease);
      } finally {
        c.close();
      }
    });
  }

  it('a split set with a file missing reads the rest and names the missing range', (t) => {
    const file = made.get('split');
    if (typeof file !== 'string') {
      t.skip('no zlib encoder');
      return;
    }
    rmSync(path.join(path.dirname(file), 'vmcore.split-3'));
    const c = openDumpContainer(path.join(path.dirname(file), 'vmcore.split-1'));
    try {
      assert.equal(c.format, 'kdump-compressed (split into 2 files)');
      const third = src.maxPfn / 3n;
      assert.ok(c.incomplete.some((x) => x.includes(`0x${(2n * third).toString(16)}`) && /missing/.test(x)), c.incomplete.join('; '));
      const before = present.filter((p) => p < 2n * third);
      const lost = present.filter((p) => p >= 2n * third);
      assert.ok(before.length > 0 && lost.length > 0);
      for (const p of before.slice(0, 500)) assert.ok(c.readPhys(p * 4096n, 4096).equals(memo.readPhys(p * 4096n, 4096)));
      for (const p of lost.slice(0, 50)) assert.throws(() => c.readPhys(p * 4096n, 8), MissingPageError);
    } finally {
      c.close();
    }
  });
});
