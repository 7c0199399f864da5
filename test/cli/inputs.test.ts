/**
 * Inputs as users give them, through bin/coroner: pipes, process substitution, /dev/stdin, `-`, named FIFOs (with and
 * without a writer), compressed logs (gzip, zstd, xz, bzip2; also in a crash directory), dumps where a dump cannot be
 * read (stdin, compressed), input that is no kernel log, and damaged dumps (truncated, header zeroed). Damaged copies
 * are made under the temporary directory, never in the repo.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, symlinkSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { Report } from '../../src/report/schema.ts';
import { notKernelLogReason, parseLogFile, scanLogFile } from '../../src/sources/log/index.ts';
import { allFixtureDirs, corpusRoot, fixturesRoot, repoRoot } from '../helpers.ts';

const fx = (p: string) => join(fixturesRoot, p);
const LOG = fx('deb12-6.1.0-56/softlockup-ipi/console.log');
const KDUMP = fx('deb12-6.1.0-56/softlockup-ipi/vmcore.kdump');
const tmp = mkdtempSync(join(tmpdir(), 'coroner-inputs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const CORONER = `${q(process.execPath)} ${q(join(repoRoot, 'bin/coroner'))}`;

/** Runs a bash command line in which `coroner` is the CLI; bounded in time (a hang fails the test, it does not stall it). */
function sh(cmd: string, env: Record<string, string> = {}) {
  const r = spawnSync('bash', ['-c', `coroner() { ${CORONER} "$@"; }; ${cmd}`], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
    timeout: 120_000,
    env: { ...process.env, NO_COLOR: '1', ...env },
  });
  assert.equal(r.error, undefined, `${cmd}: ${r.error}`);
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** exit 2, one stderr line `coroner: FILE: ...` matching `re`, nothing on stdout, no stack trace. */
function inputError(r: ReturnType<typeof sh>, file: string | RegExp, re: RegExp): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.err}; stdout: ${r.out.slice(0, 300)}`);
  const lines = r.err.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.err);
  if (typeof file === 'string') assert.ok(lines[0].startsWith(`coroner: ${file}: `), lines[0]);
  else assert.match(lines[0], file);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.err, /\n\s+at |internal error/);
  assert.equal(r.out, '');
}

function report(r: ReturnType<typeof sh>): Report {
  assert.equal(r.code, 1, r.err);
  return JSON.parse(r.out) as Report;
}

const kinds = (rep: Report) => rep.events.map((e) => e.kind);
let plain: Report;

before(() => {
  plain = report(sh(`coroner analyze -f json ${q(LOG)}`));
});

describe('pipes, FIFOs and stdin', () => {
  it('process substitution, /dev/stdin and - read the log as a stream', () => {
    for (const cmd of [`coroner analyze -f json <(cat ${q(LOG)})`, `cat ${q(LOG)} | coroner analyze -f json /dev/stdin`, `cat ${q(LOG)} | coroner analyze -f json -`]) {
      const rep = report(sh(cmd));
      assert.deepEqual(kinds(rep), kinds(plain), cmd);
      assert.equal(rep.verdict.status, plain.verdict.status);
    }
  });

  it('triage -', () => {
    const r = sh(`cat ${q(LOG)} | coroner triage -f jsonl -`);
    assert.equal(r.code, 1, r.err);
    const rec = JSON.parse(r.out.trim());
    assert.equal(rec.file, '-');
    assert.match(rec.signature, /^irqs-off-spin:forge_ring_record_error/);
    assert.equal(rec.error, null);
  });

  it('a named FIFO with a writer is read to its end', () => {
    const fifo = join(tmp, 'console.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    const rep = report(sh(`(sleep 0.5; cat ${q(LOG)} > ${q(fifo)}) & coroner analyze -f json ${q(fifo)}; r=$?; wait; exit $r`));
    assert.deepEqual(kinds(rep), kinds(plain));
  });

  it('a named FIFO nobody writes to: exit 2 after a bounded wait, one line', () => {
    const fifo = join(tmp, 'lonely.fifo');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
    inputError(sh(`coroner analyze ${q(fifo)}`, { CORONER_FIFO_WAIT: '1' }), fifo, /nobody writes to/);
  });

  it('a vmcore on stdin or in a pipe: a dump needs a file', () => {
    inputError(sh(`cat ${q(KDUMP)} | coroner analyze -`), '-', /random offsets.*file/);
    inputError(sh(`coroner analyze <(cat ${q(KDUMP)})`), /^coroner: \/dev\/fd\/\d+: /, /in a pipe.*random offsets/);
    inputError(sh(`cat ${q(KDUMP)} | coroner dump log /dev/stdin`), '/dev/stdin', /pipe or FIFO.*random offsets/);
  });
});

describe('compressed logs', () => {
  const text = readFileSync(LOG);
  const made: Record<string, string | undefined> = {};
  before(async () => {
    made.gz = join(tmp, 'console.log.gz');
    writeFileSync(made.gz, gzipSync(text));
    const z = (await import('@bokuweb/zstd-wasm')) as unknown as { init(): Promise<void>; compress(b: Uint8Array, level: number): Uint8Array };
    await z.init();
    made.zst = join(tmp, 'console.log.zst');
    writeFileSync(made.zst, z.compress(text, 3));
    for (const [ext, tool] of [['xz', 'xz'], ['bz2', 'bzip2']] as const) {
      const r = spawnSync(tool, ['-c'], { input: text, maxBuffer: 64 << 20 });
      if (r.status === 0) {
        made[ext] = join(tmp, `console.log.${ext}`);
        writeFileSync(made[ext]!, r.stdout);
      }
    }
  });

  for (const ext of ['gz', 'zst', 'xz', 'bz2']) {
    it(`.${ext}: decompressed on the way, same events as the plain log`, (t) => {
      const f = made[ext];
      if (!f) return t.skip(`no ${ext} compressor here`);
      const rep = report(sh(`coroner analyze -f json ${q(f)}`));
      assert.deepEqual(kinds(rep), kinds(plain));
      assert.equal(rep.sources[0].format, `${plain.sources[0].format}, ${{ gz: 'gzip', zst: 'zstd', xz: 'xz', bz2: 'bzip2' }[ext]}-compressed`);
    });
  }

  it('xz without the xz command: exit 2, one line saying what to install', (t) => {
    if (!made.xz) return t.skip('no xz compressor here');
    inputError(sh(`PATH=/nonexistent coroner analyze ${q(made.xz)}`), made.xz, /xz-compressed: the `xz` command \(Debian: xz-utils\) is needed to decompress it and is not installed/);
  });

  it('compressed and piped: analyze - and triage -', () => {
    assert.deepEqual(kinds(report(sh(`cat ${q(made.zst!)} | coroner analyze -f json -`))), kinds(plain));
    const tr = sh(`cat ${q(made.gz!)} | coroner triage -f jsonl -`);
    assert.equal(tr.code, 1, tr.err);
    assert.match(JSON.parse(tr.out).signature, /^irqs-off-spin:/);
  });

  it("a /var/crash/<date> directory as Debian's kdump-tools leaves it (dmesg.<date>.gz, dump.<date>): both read, one boot", () => {
    const dir = join(tmp, '202611212344');
    mkdirSync(dir);
    const kdump = fx('deb12-6.1.0-56-kdump/softlockup-ipi');
    writeFileSync(join(dir, 'dmesg.202611212344.gz'), gzipSync(readFileSync(join(kdump, 'vmcore-dmesg.txt'))));
    symlinkSync(join(kdump, 'vmcore'), join(dir, 'dump.202611212344'));
    const rep = report(sh(`coroner analyze -f json ${q(dir)}`));
    assert.deepEqual(
      rep.sources.map((s) => [s.path.slice(dir.length + 1), s.kind, s.used]),
      [
        ['dmesg.202611212344.gz', 'log', true],
        ['dump.202611212344', 'dump', true],
        ['dump.202611212344#log', 'log', true],
      ],
    );
    assert.equal(rep.mixedEvidence, undefined);
    assert.ok(rep.events.some((e) => e.kind === 'soft-lockup' && e.source.endsWith('.gz')));
    assert.ok(rep.cpus.length >= 4);
  });

  it('a gzip stream cut short: what was read is analysed, the source is incomplete and says so', () => {
    const f = join(tmp, 'cut.log.gz');
    const whole = gzipSync(text);
    writeFileSync(f, whole.subarray(0, Math.floor(whole.length * 0.8)));
    const rep = report(sh(`coroner analyze -f json ${q(f)}`));
    assert.equal(rep.incomplete, true);
    assert.notEqual(rep.verdict.status, 'healthy');
    assert.ok(rep.sources[0].notes.some((n) => /gzip data is damaged or ends early/.test(n)), rep.sources[0].notes.join('\n'));
  });

  it('a compressed vmcore: decompress it first', () => {
    const f = join(tmp, 'vmcore.gz');
    writeFileSync(f, gzipSync(readFileSync(KDUMP).subarray(0, 1 << 20)));
    inputError(sh(`coroner analyze ${q(f)}`), f, /gzip-compressed vmcore: decompress it/);
  });
});

describe('input that is not a kernel log', () => {
  it('text, an empty file, /dev/null, binary data: exit 2, one line naming the file and why, never a verdict', () => {
    const text = join(tmp, 'notes.txt');
    writeFileSync(text, 'root:x:0:0:root:/root:/bin/bash\nshopping list: milk, eggs\n\nthe end\n');
    inputError(sh(`coroner analyze ${q(text)}`), text, /not a kernel log: no kernel log line in 4 line\(s\)/);
    inputError(sh(`coroner analyze /etc/passwd`), '/etc/passwd', /not a kernel log: no kernel log line in \d+ line\(s\)/);
    const empty = join(tmp, 'empty.log');
    writeFileSync(empty, '');
    inputError(sh(`coroner analyze ${q(empty)}`), empty, /empty file/);
    inputError(sh(`coroner analyze /dev/null`), '/dev/null', /empty/);
    inputError(sh(`coroner analyze - < /dev/null`), '-', /empty/);
    const bin = join(tmp, 'blob.bin');
    writeFileSync(bin, Buffer.from(Array.from({ length: 70000 }, (_, i) => (i % 3 === 0 ? 0 : (i * 7919) & 0xff))));
    inputError(sh(`coroner analyze ${q(bin)}`), bin, /not a kernel log \(binary data/);
    const tr = sh(`coroner triage -f jsonl ${q(text)} ${q(empty)}`);
    assert.equal(tr.code, 2);
    assert.deepEqual(tr.out.trim().split('\n').map((l) => JSON.parse(l).signature), ['unreadable', 'unreadable']);
  });

  it('every real log of the corpus and the fixtures is accepted as a kernel log (full and fast parsers)', async () => {
    const files = [
      ...readdirSync(corpusRoot, { withFileTypes: true })
        .filter((d) => d.isDirectory())
        .flatMap((d) => readdirSync(join(corpusRoot, d.name)).filter((f) => !f.endsWith('.right')).map((f) => join(corpusRoot, d.name, f))),
      ...allFixtureDirs().flatMap((d) => ['console.log', 'vmcore-dmesg.txt'].map((name) => join(d, name)).filter((f) => existsSync(f))),
    ];
    assert.ok(files.length > 60, `${files.length} files`);
    for (const f of files) {
      assert.equal(notKernelLogReason(await parseLogFile(f)), undefined, f);
      assert.equal(notKernelLogReason(await scanLogFile(f)), undefined, f);
    }
    // And end to end: triage reads every one of them without an error record.
    const r = sh(`coroner triage -f jsonl ${files.map(q).join(' ')}`);
    const recs = r.out.trim().split('\n').map((l) => JSON.parse(l) as { file: string; error: string | null });
    assert.deepEqual(recs.filter((x) => x.error), []);
    assert.equal(new Set(recs.map((x) => x.file)).size, files.length);
  });
});

describe('damaged dumps say what is damaged', () => {
  const whole = readFileSync(KDUMP);

  it('a truncated dump: "truncated: N of M bytes", M the size its header and bitmap describe; partial results, never healthy', () => {
    const f = join(tmp, 'vmcore-half');
    const n = Math.floor(whole.length / 2);
    writeFileSync(f, whole.subarray(0, n));
    const rep = report(sh(`coroner analyze -f json ${q(f)}`));
    const src = rep.sources.find((s) => s.kind === 'dump')!;
    assert.equal(src.notes[0], src.notes.find((x) => x.startsWith('truncated:')), src.notes.join('\n'));
    assert.match(src.notes[0], new RegExp(`^truncated: ${n} of ${whole.length} bytes`));
    assert.equal(rep.incomplete, true);
    assert.notEqual(rep.verdict.status, 'healthy');
    const info = sh(`coroner dump info ${q(f)}`);
    assert.match(info.out, new RegExp(`truncated: ${n} of ${whole.length} bytes`));
  });

  it('dump log on a dump whose log cannot be read: exit 2 with the reason, not an empty success', () => {
    const f = join(tmp, 'vmcore-head');
    writeFileSync(f, whole.subarray(0, 300_000));
    inputError(sh(`coroner dump log ${q(f)}`), f, /no kernel log could be read from the dump \(truncated: 300000 of at least \d+ bytes/);
  });

  it('4 KiB of zeros over the header: named a damaged vmcore, by analyze, triage and dump', () => {
    const f = join(tmp, 'vmcore-zeroed');
    writeFileSync(f, Buffer.concat([Buffer.alloc(4096), whole.subarray(4096, 8 << 20)]));
    inputError(sh(`coroner analyze ${q(f)}`), f, /looks like a damaged vmcore: no dump signature at offset 0 \(its first \d+ bytes are zeros\), but .*VMCOREINFO/);
    inputError(sh(`coroner dump info ${q(f)}`), f, /looks like a damaged vmcore/);
    const tr = sh(`coroner triage -f jsonl ${q(f)}`);
    assert.match(JSON.parse(tr.out).error, /looks like a damaged vmcore/);
  });

  it('a copy of a good dump is not called damaged', () => {
    const f = join(tmp, 'vmcore-copy');
    copyFileSync(KDUMP, f);
    const r = sh(`coroner dump info ${q(f)}`);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /truncated|damaged/);
  });
});
