/** Kernel virtual memory of the real fixtures: bases against crash's `mach`, phys_base and paging depth derived without hints. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { UnmappedAddressError } from '../../../../src/sources/dump/arch/types.ts';
import { openKernelMemory } from '../../../../src/sources/dump/arch/x86_64/memory.ts';
import { openDumpContainer } from '../../../../src/sources/dump/format/open.ts';
import { parseVmcoreinfo, type Vmcoreinfo } from '../../../../src/sources/dump/format/vmcoreinfo.ts';
import { crashSys, listFixtures, noFixtures } from '../format/fixtures.ts';

function systemMap(file: string): Map<string, bigint> {
  const m = new Map<string, bigint>();
  for (const line of readFileSync(file, 'latin1').split('\n')) {
    const [addr, , name] = line.split(' ');
    if (name && !m.has(name)) m.set(name, BigInt(`0x${addr}`));
  }
  return m;
}

function without(info: Vmcoreinfo, ...numbers: string[]): Vmcoreinfo {
  const n = new Map(info.numbers);
  for (const k of numbers) n.delete(k);
  return { ...info, numbers: n };
}

describe('x86_64 kernel memory on real dumps', { skip: noFixtures }, () => {
  for (const fx of listFixtures()) {
    it(`${fx.name}${fx.kdump ? ' (kdump)' : ''}`, () => {
      const c = openDumpContainer(fx.vmcore);
      try {
        const info = parseVmcoreinfo(c.vmcoreinfo!);
        const mach = crashSys(readFileSync(path.join(fx.dir, 'crash.mach.txt'), 'utf8'));
        const hex = (k: string) => BigInt(`0x${mach.get(k)!.split(/\s/)[0]}`);
        const smap = systemMap(path.join(path.dirname(fx.dir), 'System.map'));

        const mem = openKernelMemory(c, info);
        assert.equal(mem.kaslrOffset, info.kernelOffset);
        assert.equal(smap.get('_stext')! + mem.kaslrOffset, info.symbols.get('_stext'));
        assert.equal(mem.pageOffsetBase, hex('KERNEL VIRTUAL BASE'), 'direct map base derived from mem_section');
        assert.equal(mem.vmallocBase, undefined);

        mem.useSymbols((name) => {
          const a = smap.get(name);
          return a === undefined ? undefined : a + mem.kaslrOffset;
        });
        assert.equal(mem.pageOffsetBase, hex('KERNEL VIRTUAL BASE'));
        assert.equal(mem.vmallocBase, hex('KERNEL VMALLOC BASE'));
        assert.equal(mem.vmemmapBase, hex('KERNEL VMEMMAP BASE'));
        assert.deepEqual(mem.notes, []);

        // The IRQ stacks crash lists are vmalloc'ed and mapped.
        const irq0 = /CPU 0: ([0-9a-f]+)/.exec(readFileSync(path.join(fx.dir, 'crash.mach.txt'), 'utf8'))!;
        const stack = BigInt(`0x${irq0[1]}`);
        assert.ok(stack >= mem.vmallocBase! && mem.isMapped(stack));

        // Unmapped: user addresses in the kernel's tables, a hole, a non-canonical address.
        assert.throws(() => mem.translate(0x1000n), UnmappedAddressError);
        assert.throws(() => mem.read(0x0000_8000_0000_0000n, 8), UnmappedAddressError);
        assert.equal(mem.isMapped(0n), false);

        // jiffies is a kernel variable: same value through text mapping and page tables.
        const jiffies = smap.get('jiffies_64')! + mem.kaslrOffset;
        assert.equal(mem.translate(jiffies), mem.kernelTextToPhys(jiffies));
        assert.ok(mem.readU64(jiffies) > 0n);

        // Without NUMBER(phys_base): QEMU dumps use CR3, kdump dumps the sub-header; same answer.
        const noHint = openKernelMemory(c, without(info, 'phys_base'));
        assert.equal(noHint.physBase, mem.physBase);
        assert.equal(noHint.physBaseSource, fx.kdump ? 'kdump-header' : 'cr3');
        // Without the paging-depth hint either: found by checking the tables.
        const bare = openKernelMemory(c, without(info, 'phys_base', 'pgtable_l5_enabled'));
        assert.equal(bare.levels, mem.levels);
        assert.equal(bare.physBase, mem.physBase);

        const sys = crashSys(readFileSync(path.join(fx.dir, 'crash.sys.txt'), 'utf8'));
        assert.equal(bare.readCString(info.symbols.get('init_uts_ns')! + 130n, 65), sys.get('RELEASE'));
      } finally {
        c.close();
      }
    });
  }
});
