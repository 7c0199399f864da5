/** x86_64 page-table walks on hand-built tables: 4/5 levels, 1 GiB / 2 MiB / 4 KiB pages, garbage and cycles. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnmappedAddressError } from '../../../../src/sources/dump/arch/types.ts';
import { isCanonical, walk, type PhysReader } from '../../../../src/sources/dump/arch/x86_64/pagetable.ts';
import { registerSetFromNote } from '../../../../src/sources/dump/arch/x86_64/registers.ts';
import { MissingPageError } from '../../../../src/sources/dump/format/types.ts';

class FakePhys implements PhysReader {
  pages = new Map<bigint, Buffer>();
  page(pa: bigint): Buffer {
    const k = pa & ~0xfffn;
    let p = this.pages.get(k);
    if (!p) {
      p = Buffer.alloc(4096);
      this.pages.set(k, p);
    }
    return p;
  }
  set(table: bigint, index: bigint, entry: bigint): void {
    this.page(table).writeBigUInt64LE(entry, Number(index * 8n));
  }
  readPhys(paddr: bigint, length: number): Buffer {
    const p = this.pages.get(paddr & ~0xfffn);
    if (!p) throw new MissingPageError(paddr);
    const o = Number(paddr & 0xfffn);
    return p.subarray(o, o + length);
  }
}

const P = 1n; // present
const PS = 1n << 7n; // large page
const NX = 1n << 63n;
const idx = (v: bigint, level: number) => (v >> BigInt(12 + 9 * (level - 1))) & 511n;

describe('page-table walk', () => {
  for (const levels of [4, 5] as const) {
    it(`${levels}-level: 4 KiB, 2 MiB and 1 GiB pages`, () => {
      const m = new FakePhys();
      const root = 0x1000n;
      const v4k = levels === 5 ? 0xff11_2233_4455_6000n | 0x123n : 0xffff_8881_2345_6000n | 0x123n;
      // Build the chain for v4k: tables at 0x2000.. (one per level).
      let table = root;
      for (let l = levels; l > 1; l--) {
        const next = BigInt(0x10000 + l * 0x1000);
        m.set(table, idx(v4k, l), next | P | 0x63n);
        m.page(next);
        table = next;
      }
      m.set(table, idx(v4k, 1), 0x7654_3000n | P | NX);
      assert.equal(walk(m, root, levels, v4k).paddr, 0x7654_3123n);
      assert.equal(walk(m, root, levels, v4k).pageSize, 4096n);

      // 2 MiB: reuse the level-2 table of v4k for a neighbouring 2 MiB slot.
      const v2m = (v4k & ~0x1fffffn) + 0x200000n + 0x4567n;
      const l2 = BigInt(0x10000 + 3 * 0x1000); // the level-2 table (made while walking level 3)
      m.set(l2, idx(v2m, 2), 0x4000_0000n | P | PS);
      assert.deepEqual(walk(m, root, levels, v2m), { paddr: 0x4000_4567n, pageSize: 1n << 21n });

      // 1 GiB: in the level-3 table.
      const v1g = (v4k & ~0x3fffffffn) + 0x4000_0000n + 0x12_3456n;
      const l3 = BigInt(0x10000 + 4 * 0x1000);
      m.set(l3, idx(v1g, 3), 0x1_0000_0000n | P | PS);
      assert.deepEqual(walk(m, root, levels, v1g), { paddr: 0x1_0012_3456n, pageSize: 1n << 30n });

      // Not present at the last level.
      assert.throws(() => walk(m, root, levels, v4k + 0x1000n), UnmappedAddressError);
    });
  }

  it('rejects non-canonical addresses', () => {
    const m = new FakePhys();
    assert.equal(isCanonical(0xffff_8000_0000_0000n, 4), true);
    assert.equal(isCanonical(0xff00_8000_0000_0000n, 4), false);
    assert.equal(isCanonical(0xff00_8000_0000_0000n, 5), true);
    assert.equal(isCanonical(0x0000_8000_0000_0000n, 4), false);
    assert.throws(() => walk(m, 0x1000n, 4, 0x1234_0000_0000_0000n), /not canonical/);
  });

  it('ends cycles and garbage with UnmappedAddressError', () => {
    const m = new FakePhys();
    const root = 0x1000n;
    for (let i = 0n; i < 512n; i++) m.set(root, i, root | P); // every entry points back at the root
    for (const levels of [4, 5] as const) {
      assert.throws(() => walk(m, root, levels, 0xffff_8880_0000_0000n), (e: unknown) => e instanceof UnmappedAddressError && /cycle/.test(e.message));
    }
    // Two tables pointing at each other.
    const a = 0x2000n;
    const b = 0x3000n;
    for (let i = 0n; i < 512n; i++) {
      m.set(a, i, b | P);
      m.set(b, i, a | P);
    }
    assert.throws(() => walk(m, a, 5, 0xff00_0000_0000_0000n), UnmappedAddressError);
    // Entries pointing outside the dump.
    const g = 0x5000n;
    for (let i = 0n; i < 512n; i++) m.set(g, i, 0x000f_ffff_ffff_f000n | P);
    assert.throws(() => walk(m, g, 4, 0xffff_8880_0000_0000n), (e: unknown) => e instanceof UnmappedAddressError && /not in the dump/.test(e.message));
    // A root outside the dump.
    assert.throws(() => walk(m, 0x7000_0000n, 4, 0xffff_8880_0000_0000n), UnmappedAddressError);
  });

  it('masks the memory-encryption bit', () => {
    const m = new FakePhys();
    const sme = 1n << 47n;
    const v = 0xffff_8880_0000_1000n;
    let table = 0x1000n;
    for (let l = 4; l > 1; l--) {
      const next = BigInt(0x20000 + l * 0x1000);
      m.set(table, idx(v, l), next | sme | P);
      table = next;
    }
    m.set(table, idx(v, 1), 0x9000n | sme | P);
    assert.equal(walk(m, 0x1000n, 4, v, sme).paddr, 0x9000n);
  });
});

describe('registerSetFromNote', () => {
  it('gives lower-case hex values, mode from CS and IRQ state from EFLAGS.IF', () => {
    const rs = registerSetFromNote({
      cpu: 1,
      source: 'prstatus',
      registers: { rip: 0xffffffff8a0592ebn, rsp: 0xffffffff8b003e98n, eflags: 0x246n, cs: 0x10n, rax: 0n },
      control: { cr3: 0x2be8000n, cr4: 0x751ef0n },
    });
    assert.equal(rs.arch, 'x86_64');
    assert.equal(rs.values.rip, 'ffffffff8a0592eb');
    assert.equal(rs.values.rax, '0');
    assert.equal(rs.values.cr3, '2be8000');
    assert.equal(rs.mode, 'kernel');
    assert.equal(rs.irqsEnabled, true);
    const user = registerSetFromNote({ cpu: 0, source: 'prstatus', registers: { rip: 0x401818n, cs: 0x33n, eflags: 0x2n } });
    assert.equal(user.mode, 'user');
    assert.equal(user.irqsEnabled, false);
  });
});
