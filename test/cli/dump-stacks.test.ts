/** `coroner dump ps` and `coroner dump bt` end to end: crash's layout, JSON records, errors. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, vmcoreFixtures } from '../sources/dump/kernel/fixtures.ts';
import { parseCrashBt, collapse } from '../sources/dump/walk/oracle.ts';

const BIN = join(repoRoot, 'bin/coroner');
function coroner(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: repoRoot, encoding: 'latin1', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const fixtures = vmcoreFixtures();
const kdump = fixtures.find((f) => f.name === 'deb12-6.1.0-56-kdump/softlockup-ipi');
const uffd = fixtures.find((f) => f.name === 'deb12-6.12.117/hung-uffd');
const trim = (s: string) => s.split('\n').map((l) => l.trimEnd()).join('\n').trimEnd();

test('dump ps prints what crash ps prints (kdump capture)', { skip: !kdump && 'no fixture' }, () => {
  const r = coroner('dump', 'ps', kdump!.vmcore);
  assert.equal(r.code, 0, r.err);
  assert.equal(trim(r.out), trim(kdump!.oracle('crash.ps.txt')!));
});

test('dump ps --format json: records with pid, ppid, tgid, cpu, state, comm; cmdline where user pages exist', { skip: !uffd && 'no fixture' }, () => {
  const r = coroner('dump', 'ps', uffd!.vmcore, '--format', 'json', '--cmdline');
  assert.equal(r.code, 0, r.err);
  const recs = JSON.parse(r.out) as Array<Record<string, unknown>>;
  assert.equal(recs.length, 92);
  const dio = recs.find((x) => x.comm === 'blk-dio/0')!;
  assert.deepEqual(
    { pid: dio.pid, ppid: dio.ppid, tgid: dio.tgid, cpu: dio.cpu, state: dio.state, st: dio.st, comm: dio.comm, kthread: dio.kthread },
    { pid: 205, ppid: 1, tgid: 201, cpu: 1, state: 'D', st: 'UN', comm: 'blk-dio/0', kthread: false },
  );
  assert.match(String(dio.cmdline), /uffd_hang/);
  assert.equal(typeof dio.sinceLastRun, 'number');
  assert.equal(recs.filter((x) => x.current).length, 4);
});

test('dump bt -a --format json: one record per CPU, frames as crash bt -a', { skip: !kdump && 'no fixture' }, () => {
  const r = coroner('dump', 'bt', kdump!.vmcore, '-a', '--format', 'json');
  assert.equal(r.code, 0, r.err);
  const recs = JSON.parse(r.out) as Array<{ cpu: number; pid: number; comm: string; frames: Array<{ function: string; module?: string; stack: string; reliable: boolean; offset?: number; regs?: Record<string, string> }> }>;
  const oracle = parseCrashBt(kdump!.oracle('crash.bt-a.txt')!);
  assert.deepEqual(recs.map((x) => x.cpu), [0, 1, 2, 3]);
  for (const o of oracle) {
    const rec = recs.find((x) => x.cpu === o.cpu)!;
    assert.equal(rec.pid, o.pid);
    assert.equal(rec.comm, o.comm);
    assert.deepEqual(collapse(rec.frames.map((f) => f.function)), o.functions);
  }
  const c1 = recs.find((x) => x.cpu === 1)!;
  assert.deepEqual(c1.frames.slice(0, 5).map((f) => f.stack), ['nmi', 'nmi', 'nmi', 'nmi', 'task']);
  assert.equal(c1.frames[4].regs?.rip, 'ffffffffb785a170');
  assert.equal(c1.frames.find((f) => f.function === 'forge_ring_worker')?.module, 'forge_wedge');
});

test('dump bt text: crash layout with stack boundaries and exception frames', { skip: !kdump && 'no fixture' }, () => {
  const r = coroner('dump', 'bt', kdump!.vmcore);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^PID: 139      TASK: ff307b3a5f2d4200  CPU: 0    COMMAND: "mapper"\n #0 \[ff4facef80003d68\] machine_kexec at ffffffffb6e7754f\n/);
  assert.match(r.out, /--- <IRQ stack> ---\n/);
  assert.match(r.out, /--- <NMI exception stack> ---\n/);
  assert.match(r.out, /\[exception RIP: smp_call_function_many_cond\+241\]\n    RIP: ffffffffb6f70441  RSP: ff4facef8037baa0  RFLAGS: 00000202\n/);
  assert.match(r.out, / forge_ring_worker at ffffffffc055d0a4 \[forge_wedge\]\n/);
});

test('dump bt PID and --state D (foreach UN bt)', { skip: !uffd && 'no fixture' }, () => {
  const r = coroner('dump', 'bt', uffd!.vmcore, '--state', 'D', '--format', 'json');
  assert.equal(r.code, 0, r.err);
  const recs = JSON.parse(r.out) as Array<{ pid: number; frames: Array<{ function: string }> }>;
  const oracle = parseCrashBt(uffd!.oracle('crash.foreach-UN-bt.txt')!);
  assert.deepEqual(recs.map((x) => x.pid), oracle.map((o) => o.pid));
  for (const o of oracle) assert.deepEqual(collapse(recs.find((x) => x.pid === o.pid)!.frames.map((f) => f.function)), o.functions);
  const one = coroner('dump', 'bt', uffd!.vmcore, '208');
  assert.equal(one.code, 0, one.err);
  assert.match(one.out, /^PID: 208 .*COMMAND: "blk-flush"\n #0 \[[0-9a-f]+\] __schedule at /);
  assert.match(one.out, /ext4_buffered_write_iter at [0-9a-f]+ \[ext4\]/);
  const bad = coroner('dump', 'bt', uffd!.vmcore, '99999');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /^coroner: .*no task with PID 99999/);
});
