import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseVmcoreinfo } from '../../../../src/sources/dump/format/vmcoreinfo.ts';
import { listFixtures } from './fixtures.ts';

describe('parseVmcoreinfo', () => {
  it('parses every kind of line', () => {
    const v = parseVmcoreinfo(
      [
        'OSRELEASE=6.1.0-56-amd64',
        'BUILD-ID=eb4f',
        'PAGESIZE=4096',
        'SYMBOL(init_uts_ns)=ffffffff8b1fb000',
        'OFFSET(uts_namespace.name)=0',
        'SIZE(page)=64',
        'LENGTH(mem_section)=262144',
        'NUMBER(phys_base)=-29360128',
        'NUMBER(pgtable_l5_enabled)=1',
        'KERNELOFFSET=8600000',
        'CRASHTIME=1795304653',
        'garbage line',
        'SYMBOL(bad)=zz',
        '',
      ].join('\n'),
    );
    assert.equal(v.osrelease, '6.1.0-56-amd64');
    assert.equal(v.buildId, 'eb4f');
    assert.equal(v.pageSize, 4096);
    assert.equal(v.symbols.get('init_uts_ns'), 0xffffffff8b1fb000n);
    assert.equal(v.symbols.has('bad'), false);
    assert.equal(v.offsets.get('uts_namespace.name'), 0);
    assert.equal(v.sizes.get('page'), 64);
    assert.equal(v.lengths.get('mem_section'), 262144);
    assert.equal(v.numbers.get('phys_base'), -29360128n);
    assert.equal(v.numbers.get('pgtable_l5_enabled'), 1n);
    assert.equal(v.kernelOffset, 0x8600000n);
    assert.equal(v.crashTime, 1795304653n);
    assert.equal(v.raw.get('SYMBOL(bad)'), 'zz');
  });

  it('defaults on empty text', () => {
    const v = parseVmcoreinfo('');
    assert.equal(v.pageSize, 4096);
    assert.equal(v.kernelOffset, 0n);
    assert.equal(v.osrelease, undefined);
  });

  for (const fx of listFixtures()) {
    it(`parses ${fx.name}${fx.kdump ? ' (kdump)' : ''} vmcoreinfo.txt`, () => {
      const text = readFileSync(path.join(fx.dir, 'vmcoreinfo.txt'), 'latin1');
      const v = parseVmcoreinfo(text);
      assert.ok(v.symbols.has('init_top_pgt') && v.symbols.has('kallsyms_names'));
      assert.ok(v.numbers.has('phys_base'));
      assert.equal(v.raw.size, text.split('\n').filter((l) => l.includes('=')).length);
    });
  }
});
