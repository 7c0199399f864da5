/** kallsyms decoding (synthetic tables in each encoding) and System.map parsing / lookup semantics. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InputError } from '../../../../src/model/errors.ts';
import { decodeKallsyms, KallsymsError, type KallsymsLocation } from '../../../../src/sources/dump/kernel/kallsyms.ts';
import { parseSystemMap, SymbolTable, Symbols } from '../../../../src/sources/dump/kernel/symbols.ts';

/** A sparse fake address space. */
class FakeMemory {
  private regions: Array<{ at: bigint; data: Buffer }> = [];
  put(at: bigint, data: Buffer): void {
    this.regions.push({ at, data });
  }
  read = (vaddr: bigint, length: number): Buffer => {
    for (const r of this.regions) {
      if (vaddr >= r.at && vaddr + BigInt(length) <= r.at + BigInt(r.data.length) + 65536n) {
        const off = Number(vaddr - r.at);
        const out = Buffer.alloc(length);
        r.data.copy(out, 0, off, Math.min(r.data.length, off + length));
        return out;
      }
    }
    throw new Error(`unmapped 0x${vaddr.toString(16)}`);
  };
}

/**
 * Builds kallsyms tables for `syms` ("Tname" strings) with a toy token table: token 0x80 = "ab",
 * every other byte value is itself. Returns the fake memory and the location.
 */
function buildKallsyms(
  syms: Array<{ typed: string; address: bigint }>,
  addressing: 'absolute-percpu' | 'relative' | 'absolute',
  opts: { bigLengths?: boolean } = {},
): { mem: FakeMemory; loc: KallsymsLocation } {
  const tokens: string[] = [];
  for (let i = 0; i < 256; i++) tokens.push(i === 0x80 ? 'ab' : String.fromCharCode(i));
  const tokenTable = Buffer.from(tokens.map((t) => t + '\0').join(''), 'latin1');
  const tokenIndex = Buffer.alloc(512);
  let off = 0;
  tokens.forEach((t, i) => {
    tokenIndex.writeUInt16LE(off, i * 2);
    off += t.length + 1;
  });
  const names: number[] = [];
  for (const s of syms) {
    const bytes: number[] = [];
    for (let i = 0; i < s.typed.length; i++) {
      if (s.typed.startsWith('ab', i) && i > 0) {
        bytes.push(0x80);
        i++;
      } else bytes.push(s.typed.charCodeAt(i));
    }
    if (bytes.length > 127) {
      assert.ok(opts.bigLengths, 'long names need the 6.1 two-byte length');
      names.push(0x80 | (bytes.length & 0x7f), bytes.length >> 7);
    } else names.push(bytes.length);
    names.push(...bytes);
  }
  const mem = new FakeMemory();
  const base = 0xffffffff81000000n;
  const loc: KallsymsLocation = {
    names: 0xffffffff82000000n,
    numSyms: 0xffffffff82100000n,
    tokenTable: 0xffffffff82200000n,
    tokenIndex: 0xffffffff82300000n,
  };
  mem.put(loc.names, Buffer.from(names));
  const num = Buffer.alloc(8);
  num.writeUInt32LE(syms.length);
  mem.put(loc.numSyms, num);
  mem.put(loc.tokenTable, tokenTable);
  mem.put(loc.tokenIndex, tokenIndex);
  if (addressing === 'absolute') {
    const a = Buffer.alloc(syms.length * 8);
    syms.forEach((s, i) => a.writeBigUInt64LE(s.address, i * 8));
    loc.addresses = 0xffffffff82400000n;
    mem.put(loc.addresses, a);
  } else {
    const o = Buffer.alloc(syms.length * 4);
    syms.forEach((s, i) => {
      if (addressing === 'relative') o.writeUInt32LE(Number(s.address - base), i * 4);
      else if (s.address < base) o.writeInt32LE(Number(s.address), i * 4); // per-CPU: absolute, non-negative
      else o.writeInt32LE(-Number(s.address - base) - 1, i * 4); // negative: relative_base - 1 - offset
    });
    loc.offsets = 0xffffffff82500000n;
    loc.relativeBase = 0xffffffff82600000n;
    const rb = Buffer.alloc(8);
    rb.writeBigUInt64LE(base);
    mem.put(loc.offsets, o);
    mem.put(loc.relativeBase, rb);
  }
  return { mem, loc };
}

const SYMS = [
  { typed: 'Afixed_percpu_data', address: 0n },
  { typed: 'Drunqueues', address: 0x31c40n },
  { typed: 'T_stext', address: 0xffffffff81000000n },
  { typed: 'tcabbage_patch', address: 0xffffffff81000040n },
  { typed: 'Tsysvec_apic_timer_interrupt', address: 0xffffffff81000100n },
  { typed: 'Tasm_sysvec_apic_timer_interrupt', address: 0xffffffff81000100n },
  { typed: 'Dlinux_banner', address: 0xffffffff81800000n },
];

describe('kallsyms decoding', () => {
  for (const mode of ['absolute-percpu', 'relative', 'absolute'] as const) {
    test(`${mode} addressing`, () => {
      const syms = mode === 'relative' ? SYMS.filter((s) => s.address >= 0xffffffff81000000n) : SYMS;
      const { mem, loc } = buildKallsyms(syms, mode);
      const out = decodeKallsyms(mem.read, loc);
      assert.deepEqual(
        out.map((s) => `${s.type} ${s.name} ${s.address.toString(16)}`),
        syms.map((s) => `${s.typed[0]} ${s.typed.slice(1)} ${s.address.toString(16)}`),
      );
    });
  }

  test('6.1 big-symbol two-byte lengths', () => {
    const long = 'T' + 'x'.repeat(300);
    const { mem, loc } = buildKallsyms([{ typed: long, address: 0xffffffff81000000n }, { typed: 'tafter', address: 0xffffffff81000010n }], 'absolute-percpu', {
      bigLengths: true,
    });
    const out = decodeKallsyms(mem.read, loc);
    assert.equal(out[0].name, 'x'.repeat(300));
    assert.equal(out[1].name, 'after');
  });

  test('implausible counts are refused', () => {
    const { mem, loc } = buildKallsyms(SYMS, 'absolute-percpu');
    const bad = Buffer.alloc(4);
    bad.writeUInt32LE(0);
    mem.put(0xffffffff82100000n - 0n, bad); // shadowed by the first region: write a second table location
    assert.throws(() => decodeKallsyms(mem.read, { ...loc, numSyms: 0xffffffff82700000n }), /unmapped/);
    mem.put(0xffffffff82700000n, bad);
    assert.throws(() => decodeKallsyms(mem.read, { ...loc, numSyms: 0xffffffff82700000n }), KallsymsError);
  });
});

describe('symbol tables', () => {
  const table = new SymbolTable(SYMS.map((s) => ({ name: s.typed.slice(1), type: s.typed[0], address: s.address })));

  test('lookup: nearest preceding, first alias, size to the next higher address', () => {
    const s = table.lookup(0xffffffff81000149n)!;
    assert.equal(s.name, 'sysvec_apic_timer_interrupt');
    assert.equal(s.offset, 0x49);
    assert.equal(s.size, 0x7fff00);
    assert.equal(table.lookup(0xffffffff81000040n)!.name, 'cabbage_patch');
    assert.equal(table.lookup(0xffffffff81000040n)!.size, 0xc0);
    assert.equal(table.address('asm_sysvec_apic_timer_interrupt'), 0xffffffff81000100n);
  });

  test('System.map: KASLR applied to kernel-image symbols only', () => {
    const text = [
      '0000000000000000 A fixed_percpu_data',
      '00000000000001ea A kexec_control_code_size',
      '0000000000031c40 D runqueues',
      'ffffffff81000000 T _stext',
      'ffffffff81000100 t local_helper',
      'ffffffff82161900 D linux_banner',
      '',
    ].join('\n');
    const syms = parseSystemMap(text, 'System.map', 0x8600000n);
    const by = new Map(syms.map((s) => [s.name, s.address]));
    assert.equal(by.get('_stext'), 0xffffffff89600000n);
    assert.equal(by.get('local_helper'), 0xffffffff89600100n);
    assert.equal(by.get('runqueues'), 0x31c40n);
    assert.equal(by.get('kexec_control_code_size'), 0x1ean);
  });

  test('System.map: garbage is an InputError naming the line and offset', () => {
    assert.throws(
      () => parseSystemMap('ffffffff81000000 T _stext\nthis is not a map\n', 'x.map'),
      (e: unknown) => e instanceof InputError && e.file === 'x.map' && e.offset === 26 && /line 2/.test(e.message),
    );
    assert.throws(() => parseSystemMap('\n\n', 'empty.map'), /no symbols/);
  });

  test('module symbols: [module] suffix, size bounded by text end, format()', () => {
    const syms = new Symbols(table, 'test');
    syms.setModules([
      {
        name: 'forge_wedge',
        address: 0xffffffffc04a1000n,
        regions: [
          { start: 0xffffffffc049f000n, end: 0xffffffffc04a0000n, kind: 'text' },
          { start: 0xffffffffc04a1000n, end: 0xffffffffc04a3000n, kind: 'data' },
        ],
        symbols: [
          { name: 'forge_ring_worker', address: 0xffffffffc049f060n, size: 0x40, type: 't' },
          { name: 'forge_ring_record_error.constprop.0', address: 0xffffffffc049f000n, size: 0x30, type: 't' },
          { name: 'forge_ring0', address: 0xffffffffc04a13c0n, size: 0x20, type: 'b' },
        ],
      },
    ]);
    assert.equal(syms.format(0xffffffffc049f00en), 'forge_ring_record_error.constprop.0+0xe/0x60 [forge_wedge]');
    assert.equal(syms.format(0xffffffffc049f0a4n), 'forge_ring_worker+0x44/0xfa0 [forge_wedge]');
    assert.deepEqual(
      { ...syms.lookup(0xffffffffc04a13c4n)!, address: 0n },
      { name: 'forge_ring0', offset: 4, size: 0x1c40, module: 'forge_wedge', address: 0n, type: 'b' },
    );
    assert.equal(syms.address('forge_ring0'), 0xffffffffc04a13c0n);
    assert.equal(syms.address('forge_wedge:forge_ring_worker'), 0xffffffffc049f060n);
    assert.equal(syms.lookup(0xffffffff81000149n)!.module, undefined);
    assert.equal(syms.format(0x1000n), 'fixed_percpu_data+0x1000/0x31c40');
  });
});
