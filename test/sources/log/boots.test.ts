/**
 * Logs of several boots (boots.ts): split at each `Linux version` banner and journal boot marker; a kdump capture
 * kernel stays with the boot that crashed; lines of a boot's first instant before its banner stay with it; the fast
 * scanner splits the same way; fingerprints tell the same boot seen by two captures from two boots.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { comparePrints, parseLogFile, parseLogText, scanLogFile, type ParsedLog } from '../../../src/sources/log/index.ts';
import { fixturesRoot } from '../../helpers.ts';

const fx = (p: string) => join(fixturesRoot, p);
const dir = mkdtempSync(join(tmpdir(), 'coroner-boots-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const PARTS = [
  'deb12-6.1.0-56/healthy/console.log',
  'deb12-6.1.0-56-kdump/softlockup-ipi/console.log',
  'deb12-6.12.117/hung-uffd/console.log',
  'deb12-6.1-arm64/softlockup-ipi/console.log',
  'deb12-6.1.0-56/oops-irq-deadlock/console.log',
  'deb12-6.1.0-56/healthy/console.log',
];
// Each part ends with a line feed (a console capture may not): a banner must start its own line.
const texts = PARTS.map((p) => readFileSync(fx(p), 'utf8').replace(/\n?$/, '\n'));
const lineCount = (t: string) => t.split('\n').length - (t.endsWith('\n') ? 1 : 0);

function shape(r: ParsedLog) {
  return (r.boots ?? [r]).map((b) => ({ boot: b.boot, events: b.events.map((e) => [e.kind, e.line, e.endLine, e.cpu]) }));
}

describe('a log of several boots', () => {
  const file = join(dir, 'six.log');
  writeFileSync(file, texts.join(''));

  it('one boot per concatenated console, at the right lines, with its release; the capture kernel stays with its crash', async () => {
    const r = await parseLogFile(file);
    assert.equal(r.boots?.length, PARTS.length);
    let first = 1;
    r.boots!.forEach((b, i) => {
      const n = lineCount(texts[i]);
      assert.equal(b.boot!.index, i + 1);
      assert.equal(b.boot!.firstLine, first, PARTS[i]);
      assert.equal(b.boot!.lastLine, first + n - 1, PARTS[i]);
      first += n;
    });
    assert.deepEqual(
      r.boots!.map((b) => b.boot!.release),
      ['6.1.0-56-amd64', '6.1.0-56-amd64', '6.12.117+deb12-amd64', '6.1.0-56-arm64', '6.1.0-56-amd64', '6.1.0-56-amd64'],
    );
    // The kdump console: the first kernel's soft lockup and panic, then the capture kernel (line 519 of that file).
    const kdump = r.boots![1];
    assert.equal(kdump.boot!.captureKernelLine, kdump.boot!.firstLine + 518);
    assert.ok(kdump.system.kdumpCaptureBoot, 'the capture kernel is noted in its boot');
    assert.ok(kdump.events.some((e) => e.kind === 'soft-lockup'));
    // Events stay in their boot, with the line numbers of the whole file.
    for (const b of r.boots!) for (const e of b.events) assert.ok(e.line >= b.boot!.firstLine && e.endLine <= b.boot!.lastLine);
    assert.deepEqual(r.boots![0].events, []);
    assert.deepEqual(r.boots![5].events, []);
    // Each boot's system facts are its own.
    assert.equal(r.boots![2].system.release, '6.12.117+deb12-amd64');
    assert.equal(r.boots![3].system.arch, 'arm64');
    // The top-level result is the last boot with an event.
    assert.equal(r.boot!.index, 5);
    assert.equal(r.lines, texts.reduce((n, t) => n + lineCount(t), 0));
  });

  it('the fast scanner splits the same way and finds the same events', async () => {
    assert.deepEqual(shape(await scanLogFile(file)), shape(await parseLogFile(file)));
  });

  it('a single console is one boot, whatever precedes its banner in the same instant', async () => {
    for (const p of ['deb12-6.1-arm64/healthy/console.log', 'deb12-6.1.0-56-kdump/hardlockup-seqcount/console.log', 'deb12-6.1.0-56-kdump/softlockup-ipi/vmcore-dmesg.txt']) {
      const r = await parseLogFile(fx(p));
      assert.equal(r.boots, undefined, p);
      assert.equal(r.boot?.index, 1);
      assert.equal(r.boot?.start, 'banner');
    }
  });

  it('a log that starts mid-boot, then reboots: two boots', () => {
    const r = parseLogText(
      [
        '[ 1234.500000] watchdog: BUG: soft lockup - CPU#1 stuck for 23s! [w:1]',
        '[ 1250.000000] reboot: Restarting system',
        '[    0.000000] Linux version 6.1.0-56-amd64 (x@y) (gcc) #1 SMP',
        '[    0.000000] Command line: root=/dev/vda',
        '[    1.000000] hello',
      ].join('\n'),
      'wrapped.log',
    );
    assert.equal(r.boots?.length, 2);
    assert.equal(r.boots![0].boot!.start, 'log-start');
    assert.equal(r.boots![0].boot!.release, undefined);
    assert.equal(r.boots![0].events[0].kind, 'soft-lockup');
    assert.deepEqual([r.boots![1].boot!.firstLine, r.boots![1].boot!.release], [3, '6.1.0-56-amd64']);
  });

  it('journalctl -k across boots: split at each boot marker, with its boot id', () => {
    const id1 = '0123456789abcdef0123456789abcdef';
    const id2 = 'fedcba9876543210fedcba9876543210';
    const r = parseLogText(
      [
        'Nov 21 22:54:13 host kernel: Linux version 6.1.0-56-amd64 (x@y) (gcc) #1 SMP',
        'Nov 21 22:54:13 host kernel: Command line: root=/dev/vda',
        'Nov 21 22:58:01 host kernel: watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [w:7]',
        `-- Boot ${id1} --`,
        'Nov 21 23:04:13 host kernel: Linux version 6.1.0-57-amd64 (x@y) (gcc) #1 SMP',
        'Nov 21 23:04:14 host kernel: hello',
        `-- Boot ${id2} --`,
        'Nov 22 08:00:00 host kernel: Linux version 6.1.0-57-amd64 (x@y) (gcc) #1 SMP',
      ].join('\n'),
      'journal.txt',
    );
    assert.deepEqual(
      r.boots!.map((b) => [b.boot!.firstLine, b.boot!.lastLine, b.boot!.release, b.boot!.bootId ?? null, b.boot!.start]),
      [
        [1, 3, '6.1.0-56-amd64', null, 'banner'],
        [4, 6, '6.1.0-57-amd64', id1, 'journal'],
        [7, 8, '6.1.0-57-amd64', id2, 'journal'],
      ],
    );
    assert.equal(r.boots![1].boot!.bootTime, 'Nov 21 23:04:13');
  });
});

describe('fingerprints: the same boot or not', () => {
  const print = async (p: string) => (await parseLogFile(fx(p), p, { prints: true })).print!;

  it('a console and the vmcore-dmesg.txt of the same crash are the same boot', async () => {
    const c = comparePrints(await print('deb12-6.1.0-56-kdump/softlockup-ipi/console.log'), await print('deb12-6.1.0-56-kdump/softlockup-ipi/vmcore-dmesg.txt'));
    assert.equal(c.verdict, 'same');
    assert.ok(c.shared >= 100);
  });

  it('two boots of the same kernel are different, and so are two kernels', async () => {
    const a = await print('deb12-6.1.0-56/softlockup-ipi/console.log');
    assert.equal(comparePrints(a, await print('deb12-6.1.0-56-kdump/softlockup-ipi/console.log')).verdict, 'different');
    assert.equal(comparePrints(a, await print('deb12-6.1.0-56/healthy/console.log')).verdict, 'different');
    assert.equal(comparePrints(a, await print('deb12-6.12.117/hung-uffd/console.log')).verdict, 'different');
  });

  it('no fingerprint unless asked for (it costs time)', async () => {
    assert.equal((await parseLogFile(fx('deb12-6.1.0-56/healthy/console.log'))).print, undefined);
  });
});
