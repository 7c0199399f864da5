/** printk ring walkers: synthetic rings (both layouts, wrap, data-less, corrupted) and every fixture vs crash's `log`. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { parseVmcoreinfo } from '../../../../src/sources/dump/format/vmcoreinfo.ts';
import { openKernelDump } from '../../../../src/sources/dump/index.ts';
import { UnreadableMemoryError } from '../../../../src/sources/dump/kernel/errors.ts';
import { formatLog, formatRecord, readPrintkLog, timestamp } from '../../../../src/sources/dump/walk/printk.ts';
import { vmcoreFixtures } from '../kernel/fixtures.ts';

/** Flat fake memory: regions keyed by address; unknown addresses raise the typed memory error. */
function memory(regions: Array<[bigint, Buffer]>, holes: bigint[] = []) {
  return (vaddr: bigint, length: number): Buffer => {
    for (const h of holes) if (vaddr < h + 4096n && vaddr + BigInt(length) > h) throw new UnreadableMemoryError('page', h, 'excluded', 'excluded');
    for (const [at, data] of regions) {
      if (vaddr >= at && vaddr + BigInt(length) <= at + BigInt(data.length)) return data.subarray(Number(vaddr - at), Number(vaddr - at) + length);
    }
    throw new UnreadableMemoryError('memory', vaddr, 'unmapped', 'unmapped');
  };
}

// The 6.1 layout, as VMCOREINFO gives it.
const LOCKLESS_VI = `OSRELEASE=test
SYMBOL(prb)=ffffffff80001000
SIZE(printk_ringbuffer)=88
OFFSET(printk_ringbuffer.desc_ring)=0
OFFSET(printk_ringbuffer.text_data_ring)=48
SIZE(prb_desc_ring)=48
OFFSET(prb_desc_ring.count_bits)=0
OFFSET(prb_desc_ring.descs)=8
OFFSET(prb_desc_ring.infos)=16
OFFSET(prb_desc_ring.head_id)=24
OFFSET(prb_desc_ring.tail_id)=32
SIZE(prb_desc)=24
OFFSET(prb_desc.state_var)=0
OFFSET(prb_desc.text_blk_lpos)=8
OFFSET(prb_data_blk_lpos.begin)=0
OFFSET(prb_data_blk_lpos.next)=8
SIZE(printk_info)=88
OFFSET(printk_info.seq)=0
OFFSET(printk_info.ts_nsec)=8
OFFSET(printk_info.text_len)=16
OFFSET(printk_info.caller_id)=20
OFFSET(prb_data_ring.size_bits)=0
OFFSET(prb_data_ring.data)=8
OFFSET(prb_data_ring.head_lpos)=16
OFFSET(prb_data_ring.tail_lpos)=24
OFFSET(atomic_long_t.counter)=0
`;

interface Rec {
  id: bigint;
  state: bigint;
  ts: bigint;
  text?: string;
  /** Place the block at this ring offset; `wrap` puts the data at 0 with begin at the ring end. */
  at?: number;
  wrap?: boolean;
  dataless?: boolean;
}

function lockless(recs: Rec[], opts: { countBits?: number; sizeBits?: number; head?: bigint; tail?: bigint } = {}) {
  const countBits = opts.countBits ?? 3;
  const sizeBits = opts.sizeBits ?? 8;
  const count = 1 << countBits;
  const size = 1 << sizeBits;
  const PRB = 0xffffffff80002000n;
  const DESCS = 0xffffffff80003000n;
  const INFOS = 0xffffffff80004000n;
  const DATA = 0xffffffff80005000n;
  const prbPtr = Buffer.alloc(8);
  prbPtr.writeBigUInt64LE(PRB);
  const prb = Buffer.alloc(88);
  prb.writeUInt32LE(countBits, 0);
  prb.writeBigUInt64LE(DESCS, 8);
  prb.writeBigUInt64LE(INFOS, 16);
  prb.writeBigUInt64LE(opts.head ?? recs[recs.length - 1].id, 24);
  prb.writeBigUInt64LE(opts.tail ?? recs[0].id, 32);
  prb.writeUInt32LE(sizeBits, 48);
  prb.writeBigUInt64LE(DATA, 56);
  const descs = Buffer.alloc(count * 24);
  const infos = Buffer.alloc(count * 88);
  const data = Buffer.alloc(size);
  let lpos = 0;
  for (const r of recs) {
    const slot = Number(r.id % BigInt(count));
    descs.writeBigUInt64LE((r.state << 62n) | r.id, slot * 24);
    const text = Buffer.from(r.text ?? '', 'latin1');
    let begin: number;
    let next: number;
    if (r.dataless) {
      begin = next = 1; // FAILED_LPOS
    } else if (r.wrap) {
      begin = size - 8;
      next = size + 8 + text.length;
      data.writeBigUInt64LE(r.id, 0);
      text.copy(data, 8);
    } else {
      begin = r.at ?? lpos;
      next = begin + 8 + text.length;
      data.writeBigUInt64LE(r.id, begin);
      text.copy(data, begin + 8);
      lpos = (next + 7) & ~7;
    }
    descs.writeBigUInt64LE(BigInt(begin), slot * 24 + 8);
    descs.writeBigUInt64LE(BigInt(next), slot * 24 + 16);
    infos.writeBigUInt64LE(r.id, slot * 88);
    infos.writeBigUInt64LE(r.ts, slot * 88 + 8);
    infos.writeUInt16LE(text.length, slot * 88 + 16);
    infos.writeUInt32LE(0x80000002, slot * 88 + 20);
  }
  return {
    read: memory([
      [0xffffffff80001000n, prbPtr],
      [PRB, prb],
      [DESCS, descs],
      [INFOS, infos],
      [DATA, data],
    ]),
    vi: parseVmcoreinfo(LOCKLESS_VI),
  };
}

describe('lockless ring (5.10+)', () => {
  test('records in id order; skips reserved/reusable; data-less prints empty; wrapped block read from ring start', () => {
    const { read, vi } = lockless([
      { id: 5n, state: 3n, ts: 1n, text: 'reused slot' },
      { id: 6n, state: 2n, ts: 1_234_567_890n, text: 'hello' },
      { id: 7n, state: 1n, ts: 2_000_000_000n, text: 'line one\nline two' },
      { id: 8n, state: 2n, ts: 3_000_001_000n, dataless: true },
      { id: 9n, state: 0n, ts: 4n, text: 'still being written' },
      { id: 10n, state: 2n, ts: 123_456_000_000_000n, text: 'tab\there, bell\x07, utf8 \xc3\xa9' },
      { id: 11n, state: 2n, ts: 5_000_000_000n, text: 'wrapped!', wrap: true },
    ]);
    const log = readPrintkLog(read, vi);
    assert.equal(log.kind, 'lockless');
    assert.deepEqual(log.notes, []);
    assert.deepEqual(
      log.records.map((r) => r.seq),
      [6n, 7n, 8n, 10n, 11n],
    );
    assert.equal(log.records[0].callerId, 0x80000002);
    assert.deepEqual(formatLog(log.records), [
      '[    1.234567] hello',
      '[    2.000000] line one',
      '               line two',
      '',
      '[123456.000000] tab\there, bell., utf8 ..',
      '[    5.000000] wrapped!',
    ]);
  });

  test('ids spanning more than the ring are cut to the ring, with a note', () => {
    const { read, vi } = lockless([{ id: 100n, state: 2n, ts: 1n, text: 'only' }], { tail: 1n, head: 100n });
    const log = readPrintkLog(read, vi);
    assert.equal(log.records.length, 1);
    assert.match(log.notes[0], /look corrupted/);
  });

  test('a missing layout entry is an error naming it', () => {
    const vi = parseVmcoreinfo(LOCKLESS_VI.replace('SIZE(prb_desc)=24\n', ''));
    const { read } = lockless([{ id: 1n, state: 2n, ts: 1n, text: 'x' }]);
    assert.throws(() => readPrintkLog(read, vi), /VMCOREINFO lacks SIZE\(prb_desc\)/);
  });
});

describe('variable-length record ring (before 5.10)', () => {
  const VI = `SYMBOL(log_buf)=ffffffff80001000
SYMBOL(log_buf_len)=ffffffff80001008
SYMBOL(log_first_idx)=ffffffff80001010
SYMBOL(log_next_idx)=ffffffff80001018
SIZE(printk_log)=16
OFFSET(printk_log.ts_nsec)=0
OFFSET(printk_log.len)=8
OFFSET(printk_log.text_len)=10
`;
  const BUF = 0xffffffff80010000n;

  function build(entries: Array<{ at: number; ts: bigint; text: string; len?: number }>, first: number, next: number, bufLen = 256) {
    const vars = Buffer.alloc(32);
    vars.writeBigUInt64LE(BUF, 0);
    vars.writeUInt32LE(bufLen, 8);
    vars.writeUInt32LE(first, 16);
    vars.writeUInt32LE(next, 24);
    const buf = Buffer.alloc(bufLen);
    for (const e of entries) {
      const t = Buffer.from(e.text, 'latin1');
      const len = e.len ?? (16 + t.length + 7) & ~7;
      buf.writeBigUInt64LE(e.ts, e.at);
      buf.writeUInt16LE(len, e.at + 8);
      buf.writeUInt16LE(t.length, e.at + 10);
      t.copy(buf, e.at + 16);
    }
    return memory([
      [0xffffffff80001000n, vars],
      [BUF, buf],
    ]);
  }

  test('walks from log_first_idx, wraps at a zero-length record, formats like crash', () => {
    // Records at 200 (then a len-0 marker at 232), 0, 32.
    const read = build(
      [
        { at: 200, ts: 7_000_000n, text: 'first' },
        { at: 232, ts: 0n, text: '', len: 0 },
        { at: 0, ts: 8_000_000n, text: 'second\nmore' },
        { at: 32, ts: 9_000_000n, text: 'third' },
      ],
      200,
      56,
    );
    const log = readPrintkLog(read, parseVmcoreinfo(VI));
    assert.equal(log.kind, 'variable-length');
    assert.deepEqual(log.notes, []);
    assert.deepEqual(formatLog(log.records), ['[    0.007000] first', '[    0.008000] second', '               more', '[    0.009000] third']);
  });

  test('a record loop ends with a note, never a hang', () => {
    // Record at 0 points to itself (len 0 at the start: wrap to 0 forever).
    const read = build([{ at: 0, ts: 1n, text: 'x', len: 0 }], 0, 128);
    const log = readPrintkLog(read, parseVmcoreinfo(VI));
    assert.ok(log.notes.length > 0);
  });
});

test('timestamps are %5lld.%06ld', () => {
  assert.equal(timestamp(0n), '[    0.000000] ');
  assert.equal(timestamp(99_999_999_999_999n), '[99999.999999] ');
  assert.equal(formatRecord({ tsNsec: 1n, text: Buffer.from('a\r\vb') }), '[    0.000000] a\r\vb');
});

describe('every fixture: dump log equals crash.log.txt byte for byte', () => {
  const opened: Array<{ close(): void }> = [];
  after(() => opened.forEach((d) => d.close()));
  for (const f of vmcoreFixtures()) {
    test(f.name, () => {
      const d = openKernelDump(f.vmcore);
      opened.push(d);
      const want = f.oracle('crash.log.txt');
      assert.ok(want, 'crash.log.txt');
      const got = d.log().join('\n') + '\n';
      if (got !== want) {
        const a = got.split('\n');
        const b = want.split('\n');
        const i = a.findIndex((l, n) => l !== b[n]);
        assert.fail(`first difference at line ${i + 1}:\n  got:  ${JSON.stringify(a[i])}\n  want: ${JSON.stringify(b[i])}`);
      }
      assert.deepEqual(d.printk().notes, []);
    });
  }
});
