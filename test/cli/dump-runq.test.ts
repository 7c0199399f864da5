/**
 * `dump runq` (issue 14): each CPU's current task and queued tasks, checked against crash's `ps` of the same dump on
 * every fixture: the CURRENT of each CPU is the task ps marks `>` on it, every queued task is one ps shows runnable
 * (RU) on that CPU and not current, and every runnable task that is neither current nor a per-CPU stopper or idle task
 * is queued on its CPU. (Its layout is crash 8.0.6's `runq`, byte for byte on the x86_64, arm64, PREEMPT_RT and 64-CPU
 * dumps it was compared with; those crash outputs are not fixtures.)
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { allVmcoreFixtures } from '../sources/dump/kernel/fixtures.ts';
import { runCli } from '../helpers.ts';

const fixtures = allVmcoreFixtures().filter((f) => existsSync(join(f.dir, 'crash.ps.txt')));

describe('dump runq', { skip: fixtures.length ? false : 'no fixtures' }, () => {
  for (const f of fixtures) {
    it(`${f.name}: current and queued tasks agree with crash's ps`, () => {
      const r = runCli(['dump', 'runq', f.vmcore]);
      assert.equal(r.code, 0, r.stderr);
      const ps = readFileSync(join(f.dir, 'crash.ps.txt'), 'latin1')
        .split('\n')
        .map((l) => /^(>?)\s*(\d+)\s+\d+\s+(\d+)\s+([0-9a-f]+)\s+(\S\S)\s+\S+\s+\d+\s+\d+\s+(.*)$/.exec(l))
        .filter((m): m is RegExpExecArray => !!m)
        .map((m) => ({ current: m[1] === '>', pid: Number(m[2]), cpu: Number(m[3]), task: m[4], st: m[5], comm: m[6].replace(/^\[|\]$/g, '') }));
      const byTask = new Map(ps.map((p) => [p.task, p]));
      const queued = new Set<string>();
      let cpu = -1;
      for (const line of r.stdout.split('\n')) {
        const head = /^CPU (\d+) RUNQUEUE: [0-9a-f]{16}$/.exec(line);
        if (head) cpu = Number(head[1]);
        const cur = /^ {2}CURRENT: PID: (\d+)\s+TASK: ([0-9a-f]{16})/.exec(line);
        if (cur) {
          const p = byTask.get(cur[2]);
          assert.ok(p, `current task ${cur[2]} of CPU ${cpu} is in ps`);
          assert.equal(p.cpu, cpu);
          assert.ok(p.current || p.pid === 0, `ps marks ${p.comm} current on CPU ${cpu}`);
        }
        const q = /^\s+\[\s*\d+\] PID: (\d+)\s+TASK: ([0-9a-f]{16})/.exec(line);
        if (q) {
          const p = byTask.get(q[2]);
          assert.ok(p, `queued task ${q[2]} is in ps`);
          assert.equal(p.st, 'RU', `${p.comm} queued but ${p.st}`);
          assert.equal(p.cpu, cpu, `${p.comm} queued on CPU ${cpu}, ps says ${p.cpu}`);
          assert.ok(!p.current);
          queued.add(q[2]);
        }
      }
      for (const p of ps) {
        if (p.st !== 'RU' || p.current || p.pid === 0 || /^migration\/\d+$/.test(p.comm)) continue;
        assert.ok(queued.has(p.task), `${p.comm}:${p.pid} is runnable on CPU ${p.cpu} but not queued`);
      }
    });
  }
  it('runq -c picks one CPU, an offline CPU is a clear error', () => {
    const f = fixtures[0];
    const one = runCli(['dump', 'runq', f.vmcore, '-c', '0']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal((one.stdout.match(/^CPU \d+ RUNQUEUE/gm) ?? []).length, 1);
    const bad = runCli(['dump', 'runq', f.vmcore, '-c', '999']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not an online CPU/);
  });
});
