/**
 * Module types (issue 14): a loaded module's structs come from the BTF copy the kernel keeps of it (`btf_modules`), split
 * over vmlinux's BTF. qemu_fw_cfg, loaded in every QEMU fixture, has `struct fw_cfg_sysfs_entry` (not in vmlinux): its
 * list of firmware-config entries is walked by type and each entry printed as crash prints it with the module's debuginfo
 * loaded (`mod -s qemu_fw_cfg`; checked by hand on the 6.1 softlockup-ipi dump, identical): the kobject's ktype is the
 * module's own `fw_cfg_sysfs_entry_ktype`, the name a fw_cfg file name, and the list links back to the head.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { vmcoreFixtures } from '../sources/dump/kernel/fixtures.ts';
import { runCli } from '../helpers.ts';

const fixtures = vmcoreFixtures().filter((f) => /^deb12-6\.(1\.0-56\/softlockup-ipi|12\.117\/hung-uffd)$/.test(f.name));

describe('module BTF', { skip: fixtures.length ? false : 'no fixtures' }, () => {
  for (const f of fixtures) {
    it(`${f.name}: qemu_fw_cfg's entries by their module type`, () => {
      const head = runCli(['dump', 'sym', f.vmcore, 'fw_cfg_entry_cache']);
      assert.equal(head.code, 0, head.stderr);
      const headAddr = /^([0-9a-f]{16}) \(\w\) fw_cfg_entry_cache \[qemu_fw_cfg\]/.exec(head.stdout)![1];
      const list = runCli(['dump', 'list', f.vmcore, 'fw_cfg_entry_cache', '-H', '-l', 'fw_cfg_sysfs_entry.list']);
      assert.equal(list.code, 0, list.stderr);
      const entries = list.stdout.trim().split('\n');
      assert.ok(entries.length >= 3, list.stdout);
      // entry[i].list.prev is the head for the first, else entry[i-1]'s list member: one offset for all.
      const offsets = new Set<bigint>();
      entries.slice(0, 3).forEach((e, i) => {
        const r = runCli(['dump', 'struct', f.vmcore, 'fw_cfg_sysfs_entry', e]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^struct fw_cfg_sysfs_entry \{/);
        assert.match(r.stdout, /ktype = 0x[0-9a-f]+ <fw_cfg_sysfs_entry_ktype>,/);
        assert.match(r.stdout, /^ {2}name = "[\w./-]+(\\000)*",$/m);
        assert.match(r.stdout, /^ {4}name = 0x[0-9a-f]+ "[0-9]+",$/m, 'the kobject name (a char *) printed with its string');
        const prev = BigInt(/^ {2}list = \{\n {4}next = 0x[0-9a-f]+.*,\n {4}prev = (0x[0-9a-f]+)/m.exec(r.stdout)![1]);
        if (i === 0) assert.equal(prev, BigInt(`0x${headAddr}`));
        else offsets.add(prev - BigInt(`0x${entries[i - 1]}`));
      });
      assert.equal(offsets.size, 1, 'every prev link points at the previous entry\'s list member');
    });
  }
});
