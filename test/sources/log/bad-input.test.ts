/**
 * Bad input: every entry point gives a clear InputError naming the file, or a result — never a crash or a hang.
 * The 2 GB noise case is tested on the streaming path with a generated stream (tens of MB), not a 2 GB file: the
 * parser holds no lines (LineSplitter keeps at most one partial line of MAX_LINE bytes; the machine keeps only open
 * reports), so heap use does not grow with the input; bench/log-scan.ts runs the 1 GB case and reports peak RSS.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { InputError } from '../../../src/model/errors.ts';
import { parseLogFile, parseLogStream, parseLogText, scanLogFile } from '../../../src/sources/log/index.ts';
import { MAX_LINE } from '../../../src/sources/log/lines.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'coroner-log-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string | Buffer) => {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
};

async function inputError(p: Promise<unknown>, re: RegExp, label: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.equal(e.file, label);
    assert.ok(e.describe().startsWith(label));
    assert.match(e.message, re);
    return true;
  });
}

test('missing file, directory: InputError naming the file, all entry points', async () => {
  const missing = path.join(dir, 'nope.log');
  await inputError(parseLogFile(missing), /no such file/, missing);
  await inputError(scanLogFile(missing), /no such file/, missing);
  await inputError(parseLogFile(dir, 'somedir'), /directory/, 'somedir');
  await inputError(scanLogFile(dir, 'somedir'), /directory/, 'somedir');
});

test('unreadable file: InputError', { skip: process.getuid?.() === 0 ? 'running as root: chmod 000 does not stop root (the directory case covers EISDIR)' : false }, async () => {
  const p = file('secret.log', '[    1.0] hello\n');
  chmodSync(p, 0);
  await inputError(parseLogFile(p), /permission denied/, p);
});

test('binary file: InputError, also for text and streams', async () => {
  const bin = Buffer.alloc(70000);
  for (let i = 0; i < bin.length; i++) bin[i] = (i * 7919) & 0xff;
  const p = file('vmcore', bin);
  await inputError(parseLogFile(p), /binary data/, p);
  await inputError(scanLogFile(p), /binary data/, p);
  assert.throws(() => parseLogText(bin, 'x'), InputError);
  await assert.rejects(parseLogStream(Readable.from([bin]), '-'), InputError);
});

test('empty file and a file of noise: a result with no events', async () => {
  for (const [name, content] of [['empty.log', ''], ['noise.log', 'hello\nworld\n\n\u0007beep\nFORGE: x\n']] as const) {
    const p = file(name, content);
    for (const r of [await parseLogFile(p), await scanLogFile(p)]) {
      assert.deepEqual(r.events, []);
      assert.equal(r.lines, content === '' ? 0 : 5);
    }
  }
});

test('a 1 MB line is cut, noted, and the report after it still parses', async () => {
  const long = 'x'.repeat(1024 * 1024);
  const text = `[    1.000000] ${long}BUG: soft lockup - CPU#9 stuck for 1s! [hidden:1]\n[    2.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [a:2]\n[    2.000001] CPU: 1 PID: 2 Comm: a Not tainted 6.1.0 #1\n`;
  const p = file('long.log', text);
  const r = await parseLogFile(p);
  const f = await scanLogFile(p);
  assert.equal(r.lines, 3);
  assert.equal(r.events.length, 1, 'the header past the cut is not seen');
  assert.equal(r.events[0].cpu, 1);
  assert.match(r.notes.join('\n'), new RegExp(`line 1: 1 line\\(s\\) longer than ${MAX_LINE} bytes`));
  assert.deepEqual(f.events, r.events);
  assert.equal(f.lines, 3);
  const s = await parseLogStream(Readable.from([Buffer.from(text)]), '-');
  assert.deepEqual(s.events.map((e) => e.cpu), [1]);
});

test('truncated trace at EOF: the event ends there, noted, incomplete', () => {
  const r = parseLogText('[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n[ 1.0] RIP: 0010:foo+0x1/0x2\n[ 1.0] Call Trace:\n[ 1.0]  <TASK>\n[ 1.0]  bar+0x3/0x4\n', 't');
  assert.equal(r.events.length, 1);
  assert.equal(r.events[0].endLine, 5);
  assert.deepEqual(r.events[0].trace.map((f) => f.function), ['foo', 'bar']);
  assert.equal(r.incomplete, true);
  assert.match(r.notes.join('\n'), /line 5: log ends inside a null-deref report/);
});

test('CRLF and non-UTF-8 bytes: decoded, noted', () => {
  const head = Buffer.from('[    1.000000] Linux version 6.1.0 (x)\r\n[    2.000000] caf');
  const bad = Buffer.from([0xe9, 0xff]);
  const tail = Buffer.from(' noise\r\n[    3.000000] watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [t:1]\r\n');
  const r = parseLogText(Buffer.concat([head, bad, tail]), 'crlf');
  assert.equal(r.system.release, '6.1.0');
  assert.equal(r.events[0].title, 'watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [t:1]');
  assert.match(r.notes.join('\n'), /non-UTF-8 bytes replaced: 1 line\(s\) decoded as Latin-1, first at line 2/);
});

test('streaming path: 40 MB of generated noise with reports in constant memory', async () => {
  // Timestamps from 1 s: the clock back under one second would be a reboot (a new boot each round).
  const noise = Buffer.from(
    Array.from({ length: 2000 }, (_, i) => `[ ${(1 + i / 10).toFixed(6)}] usb 1-${i % 7}: new high-speed USB device number ${i} using xhci_hcd\n`).join(''),
  );
  const report = Buffer.from('[ 9.000000] watchdog: BUG: soft lockup - CPU#3 stuck for 22s! [w:7]\n[ 9.000001] CPU: 3 PID: 7 Comm: w Not tainted 6.1.0 #1\n');
  const rounds = Math.ceil((40 * 1024 * 1024) / noise.length);
  let i = 0;
  const stream = new Readable({
    read() {
      if (i >= rounds) return void this.push(null);
      this.push(i % 50 === 0 ? Buffer.concat([noise, report]) : noise);
      i++;
    },
  });
  global.gc?.();
  const before = process.memoryUsage().heapUsed;
  let peak = before;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
  const r = await parseLogStream(stream, '-');
  clearInterval(timer);
  assert.equal(r.events.length, Math.ceil(rounds / 50));
  assert.ok(r.lines > 500_000);
  assert.ok(peak - before < 64 * 1024 * 1024, `heap grew by ${((peak - before) / 1e6).toFixed(1)} MB`);
});

test('a wrapped Modules line followed by prose, and a long CPU line, parse at once (no regex backtracking blow-up)', { timeout: 20000 }, async () => {
  const { parseLogText } = await import('../../../src/sources/log/index.ts');
  const prose = 'Possible solution would be to not allow to setup crtscts on such port and many more words '.repeat(3);
  const text = [
    '[   95.974379] watchdog: Watchdog detected hard LOCKUP on cpu 3',
    '[   95.974424] Modules linked in: 88x2cs(O) rtc_meson_vrtc',
    prose,
    `[   96.000000] CPU: 3 PID: 205 Comm: bash Tainted: ${'G '.repeat(3000)}`,
  ].join('\n');
  const r = parseLogText(text, 'prose.log');
  assert.equal(r.events[0].kind, 'hard-lockup');
  assert.equal(r.events[0].cpu, 3);
});
