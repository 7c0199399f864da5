/** Every real vmcore in the shared fixtures: container, VMCOREINFO, CPU notes, kernel virtual reads (oracle: crash). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openDumpContainer } from '../../../../src/sources/dump/format/open.ts';
import { parseVmcoreinfo } from '../../../../src/sources/dump/format/vmcoreinfo.ts';
import { ExcludedPageError, MissingPageError } from '../../../../src/sources/dump/format/types.ts';
import { KdumpContainer } from '../../../../src/sources/dump/format/kdump.ts';
import { openKernelMemory } from '../../../../src/sources/dump/arch/x86_64/memory.ts';
import { registerSetFromNote } from '../../../../src/sources/dump/arch/x86_64/registers.ts';
import { crashBtRegisters, crashSys, listFixtures, noFixtures } from './fixtures.ts';

describe('real vmcores', { skip: noFixtures }, () => {
  for (const fx of listFixtures()) {
    describe(fx.name + (fx.kdump ? ' (kdump)' : ' (qemu)'), () => {
      const c = openDumpContainer(fx.vmcore);
      const info = parseVmcoreinfo(c.vmcoreinfo ?? '');
      const sys = crashSys(readFileSync(path.join(fx.dir, 'crash.sys.txt'), 'utf8'));

      it('opens as kdump-compressed with zlib', () => {
        assert.equal(c.format, 'kdump-compressed');
        assert.equal(c.headerVersion, 6);
        assert.deepEqual(c.compression, ['zlib']);
        assert.equal(c.pageSize, 4096);
        assert.equal(c.dumpLevel, fx.kdump ? 31 : 1);
        assert.deepEqual(c.incomplete, []);
      });

      it('has the VMCOREINFO of vmcoreinfo.txt', () => {
        const want = readFileSync(path.join(fx.dir, 'vmcoreinfo.txt'), 'latin1');
        assert.equal(c.vmcoreinfo?.trim(), want.trim());
        assert.equal(info.osrelease, sys.get('RELEASE'));
        assert.ok(info.kernelOffset > 0n);
        assert.equal(info.pageSize, 4096);
        if (fx.kdump) assert.ok(info.crashTime !== undefined);
      });

      it('has one CPU note per CPU with the registers crash shows', () => {
        const cpus = Number(sys.get('CPUS'));
        assert.equal(c.nrCpus, cpus);
        assert.equal(c.cpuNotes.length, cpus);
        const bt = crashBtRegisters(readFileSync(path.join(fx.dir, 'crash.bt-a.txt'), 'utf8'));
        let compared = 0;
        for (const note of c.cpuNotes) {
          const want = bt.get(note.cpu);
          assert.ok(want, `crash shows CPU ${note.cpu}`);
          const r = note.registers;
          if (want.panicCpu) {
            // The panicking CPU's registers are saved in crash_kexec, on the stack crash unwinds first.
            assert.ok(want.firstFrameSp !== undefined && r.rsp <= want.firstFrameSp + 0x400n && r.rsp + 0x4000n > want.firstFrameSp, `panic CPU ${note.cpu} RSP`);
          } else {
            // crash shows the note's registers as the exception frame: before any frame for QEMU dumps,
            // right after crash_nmi_callback for CPUs stopped by the kdump NMI. Where it shows none
            // (QEMU vCPU in an entry path), there is nothing to compare.
            const shown = fx.kdump ? want.pairs[0] : want.pairs.find((p) => p.beforeFrames);
            if (shown) {
              assert.equal(r.rip.toString(16), shown.rip.toString(16), `CPU ${note.cpu} RIP`);
              assert.equal(r.rsp.toString(16), shown.rsp.toString(16), `CPU ${note.cpu} RSP`);
              assert.equal(r.eflags.toString(16), shown.rflags.toString(16), `CPU ${note.cpu} RFLAGS`);
              compared++;
            }
          }
          assert.equal(note.source, 'prstatus');
          if (!fx.kdump) {
            assert.ok(note.control?.cr3 !== undefined, 'QEMU notes carry CR3');
            assert.ok(((note.control?.cr4 ?? 0n) & (1n << 12n)) !== 0n === fx.name.startsWith('deb12-6.1.0-56'), 'LA57 in CR4');
          }
          const rs = registerSetFromNote(note);
          assert.equal(rs.values.rip, r.rip.toString(16));
          assert.equal(rs.mode, (r.cs & 3n) === 3n ? 'user' : 'kernel');
          assert.equal(rs.irqsEnabled, (r.eflags & 0x200n) !== 0n);
        }
        assert.ok(compared >= 2, `registers of at least two CPUs compared with crash (${compared})`);
      });

      it('reads init_uts_ns through the kernel page tables', () => {
        const mem = openKernelMemory(c, info);
        assert.equal(mem.levels, fx.name.startsWith('deb12-6.1.0-56') ? 5 : 4);
        assert.equal(mem.physBaseSource, 'vmcoreinfo');
        assert.deepEqual(mem.notes, []);
        const uts = info.symbols.get('init_uts_ns')! + BigInt(info.offsets.get('uts_namespace.name') ?? 0);
        const field = (i: number) => mem.readCString(uts + BigInt(i * 65), 65);
        assert.equal(field(0), 'Linux');
        assert.equal(field(1), sys.get('NODENAME'));
        assert.equal(field(2), sys.get('RELEASE'));
        assert.equal(field(3), sys.get('VERSION'));
        assert.equal(field(4), 'x86_64');
        // Direct map: the mem_section array read through the direct map equals the page-table walk.
        const ms = info.symbols.get('mem_section')!;
        assert.ok(mem.pageOffsetBase !== undefined);
        assert.equal(mem.physToDirect(mem.translate(ms)), ms);
        // Kernel text: page tables agree with the kernel-image mapping.
        const stext = info.symbols.get('_stext')!;
        assert.equal(mem.translate(stext), mem.kernelTextToPhys(stext));
      });

      if (fx.kdump) {
        it('throws ExcludedPageError for a page filtered out by dump level 31', () => {
          assert.ok(c instanceof KdumpContainer);
          let excluded = 0;
          for (let pfn = 0x100n; pfn < c.maxPfn && excluded < 3; pfn++) {
            if (c.hasPage(pfn)) continue;
            try {
              c.readPhys(pfn * 4096n, 8);
              assert.fail(`pfn 0x${pfn.toString(16)} is not in the dump yet was read`);
            } catch (e) {
              if (e instanceof ExcludedPageError) {
                excluded++;
                assert.equal(e.paddr, pfn * 4096n);
              } else assert.ok(e instanceof MissingPageError, String(e));
            }
          }
          assert.equal(excluded, 3);
          assert.throws(() => c.readPhys(c.maxPfn * 4096n, 8), MissingPageError);
        });
      } else {
        it('reads user memory of a CPU through its CR3', () => {
          const mem = openKernelMemory(c, info);
          const user = c.cpuNotes.find((n) => (n.registers.cs & 3n) === 3n);
          if (!user) return;
          const space = mem.userSpace(user.control!.cr3, { physical: true });
          const code = space.read(user.registers.rip, 16);
          assert.ok(code.some((b) => b !== 0), 'user code bytes are not all zero');
          // The same CR3 still maps the kernel.
          assert.equal(space.translate(info.symbols.get('_stext')!), mem.translate(info.symbols.get('_stext')!));
        });
      }
      it('closes', () => {
        c.close();
      });
    });
  }
});
