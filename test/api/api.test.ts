/** The library API (`coroner`, `coroner/dump`) on a fixture vmcore, checked against crash's ps and foreach UN bt. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyze, openDump } from '../../src/api/index.ts';
import { fixturesRoot } from '../helpers.ts';

const dir = join(fixturesRoot, 'deb12-6.1.0-56/hung-uffd');
const vmcore = join(dir, 'vmcore.kdump');

test('openDump: D tasks, their backtraces and typed globals equal crash on the hung-uffd vmcore', { skip: !existsSync(vmcore) && 'fixture missing' }, () => {
  const dump = openDump(vmcore);
  try {
    const un = [...readFileSync(join(dir, 'crash.ps.txt'), 'utf8').matchAll(/^>?\s*(\d+)\s+\d+\s+\d+\s+([0-9a-f]+)\s+UN\s/gm)].map((m) => ({ pid: Number(m[1]), task: BigInt(`0x${m[2]}`) }));
    assert.ok(un.length > 0);
    const ours = [...dump.tasks()].filter((t) => t.state === 'UN');
    assert.deepEqual(ours.map((t) => ({ pid: t.pid, task: t.address })), un);
    // crash's `foreach UN bt`: the same functions, frame for frame
    const blocks = readFileSync(join(dir, 'crash.foreach-UN-bt.txt'), 'utf8').split(/\n(?=PID: )/);
    for (const t of ours) {
      const block = blocks.find((b) => b.startsWith(`PID: ${t.pid} `));
      assert.ok(block, `crash shows pid ${t.pid}`);
      const want = [...block.matchAll(/^\s*#\d+ \[[0-9a-f]+\] (\S+) at /gm)].map((m) => m[1]);
      assert.deepEqual(dump.stackOf(t).map((f) => f.function), want, `pid ${t.pid}`);
    }
    // symbols both ways, memory, and a typed global
    const init = dump.symbol('init_task');
    assert.ok(init);
    assert.deepEqual(dump.symbol(init.address + 8n), { name: 'init_task', address: init.address, offset: 8 });
    const jiffies = dump.symbol('jiffies_64')!;
    assert.equal(dump.read(jiffies.address, 8).readBigUInt64LE(0), BigInt.asUintN(64, dump.variable('jiffies_64').int()));
    assert.equal(dump.variable('init_task').member('comm').string(), 'swapper/0');
    assert.equal(dump.cpus().length, 4);
  } finally {
    dump.close();
  }
});

test('analyze: the same report as coroner analyze --format json', { skip: !existsSync(vmcore) && 'fixture missing' }, async () => {
  const report = await analyze([vmcore]);
  assert.equal(report.verdict.status, 'problem');
  assert.match(report.verdict.summary, /userfault/i);
});

test('examples/d-tasks.ts prints every D task with its wait site', { skip: !existsSync(vmcore) && 'fixture missing' }, async () => {
  const { execFileSync } = await import('node:child_process');
  const { repoRoot } = await import('../helpers.ts');
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(repoRoot, 'examples/d-tasks.ts'), vmcore], { cwd: repoRoot, encoding: 'utf8' });
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 5);
  assert.match(lines[0], /^\s*158\s+blk-dio\/0\s+handle_userfault\s+<- __schedule <- schedule <- handle_userfault/);
  assert.ok(lines.some((l) => /blk-flush\s+rwsem_down_write_slowpath/.test(l)));
});
