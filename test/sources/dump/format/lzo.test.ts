/** Our LZO1X decoder against data compressed by liblzo2 (the `lzo` package, dev dependency). */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { lzo1xDecompress, LzoError } from '../../../../src/sources/dump/format/lzo.ts';
import { openDumpContainer } from '../../../../src/sources/dump/format/open.ts';
import { KdumpContainer } from '../../../../src/sources/dump/format/kdump.ts';
import { listFixtures } from './fixtures.ts';

const require = createRequire(import.meta.url);
let lzo: { compress(b: Buffer): Buffer } | undefined;
let why = '';
try {
  lzo = require('lzo');
} catch (e) {
  why = `lzo package not built: ${(e as Error).message}`;
}

/** Deterministic pseudo-random bytes (xorshift32). */
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

function samples(): Array<[string, Buffer]> {
  const rnd = prng(42);
  const random = (n: number) => Buffer.from(Array.from({ length: n }, () => rnd() & 0xff));
  const out: Array<[string, Buffer]> = [
    ['zeros', Buffer.alloc(4096)],
    ['one byte', Buffer.from([7])],
    ['random page', random(4096)],
    ['text', Buffer.from('The quick brown fox jumps over the lazy dog. '.repeat(100))],
    ['long literal run then zeros', Buffer.concat([random(1500), Buffer.alloc(2596)])],
    ['long zero run (length continuation bytes)', Buffer.concat([Buffer.from('x'), Buffer.alloc(70000), Buffer.from('y')])],
  ];
  // Matches at every distance class: < 2 KiB, 2..16 KiB, 16..48 KiB (M4), including 3-byte and 2-byte matches.
  const block = random(300);
  for (const gap of [10, 700, 2100, 5000, 17000, 30000, 45000]) {
    out.push([`repeat at distance ${gap}`, Buffer.concat([block, random(gap), block, random(50), block.subarray(0, 3), random(4), block.subarray(0, 2)])]);
  }
  // Short repeats mixed with literals: 1..3 trailing literals after matches.
  const mix: number[] = [];
  for (let i = 0; i < 5000; i++) mix.push(i % 7 === 0 ? rnd() & 0xff : mix.length > 20 ? mix[mix.length - 1 - (rnd() % 20)] : 1);
  out.push(['short matches and literals', Buffer.from(mix)]);
  return out;
}

describe('LZO1X decoder', { skip: lzo ? false : why }, () => {
  for (const [name, data] of samples()) {
    it(`round-trips ${name} (${data.length} bytes)`, () => {
      const c = lzo!.compress(data);
      const d = lzo1xDecompress(c, data.length);
      assert.ok(d.equals(data));
    });
  }

  const fx = listFixtures()[0];
  it('round-trips 2000 real pages of a vmcore', { skip: fx ? false : 'no fixtures' }, () => {
    const c = openDumpContainer(fx!.vmcore) as KdumpContainer;
    try {
      let n = 0;
      for (const r of c.presentRanges()) {
        for (let p = r.start; p < r.end && n < 2000; p++, n++) {
          const page = c.readPage(p);
          const d = lzo1xDecompress(lzo!.compress(page), 4096);
          if (!d.equals(page)) assert.fail(`pfn 0x${p.toString(16)}`);
        }
        if (n >= 2000) break;
      }
      assert.equal(n, 2000);
    } finally {
      c.close();
    }
  });

  it('never loops or overruns on damaged input', () => {
    const rnd = prng(7);
    const base = lzo!.compress(Buffer.from('hello hello hello world, hello again and again and again '.repeat(60)));
    for (let i = 0; i < 3000; i++) {
      const bad = Buffer.from(base);
      const mode = i % 3;
      let input = bad;
      if (mode === 0) bad[rnd() % bad.length] ^= 1 << (rnd() % 8);
      else if (mode === 1) input = bad.subarray(0, rnd() % bad.length);
      else for (let k = 0; k < 8; k++) bad[rnd() % bad.length] = rnd() & 0xff;
      try {
        const out = lzo1xDecompress(input, 4096);
        assert.ok(out.length <= 4096);
      } catch (e) {
        assert.ok(e instanceof LzoError, String(e));
      }
    }
  });
});

describe('LZO1X decoder without the encoder', () => {
  it('decodes a hand-made stream (literal run, match, end marker)', () => {
    // 22: 5 literals "abcde"; 0x4c..: M2 match len 3 dist 5 ... simpler: literals then end marker.
    const stream = Buffer.from([17 + 5, 0x61, 0x62, 0x63, 0x64, 0x65, 0x11, 0x00, 0x00]);
    assert.equal(lzo1xDecompress(stream, 100).toString(), 'abcde');
  });
  it('rejects a match before the start of the output', () => {
    assert.throws(() => lzo1xDecompress(Buffer.from([0x20 | 5, 0xfc, 0xff, 0x11, 0, 0]), 100), LzoError);
  });
  it('rejects empty input and output overruns', () => {
    assert.throws(() => lzo1xDecompress(Buffer.alloc(0), 10), LzoError);
    assert.throws(() => lzo1xDecompress(Buffer.from([17 + 20, ...Buffer.alloc(20, 1), 0x11, 0, 0]), 10), LzoError);
  });
});
