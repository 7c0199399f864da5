/** `coroner dump info|log` end to end through bin/coroner: output, exit codes, one-line input errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, openSync, readSync, closeSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { repoRoot, vmcoreFixtures } from '../sources/dump/kernel/fixtures.ts';

// CORONER_BIN lets a developer point the test at another entry point; the default is the real one.
const BIN = process.env.CORONER_BIN ?? join(repoRoot, 'bin/coroner');

function coroner(...args: string[]) {
  const r = spawnSync(process.execPath, [...(BIN.endsWith('.ts') || BIN.endsWith('.mts') ? ['--import', 'tsx'] : []), BIN, ...args], {
    cwd: repoRoot,
    encoding: 'latin1',
    maxBuffer: 64 << 20,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** An input error: exit 2, exactly one stderr line starting `coroner: `, no stack trace. */
function assertOneLineError(r: ReturnType<typeof coroner>, pattern: RegExp) {
  assert.equal(r.code, 2, `exit code (stderr: ${r.err})`);
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.length, 1, `one line: ${r.err}`);
  assert.match(lines[0], /^coroner: /);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.err, /\n\s+at |Error:/);
  assert.equal(r.out, '');
}

const fixtures = vmcoreFixtures();
const kdump = fixtures.find((f) => f.name === 'deb12-6.1.0-56-kdump/softlockup-ipi');
const qemu612 = fixtures.find((f) => f.name === 'deb12-6.12.117/hung-uffd');
const qemu61 = fixtures.find((f) => f.name === 'deb12-6.1.0-56/healthy');

const tmp = mkdtempSync(join(tmpdir(), 'coroner-dump-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('coroner dump', () => {
  test('info --format json on a kdump vmcore directory', { skip: !kdump && 'fixture missing' }, () => {
    const r = coroner('dump', 'info', '--format', 'json', kdump!.dir);
    assert.equal(r.code, 0, r.err);
    const i = JSON.parse(r.out);
    assert.equal(i.release, '6.1.0-56-amd64');
    assert.equal(i.cpus.online.length, 4);
    assert.equal(i.dumpedBy, 'kdump');
    assert.equal(i.crashTime, 1795304653);
    assert.equal(i.panic, 'Kernel panic - not syncing: softlockup: hung tasks');
    assert.equal(i.dumpLevel, 31);
    assert.equal(i.pagingLevels, 5);
    assert.equal(i.symbols.source, 'kallsyms-in-dump');
    assert.deepEqual(i.symbols.modules.sort(), ['forge_wedge', 'qemu_fw_cfg']);
    assert.equal(i.types.source, 'BTF');
    assert.equal(i.kaslrOffset, '0x35e00000');
  });

  test('info as text on a QEMU dump, with the System.map path', { skip: !qemu612 && 'fixture missing' }, () => {
    const r = coroner('dump', 'info', '--system-map', qemu612!.systemMap!, qemu612!.vmcore);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /release: 6\.12\.117\+deb12-amd64/);
    assert.match(r.out, /crash time: dump taken on request/);
    assert.match(r.out, /paging: 4-level/);
    assert.ok(r.out.includes(`symbols: ${qemu612!.systemMap} (`), r.out);
    assert.match(r.out, /types: BTF \(\d+ bytes/);
  });

  test('log prints exactly crash.log.txt', { skip: !kdump && 'fixture missing' }, () => {
    const r = coroner('dump', 'log', kdump!.vmcore);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, kdump!.oracle('crash.log.txt'));
  });

  test('a missing file: exit 2, one line', () => {
    assertOneLineError(coroner('dump', 'info', join(tmp, 'nope.vmcore')), /nope\.vmcore: no such file or directory$/);
    assertOneLineError(coroner('dump', 'log', join(tmp, 'nope.vmcore')), /no such file/);
  });

  test('a file that is not a dump: exit 2, one line naming the offset', () => {
    const f = join(tmp, 'notes.txt');
    writeFileSync(f, 'just some text, not a vmcore\n');
    assertOneLineError(coroner('dump', 'info', f), /notes\.txt: at offset 0x0: not a vmcore/);
  });

  test('dump formats we do not read: exit 2, one line naming the format and how to convert it', () => {
    const sadump = Buffer.alloc(4096);
    sadump.write('sadump\0\0', 0, 'latin1');
    const s390 = Buffer.alloc(4096);
    s390.writeBigUInt64BE(0xa8190173618f23fdn, 0);
    for (const [name, buf, re] of [
      ['disk.sadump', sadump, /disk\.sadump: at offset 0x0: a sadump dump: this format is not supported; makedumpfile reads sadump/],
      ['dump.s390', s390, /dump\.s390: at offset 0x0: an s390 dump: this format is not supported; zgetdump/],
    ] as const) {
      const f = join(tmp, name);
      writeFileSync(f, buf);
      assertOneLineError(coroner('dump', 'info', f), re);
    }
  });

  test('a truncated dump header: exit 2, one line', { skip: !qemu61 && 'fixture missing' }, () => {
    const f = join(tmp, 'trunc.kdump');
    const buf = Buffer.alloc(100);
    const fd = openSync(qemu61!.vmcore, 'r');
    readSync(fd, buf, 0, 100, 0);
    closeSync(fd);
    writeFileSync(f, buf);
    assertOneLineError(coroner('dump', 'info', f), /trunc\.kdump: .*truncated/);
  });

  test('a directory without a vmcore: exit 2', () => {
    assertOneLineError(coroner('dump', 'info', tmp), /directory holds no vmcore/);
  });

  test("another kernel's System.map is refused", { skip: (!qemu61 || !qemu612) && 'fixture missing' }, () => {
    assertOneLineError(coroner('dump', 'info', '--system-map', qemu612!.systemMap!, qemu61!.vmcore), /System\.map: System\.map does not match the dump: /);
  });
});
