/**
 * `coroner analyze DIR` on every fixture directory (log + vmcore): the verdict scenario.md describes,
 * with objects whose addresses and symbols equal the crash oracle outputs beside the dumps.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Report } from '../../src/report/schema.ts';
import { fixturesRoot, runCli } from '../helpers.ts';

const fx = (p: string) => join(fixturesRoot, p);
const have = existsSync(fixturesRoot);

function analyze(dir: string): { code: number | null; report: Report } {
  const r = runCli(['analyze', '--format', 'json', fx(dir)]);
  assert.equal(r.stderr.replace(/npm warn.*\n/g, ''), '', `stderr: ${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) as Report };
}

const byId = (r: Report, id: string) => r.findings.find((f) => f.id === id)!;
const roots = (r: Report) => r.verdict.roots.map((id) => byId(r, id));
const oracle = (dir: string, file: string) => readFileSync(fx(join(dir, file)), 'utf8');
const hexIn = (text: string, re: RegExp) => {
  const m = re.exec(text);
  assert.ok(m, `oracle pattern ${re} not found`);
  return m[1].replace(/^0x/, '').toLowerCase();
};

describe('verdicts from vmcores', { skip: !have && 'no fixtures' }, () => {
  for (const dir of ['deb12-6.1.0-56/healthy', 'deb12-6.12.117/healthy']) {
    it(`${dir}: nothing wrong found, exit 0`, () => {
      const { code, report } = analyze(dir);
      assert.equal(code, 0);
      assert.equal(report.verdict.status, 'healthy');
      assert.equal(report.verdict.roots.length, 0);
    });
  }

  for (const dir of ['deb12-6.1.0-56/hardlockup-seqcount', 'deb12-6.1.0-56-kdump/hardlockup-seqcount']) {
    it(`${dir}: every CPU spins on jiffies_seq, odd with jiffies_lock unlocked`, () => {
      const { code, report } = analyze(dir);
      assert.equal(code, 1);
      const top = roots(report)[0];
      assert.equal(top.kind, 'seqcount-stuck-odd');
      assert.deepEqual(top.extra.cpus, [0, 1, 2, 3], 'the kdump panic CPU is read below its NMI frame');
      assert.equal(top.extra.symbol, 'jiffies_seq');
      assert.equal(top.extra.function, 'tick_nohz_next_event');
      const sequence = Number(/sequence = (\d+)/.exec(oracle(dir, 'crash.p-jiffies_seq.txt'))![1]);
      assert.equal(top.extra.sequence, sequence);
      assert.equal(top.extra.writerLockValue, 0);
      const loop = top.extra.loop as string[];
      assert.ok(loop.some((l) => /pause/.test(l)) && loop.some((l) => /<jiffies_seq>/.test(l)) && loop.some((l) => /test\s+\$0x1,%al/.test(l)), loop.join('\n'));
      // Address: the module printed it from /proc/kallsyms; crash's dis annotates the same.
      const seq = report.objects.find((o) => o.kind === 'seqcount')!;
      assert.equal(seq.symbol, 'jiffies_seq');
      assert.equal(seq.address, hexIn(oracle(dir, 'console.log'), /jiffies_seq at (?:0x)?([0-9a-f]{16})/));
      const lock = report.objects.find((o) => o.symbol === 'jiffies_lock')!;
      assert.equal(lock.observed.locked, false);
      assert.ok(top.knownIssue && top.knownIssue.differences?.length, 'partial match with the SKL/KBL erratum');
      if (dir.includes('kdump')) {
        const panic = report.findings.find((f) => f.kind === 'panic')!;
        assert.equal(panic.role, 'symptom');
        assert.equal(panic.extra.cause, 'nmi');
      }
      assert.ok(!report.findings.some((f) => f.role === 'root' && f.kind !== 'seqcount-stuck-odd'), roots(report).map((f) => f.kind).join());
    });
  }

  for (const dir of ['deb12-6.1.0-56/softlockup-ipi', 'deb12-6.1.0-56-kdump/softlockup-ipi']) {
    it(`${dir}: CPU 1 self-deadlocked on forge_ring0, CPU 0 waits for its IPI`, () => {
      const { code, report } = analyze(dir);
      assert.equal(code, 1);
      const top = roots(report)[0];
      assert.equal(top.kind, 'spinlock-self-deadlock');
      assert.equal(top.extra.cpu, 1);
      assert.equal(roots(report).length, 1, roots(report).map((f) => f.kind).join());
      const want = /^([0-9a-f]+) \(\w\) (\S+) \[(\S+)\]/m.exec(oracle(dir, 'crash.forge_ring0.txt'))!;
      const lock = report.objects.find((o) => o.kind === 'spinlock')!;
      assert.equal(lock.address, want[1]);
      assert.equal(lock.symbol, want[2]);
      assert.equal(lock.observed.module, want[3]);
      assert.equal(lock.observed.value, 1);
      assert.equal(top.extra.lockAddress, want[1]);
      assert.match(String(top.extra.takenIn), /^forge_ring_worker\+0x[0-9a-f]+ \[forge_wedge\]$/);
      const wait = report.findings.find((f) => f.kind === 'ipi-wait')!;
      assert.equal(wait.role, 'symptom');
      assert.equal(wait.extra.cpu, 0);
      assert.deepEqual(wait.extra.targets, [1]);
      assert.ok(wait.causedBy.includes(top.id));
      const csd = report.objects.find((o) => o.kind === 'csd')!;
      assert.equal(csd.observed.to, 1);
      assert.equal(csd.observed.queued, true, "on CPU 1's call_single_queue, as crash.p-call_single_queue.txt shows it non-empty");
      assert.match(oracle(dir, 'crash.p-call_single_queue.txt'), /per_cpu\(call_single_queue, 1\) = \$2 = \{\s+first = 0xff/);
      assert.equal(report.findings.find((f) => f.kind === 'soft-lockup')!.role, 'symptom');
      if (dir.includes('kdump')) assert.equal(report.findings.find((f) => f.kind === 'panic')!.role, 'symptom');
      const chain = (from: string) => {
        const out = [from];
        for (let i = 0; i < 8; i++) {
          const e = report.graph.edges.find((x) => x.from === out[out.length - 1]);
          if (!e || out.includes(e.to)) break;
          out.push(e.to);
        }
        return out;
      };
      assert.deepEqual(chain('cpu:0').slice(0, 4), ['cpu:0', 'csd:0', 'cpu:1', `lock:${want[1]}`]);
    });
  }

  it('deb12-6.1.0-56/oops-irq-deadlock: the NULL dereference in IRQ context and the lock its die notifier re-takes', () => {
    const dir = 'deb12-6.1.0-56/oops-irq-deadlock';
    const { code, report } = analyze(dir);
    assert.equal(code, 1);
    // One root: the oops in IRQ context; the self-deadlock in its oops path and the NULL dereference follow from it.
    assert.deepEqual(roots(report).map((f) => f.kind), ['oops-in-irq']);
    assert.ok(!report.findings.some((f) => f.kind === 'seqcount-stuck-odd'), 'a csd_lock_wait loop is not a seqcount');
    const self = report.findings.find((f) => f.kind === 'spinlock-self-deadlock')!;
    assert.deepEqual(self.causedBy, report.verdict.roots);
    assert.ok(report.findings.some((f) => f.kind === 'null-deref' && f.role === 'symptom'));
    const nic = hexIn(oracle(dir, 'console.log'), /forge_irqoops: starting poll timer on CPU1, nic ([0-9a-f]{16})/);
    assert.equal(self.extra.lockAddress, nic);
    assert.equal(self.extra.symbol, 'forge_nic0');
    assert.match(String(self.extra.takenIn), /^forge_nic_poll\+0x[0-9a-f]+ \[forge_irqoops\]$/);
    const lock = report.objects.find((o) => o.id === `lock:${nic}`)!;
    assert.equal(lock.symbol, 'forge_nic0');
    assert.equal(byId(report, report.verdict.roots[0]).knownIssue?.id, 'irq-utsname-exiting-task');
    assert.deepEqual(report.findings.find((f) => f.kind === 'ipi-wait')!.extra.targets, [1]);
    assert.equal(report.findings.filter((f) => f.kind === 'panic').length, 0);
  });

  for (const dir of ['deb12-6.1.0-56/hung-uffd', 'deb12-6.12.117/hung-uffd']) {
    it(`${dir}: faults pending on a uffd nobody reads; the i_rwsem chain leads to it`, () => {
      const { code, report } = analyze(dir);
      assert.equal(code, 1);
      const rs = roots(report);
      assert.deepEqual(rs.map((f) => f.kind), ['uffd-no-reader']);
      const top = rs[0];
      const waitq = oracle(dir, 'crash.waitq-uffd.txt');
      const ctxAddr = hexIn(waitq, /== waitq fault_pending_wqh \(([0-9a-f]+)\)/);
      const uffd = report.objects.find((o) => o.kind === 'uffd-ctx')!;
      assert.equal(uffd.address, ctxAddr, 'fault_pending_wqh is the first member of userfaultfd_ctx');
      const waiters = waitq.split('== waitq fault_wqh')[0].match(/PID: (\d+)/g)!.map((m) => Number(m.slice(5)));
      assert.equal(uffd.observed.pending, waiters.length);
      assert.equal(uffd.observed.refcount, Number(/counter = (\d+)\s+\}\s+\},\s+flags/.exec(oracle(dir, 'crash.uffd-ctx.txt'))![1]));
      assert.equal(uffd.observed.released, false);
      const dio = waiters.filter((p) => report.tasks.find((t) => t.pid === p)?.state === 'D');
      for (const p of dio) assert.ok(top.subjects.some((s) => s.pid === p), `waiter ${p} named`);
      const vmm = Number(/^PID: (\d+)/m.exec(oracle(dir, "crash.files-vmm.txt"))![1]);
      assert.deepEqual(top.extra.holders, [vmm]);
      assert.equal(top.knownIssue?.id, 'uffd-server-restarted');
      // The i_rwsem: reader-owned by the DIO threads; blk-flush and blk-dio/late wait on it.
      const rwsemAddr = hexIn(oracle(dir, 'crash.i_rwsem.txt'), /\[([0-9a-f]+)\] struct rw_semaphore i_rwsem/);
      const chainF = report.findings.find((f) => f.kind === 'lock-owner-chain')!;
      assert.equal(chainF.role, 'symptom');
      assert.ok(chainF.causedBy.includes(top.id));
      assert.equal(chainF.extra.lock, rwsemAddr);
      assert.deepEqual([...(chainF.extra.holders as number[])].sort(), [...dio].sort());
      const rw = report.objects.find((o) => o.kind === 'rwsem')!;
      assert.equal(rw.address, rwsemAddr);
      assert.equal(rw.observed.count, 770);
      assert.equal(rw.observed.readerOwned, true);
      assert.equal(rw.observed.readers, 3);
      const comm = (pid: string) => report.tasks.find((t) => `task:${t.pid}` === pid)?.comm;
      for (const who of ['blk-flush', 'blk-dio/late']) {
        const t = report.tasks.find((x) => x.comm === who)!;
        const path = [`task:${t.pid}`];
        for (let i = 0; i < 6; i++) {
          const e = report.graph.edges.find((x) => x.from === path[path.length - 1]);
          if (!e) break;
          path.push(e.to);
        }
        assert.equal(path[1], `lock:${rwsemAddr}`, path.join(' -> '));
        assert.match(comm(path[2]) ?? '', /^blk-dio\/\d$/);
        assert.equal(path[3], `uffd:${ctxAddr}`, path.join(' -> '));
      }
      const clusters = report.findings.filter((f) => f.kind === 'hung-task-cluster');
      assert.ok(clusters.every((f) => f.role === 'symptom' && f.causedBy.includes(top.id)));
      assert.ok(!report.findings.some((f) => ['soft-lockup', 'hard-lockup', 'rcu-stall', 'seqcount-stuck-odd', 'spinlock-self-deadlock'].includes(f.kind)));
    });
  }
});
