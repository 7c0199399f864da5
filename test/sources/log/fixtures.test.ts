/**
 * The parser on every console.log / vmcore-dmesg.txt of ../shared/fixtures: the facts each scenario.md says a
 * correct analysis sees in the log. Assertions are per scenario kind (directory name = scenario), never per file
 * content dumps; every file is also checked fast path == full path.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LogEvent } from '../../../src/model/event.ts';
import { parseLogFile, scanLogFile, type ParsedLog } from '../../../src/sources/log/index.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.resolve(repoRoot, '../shared/fixtures');

/** The architecture a fixture kernel was built for, from its `config`. */
function archOf(kdir: string): string {
  const cfg = path.join(kdir, 'config');
  return existsSync(cfg) && /^CONFIG_ARM64=y$/m.test(readFileSync(cfg, 'latin1')) ? 'arm64' : 'x86_64';
}

function logs(): Array<{ kernel: string; scenario: string; file: string; kdump: boolean; vmcoreDmesg: boolean; arch: string }> {
  if (!existsSync(fixtures)) return [];
  const out = [];
  for (const kernel of readdirSync(fixtures).sort()) {
    const kdir = path.join(fixtures, kernel);
    if (!statSync(kdir).isDirectory()) continue;
    for (const scenario of readdirSync(kdir).sort()) {
      if (!statSync(path.join(kdir, scenario)).isDirectory()) continue;
      for (const name of ['console.log', 'vmcore-dmesg.txt']) {
        const file = path.join(kdir, scenario, name);
        if (existsSync(file)) out.push({ kernel, scenario, file, kdump: kernel.endsWith('-kdump'), vmcoreDmesg: name === 'vmcore-dmesg.txt', arch: archOf(kdir) });
      }
    }
  }
  return out;
}

const fnames = (e: LogEvent) => e.trace.map((f) => f.function);
/** `a <- b <- c` appear consecutively (reliable frames) in the trace. */
function hasChain(e: LogEvent, chain: string[]): boolean {
  const fs = e.trace.filter((f) => f.reliable).map((f) => f.function);
  for (let i = 0; i + chain.length <= fs.length; i++) if (chain.every((c, j) => fs[i + j] === c)) return true;
  return false;
}
const ofKind = (r: ParsedLog, k: LogEvent['kind']) => r.events.filter((e) => e.kind === k);

const all = logs();

test('fixtures are present', { skip: all.length === 0 ? 'no ../shared/fixtures beside the checkout' : false }, () => {
  assert.ok(all.length >= 9);
});

for (const fx of all) {
  const label = `${fx.kernel}/${fx.scenario}/${path.basename(fx.file)}`;
  test(`fixture ${label}`, async () => {
    const r = await parseLogFile(fx.file, label);
    // every log: the system facts of the first boot
    assert.match(r.system.release ?? '', /^6\.(1|12)\./);
    assert.equal(r.system.arch, fx.arch);
    assert.match(r.system.hardware ?? '', fx.arch === 'arm64' ? /dummy-virt|QEMU/ : /QEMU/);
    assert.equal(r.system.cpus, 4);
    assert.match(r.system.commandLine ?? '', fx.arch === 'arm64' ? /console=ttyAMA0/ : /console=ttyS0/);
    assert.ok((r.system.uptime ?? 0) > 0);
    assert.equal(r.format, fx.vmcoreDmesg ? 'vmcore-dmesg' : 'serial console');
    assert.equal(r.events.map((e) => e.id).join(','), r.events.map((_, i) => `e${i + 1}`).join(','));
    for (const e of r.events) {
      assert.ok(e.line <= e.endLine && e.endLine <= r.lines, `${e.id} span`);
      assert.equal(e.source, label);
    }
    // no harness line (FORGE:, tlbstorm:, uffd_hang[) ever opens an event
    assert.ok(r.events.every((e) => !/^(FORGE|tlbstorm|uffd_hang)/.test(e.title)));

    if (fx.arch === 'arm64') {
      arm64ScenarioFacts(fx.scenario, r);
      return;
    }
    switch (fx.scenario) {
      case 'healthy':
        assert.deepEqual(r.events, []);
        break;
      case 'softlockup-ipi': {
        const rcu = ofKind(r, 'rcu-stall');
        assert.ok(rcu.length >= 1, 'an RCU stall');
        assert.deepEqual(rcu[0].details.stalledCpus, [1]);
        assert.equal(rcu[0].details.rcuFlavor, 'rcu_preempt');
        const bt = ofKind(r, 'nmi-backtrace').find((e) => e.cpu === 1)!;
        assert.ok(bt, 'NMI backtrace for cpu 1');
        assert.ok(rcu[0].related?.includes(bt.id), 'the stall links its NMI backtrace');
        assert.equal(bt.task?.comm, 'forge_ring/1');
        assert.ok(typeof bt.details.nmiFromCpu === 'number');
        assert.deepEqual(bt.details.nmiTargets, [1]);
        assert.ok(hasChain(bt, ['_raw_spin_lock_irqsave', 'forge_ring_record_error.constprop.0', 'forge_ring_worker']));
        const rec = bt.trace.find((f) => f.function === 'forge_ring_record_error.constprop.0')!;
        assert.equal(rec.module, 'forge_wedge');
        assert.equal(rec.stack, 'task');
        assert.deepEqual(bt.culprit, { function: 'forge_ring_record_error.constprop.0', module: 'forge_wedge' });
        if (!fx.vmcoreDmesg && !fx.kdump) {
          // the console carries CPU1's registers: spinning in the qspinlock slow path with IRQs off
          assert.equal(bt.trace[0].function, 'native_queued_spin_lock_slowpath');
          assert.equal(bt.trace[0].exceptionRip, true);
          assert.equal(bt.registers[0].irqsEnabled, false);
          assert.equal(bt.registers[0].mode, 'kernel');
          assert.equal(bt.code?.markIndex !== undefined && bt.code.markIndex >= 0, true);
        }
        const soft = ofKind(r, 'soft-lockup');
        assert.ok(soft.length >= 1);
        for (const s of soft) {
          assert.equal(s.cpu, 0);
          assert.equal(s.task?.comm, 'mapper');
          assert.equal(s.culprit?.function, 'smp_call_function_many_cond');
          assert.ok(hasChain(s, ['on_each_cpu_cond_mask', 'flush_tlb_mm_range', 'tlb_finish_mmu']));
          assert.ok((s.details.seconds ?? 0) >= 20);
          assert.ok(s.details.modules?.includes('forge_wedge'));
          assert.ok(!s.details.inInterrupt);
        }
        if (fx.kdump) {
          const p = ofKind(r, 'panic');
          assert.equal(p.length, 1);
          assert.equal(p[0].details.panicReason, 'softlockup: hung tasks');
          assert.equal(p[0].details.panicCause, 'softlockup');
          assert.equal(p[0].cpu, 0);
          // panic called from the watchdog hrtimer: IRQ frames, then the interrupted munmap path
          assert.equal(p[0].trace.find((f) => f.function === 'hrtimer_interrupt')?.stack, 'irq');
          assert.equal(p[0].trace.find((f) => f.function === 'flush_tlb_mm_range')?.stack, 'task');
          assert.equal(p[0].details.inInterrupt, true);
        } else assert.equal(ofKind(r, 'panic').length, 0);
        break;
      }
      case 'oops-irq-deadlock': {
        const nd = ofKind(r, 'null-deref');
        assert.equal(nd.length, 1);
        const o = nd[0];
        assert.equal(o.cpu, 1);
        assert.equal(o.task?.comm, 'crunch/1');
        assert.deepEqual(o.culprit, { function: 'forge_nic_complete', module: 'forge_irqoops' });
        assert.equal(o.details.address, '0000000000000000');
        assert.match(o.details.oopsText ?? '', /^Oops: 0000 \[#1\]/);
        assert.equal(o.details.oopsNumber, 1);
        assert.equal(o.details.inInterrupt, true);
        assert.ok(!o.details.endTrace, 'the oops never finished');
        assert.equal(o.code?.unavailable, true);
        assert.ok(hasChain(o, ['forge_nic_poll']));
        for (const fn of ['forge_nic_complete', 'forge_nic_poll', 'hrtimer_interrupt', 'asm_sysvec_apic_timer_interrupt']) {
          assert.equal(o.trace.find((f) => f.function === fn)?.stack, 'irq', fn);
        }
        // kernel registers of the IRQ context, then the user registers of the interrupted crunch/1
        assert.equal(o.registers.length, 2);
        assert.equal(o.registers[0].stack, 'irq');
        assert.equal(o.registers[1].mode, 'user');
        assert.equal(o.registers[1].stack, 'user');
        assert.equal(ofKind(r, 'panic').length, 0, 'no panic');
        const soft = ofKind(r, 'soft-lockup');
        assert.ok(soft.length >= 1 && soft.every((s) => s.cpu === 0 && s.culprit?.function === 'smp_call_function_many_cond'));
        // the RCU stall's NMI backtrace of CPU1: the die notifier spinning in the page-fault handler, in IRQ context
        const bt1 = ofKind(r, 'nmi-backtrace').find((e) => e.cpu === 1)!;
        assert.ok(hasChain(bt1, ['_raw_spin_lock_irqsave', 'forge_nic_die_notify', 'notify_die']));
        assert.equal(bt1.trace.find((f) => f.function === 'page_fault_oops')?.stack, 'exception');
        assert.equal(bt1.trace.find((f) => f.function === 'forge_nic_complete')?.exceptionRip, true);
        assert.equal(bt1.trace.find((f) => f.function === 'forge_nic_poll')?.stack, 'irq');
        assert.equal(bt1.details.inInterrupt, true);
        assert.ok(ofKind(r, 'rcu-stall')[0].related?.includes(bt1.id));
        break;
      }
      case 'hung-uffd': {
        const hung = ofKind(r, 'hung-task');
        const names = new Set(hung.map((e) => e.task?.comm));
        assert.deepEqual([...names].sort(), ['blk-dio/late', 'blk-flush']);
        for (const h of hung) {
          assert.equal(h.details.taskState?.includes('state:D'), true);
          assert.ok((h.details.seconds ?? 0) >= 10);
          assert.equal(h.details.ppid, 1);
          if (h.task?.comm === 'blk-flush') {
            assert.ok(fnames(h).includes('rwsem_down_write_slowpath'));
            assert.deepEqual(h.culprit, { function: 'ext4_buffered_write_iter', module: 'ext4' });
          } else {
            assert.ok(fnames(h).includes('rwsem_down_read_slowpath'));
            assert.deepEqual(h.culprit, { function: 'ext4_file_read_iter', module: 'ext4' });
          }
          assert.ok(h.trace.every((f) => f.stack === 'task'));
          assert.equal(h.registers[0]?.mode, 'user');
        }
        assert.equal(r.events.filter((e) => e.kind !== 'hung-task').length, 0, 'no lockups, no stalls');
        break;
      }
      case 'hardlockup-seqcount': {
        if (fx.vmcoreDmesg) {
          const nmi = ofKind(r, 'unknown-nmi');
          assert.equal(nmi.length, 1);
          assert.equal(nmi[0].details.nmiReason, '21');
          assert.equal(nmi[0].cpu, 0);
          const p = ofKind(r, 'panic');
          assert.equal(p.length, 1);
          assert.equal(p[0].details.panicReason, 'NMI: Not continuing');
          assert.equal(p[0].details.panicCause, 'nmi');
          assert.equal(p[0].culprit?.function, 'tick_nohz_next_event');
          assert.equal(p[0].trace.find((f) => f.function === 'exc_nmi')?.stack, 'nmi');
          const rip = p[0].trace.find((f) => f.exceptionRip)!;
          assert.equal(rip.function, 'tick_nohz_next_event');
          assert.equal(rip.stack, 'task');
          assert.equal(p[0].registers[0].irqsEnabled, false);
          assert.ok(nmi[0].related?.includes(p[0].id));
        } else {
          // silent hang: the console shows nothing (no perf NMI watchdog in these VMs)
          assert.deepEqual(r.events, []);
        }
        break;
      }
      default:
        assert.fail(`unknown scenario ${fx.scenario}: add its expectations`);
    }

    const fast = await scanLogFile(fx.file, label);
    assert.deepEqual(fast.events, r.events, 'fast path gives the same events');
    assert.equal(fast.lines, r.lines);
    assert.deepEqual(fast.system, r.system);
  });
}

/** What each arm64 scenario.md says the console shows (6.1 arm64: no NMI backtraces, IPIs sent by kick_all_cpus_sync). */
function arm64ScenarioFacts(scenario: string, r: ParsedLog): void {
  switch (scenario) {
    case 'healthy':
      assert.deepEqual(r.events, []);
      break;
    case 'softlockup-ipi': {
      const rcu = ofKind(r, 'rcu-stall');
      assert.ok(rcu.length >= 1, 'an RCU stall');
      assert.deepEqual(rcu[0].details.stalledCpus, [1]);
      const soft = ofKind(r, 'soft-lockup');
      assert.ok(soft.length >= 1);
      for (const s of soft) {
        assert.equal(s.cpu, 0);
        assert.equal(s.task?.comm, 'insmod');
        assert.ok(fnames(s).includes('kick_all_cpus_sync'));
      }
      break;
    }
    case 'hung-uffd': {
      const hung = ofKind(r, 'hung-task');
      assert.deepEqual([...new Set(hung.map((e) => e.task?.comm))].sort(), ['blk-dio/late', 'blk-flush']);
      for (const h of hung) assert.ok(fnames(h).some((f) => /^rwsem_down_(read|write)_slowpath$/.test(f)));
      break;
    }
    case 'hardlockup-seqcount':
      // no hard-lockup detector on this kernel: a silent hang
      assert.deepEqual(r.events.filter((e) => e.kind !== 'rcu-stall'), []);
      break;
    default:
      assert.fail(`no expectations written for arm64 scenario ${scenario}`);
  }
}
