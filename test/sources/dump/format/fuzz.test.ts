/**
 * Damaged input: byte flips and truncations of real dump headers (kdump-compressed, ELF, flattened),
 * deterministic seed, bounded iterations. Every outcome must be a clear error of a known kind or a
 * (partial) result; never an uncaught TypeError/RangeError, never a hang.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { InputError } from '../../../../src/model/errors.ts';
import { UnmappedAddressError } from '../../../../src/sources/dump/arch/types.ts';
import { openKernelMemory } from '../../../../src/sources/dump/arch/x86_64/memory.ts';
import { FileSource, type ByteSource } from '../../../../src/sources/dump/format/io.ts';
import { KdumpContainer } from '../../../../src/sources/dump/format/kdump.ts';
import { openContainerOn, openDumpContainer } from '../../../../src/sources/dump/format/open.ts';
import { ExcludedPageError, MissingPageError } from '../../../../src/sources/dump/format/types.ts';
import { parseVmcoreinfo } from '../../../../src/sources/dump/format/vmcoreinfo.ts';
import { listFixtures } from './fixtures.ts';
import { withPageMemo, writeElf, writeFlattened } from './writers.ts';

/** A file seen through byte edits and an optional truncation, without copying it. */
class MutatedSource implements ByteSource {
  readonly path: string;
  readonly size: bigint;
  constructor(
    private readonly base: ByteSource,
    private readonly edits: Map<bigint, number>,
    truncateAt?: bigint,
  ) {
    this.path = `${base.path} (mutated)`;
    this.size = truncateAt !== undefined && truncateAt < base.size ? truncateAt : base.size;
  }
  readAt(offset: bigint, length: number): Buffer {
    if (offset >= this.size) return Buffer.alloc(0);
    const n = Number(this.size - offset < BigInt(length) ? this.size - offset : BigInt(length));
    const buf = Buffer.from(this.base.readAt(offset, n));
    for (const [at, v] of this.edits) if (at >= offset && at < offset + BigInt(buf.length)) buf[Number(at - offset)] = v;
    return buf;
  }
  close(): void {}
}

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

const KNOWN = [InputError, ExcludedPageError, MissingPageError, UnmappedAddressError];
function known(e: unknown): boolean {
  return KNOWN.some((k) => e instanceof k);
}

/** Opens and exercises a (damaged) dump the way the layers above would. */
function exercise(src: ByteSource): string {
  let c;
  try {
    c = openContainerOn(src);
  } catch (e) {
    if (known(e)) return 'rejected';
    throw e;
  }
  const tryRead = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!known(e)) throw e;
    }
  };
  void c.cpuNotes.length;
  for (const pa of [0n, 0x1000n, 0x100000n, 0x1234567n, 0x7fff000n, 1n << 40n]) tryRead(() => c.readPhys(pa, 64));
  for (let pfn = 0n; pfn < 64n; pfn += 9n) tryRead(() => c.hasPage(pfn));
  if (c.vmcoreinfo) {
    const info = parseVmcoreinfo(c.vmcoreinfo);
    tryRead(() => {
      const mem = openKernelMemory(c, info);
      const uts = info.symbols.get('init_uts_ns');
      if (uts !== undefined) mem.readCString(uts, 65);
      mem.read(info.symbols.get('_stext') ?? 0n, 32);
    });
  }
  return c.incomplete.length ? 'partial' : 'opened';
}

const fixture = listFixtures().find((f) => f.kdump) ?? listFixtures()[0];

describe('damaged dumps', { skip: fixture ? false : 'no fixtures' }, () => {
  let dir: string;
  let elfPath: string;
  let flatPath: string;

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'coroner-fuzz-'));
    const src = openDumpContainer(fixture!.vmcore) as KdumpContainer;
    // A small ELF core: the first 600 pages the source holds.
    const only: bigint[] = [];
    for (const r of src.presentRanges()) for (let p = r.start; p < r.end && only.length < 600; p++) only.push(p);
    elfPath = path.join(dir, 'small.elf');
    writeElf(withPageMemo(src), elfPath, only);
    flatPath = path.join(dir, 'small.elf.flat');
    writeFlattened(elfPath, flatPath, 8192);
    src.close();
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = (label: string, file: () => string, hotBytes: () => number, iterations: number, seed: number) => {
    it(`${label}: ${iterations} flips and truncations`, () => {
      const base = new FileSource(file());
      const rnd = prng(seed);
      const outcomes = new Map<string, number>();
      const hot = hotBytes();
      const t0 = performance.now();
      try {
        for (let i = 0; i < iterations; i++) {
          const edits = new Map<bigint, number>();
          let truncate: bigint | undefined;
          const kind = i % 4;
          if (kind === 0 || kind === 3) {
            const flips = 1 + (rnd() % 4);
            for (let k = 0; k < flips; k++) {
              const at = BigInt(rnd() % hot);
              const old = base.readAt(at, 1)[0] ?? 0;
              edits.set(at, kind === 3 ? rnd() & 0xff : old ^ (1 << (rnd() % 8)));
            }
          }
          if (kind === 1) truncate = BigInt(rnd() % hot);
          if (kind === 2) truncate = BigInt(Math.floor((rnd() / 2 ** 32) * Number(base.size)));
          let outcome: string;
          try {
            outcome = exercise(new MutatedSource(base, edits, truncate));
          } catch (e) {
            assert.fail(`iteration ${i} (edits ${[...edits].map(([a, v]) => `0x${a.toString(16)}=${v}`).join(',')}, truncate ${truncate}): ${(e as Error).stack}`);
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        }
      } finally {
        base.close();
      }
      if (process.env.COTIME) console.log(label, JSON.stringify([...outcomes]), performance.now() - t0);
      assert.ok((outcomes.get('rejected') ?? 0) > 0, `some damage is rejected: ${JSON.stringify([...outcomes])}`);
    });
  };

  // The kdump header, sub-header, notes and the start of the bitmaps are in the first 64 KiB.
  run('kdump-compressed', () => fixture!.vmcore, () => 64 * 1024, 600, 1);
  run('ELF core', () => elfPath, () => 8192, 300, 2);
  run('flattened', () => flatPath, () => 256 * 1024, 150, 3);

  it('rejects wrong magic, empty and tiny files with InputError naming the file and offset', () => {
    const base = new FileSource(fixture!.vmcore);
    try {
      const wrong = new MutatedSource(base, new Map([[0n, 0x4a]]));
      assert.throws(() => openContainerOn(wrong), (e: unknown) => e instanceof InputError && e.offset === 0 && /expected/.test(e.message) && !!e.file);
      assert.throws(() => openContainerOn(new MutatedSource(base, new Map(), 0n)), (e: unknown) => e instanceof InputError && /empty/.test(e.message));
      assert.throws(() => openContainerOn(new MutatedSource(base, new Map(), 100n)), (e: unknown) => e instanceof InputError && /truncated/.test(e.message));
    } finally {
      base.close();
    }
    assert.throws(() => openDumpContainer('/nonexistent/vmcore'), (e: unknown) => e instanceof InputError && /cannot open/.test(e.message));
  });

  it('a dump truncated in its page data opens with partial results', () => {
    const base = new FileSource(fixture!.vmcore);
    try {
      const cut = new MutatedSource(base, new Map(), base.size / 2n);
      const c = openContainerOn(cut);
      assert.equal(c.vmcoreinfo !== undefined, true);
      let bad = 0;
      let good = 0;
      for (let pfn = 0n; pfn < 70000n; pfn += 13n) {
        try {
          c.readPhys(pfn * 4096n, 8);
          good++;
        } catch (e) {
          assert.ok(known(e), String(e));
          if (e instanceof InputError) bad++;
        }
      }
      assert.ok(good > 0 && bad > 0, `good ${good} bad ${bad}`);
      assert.ok(c.incomplete.some((s) => /damaged|outside/.test(s)), c.incomplete.join('; '));
    } finally {
      base.close();
    }
  });
});
