/** fillCaseFromDump on real vmcores: CPUs (task, registers, IRQs, mode, contexts, stacks with provenance), tasks, system. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { emptyCaseFile, type CaseFile } from '../../../../src/model/casefile.ts';
import { fillCaseFromDump, wchanOf } from '../../../../src/sources/dump/casefile.ts';
import { openKernelDump, type KernelDump } from '../../../../src/sources/dump/index.ts';
import { vmcoreFixtures } from '../kernel/fixtures.ts';

const fixtures = vmcoreFixtures();
const opened: KernelDump[] = [];
after(() => opened.forEach((d) => d.close()));

function fill(name: string): { c: CaseFile; d: KernelDump } | undefined {
  const f = fixtures.find((x) => x.name === name);
  if (!f) return undefined;
  const d = openKernelDump(f.vmcore);
  opened.push(d);
  const c = emptyCaseFile();
  fillCaseFromDump(c, d);
  return { c, d };
}

const names = (fs: { function: string }[] | undefined) => (fs ?? []).map((f) => f.function);

describe('deb12-6.1.0-56-kdump/softlockup-ipi', () => {
  const r = fill('deb12-6.1.0-56-kdump/softlockup-ipi');
  test('system facts', { skip: !r && 'no fixture' }, () => {
    const { c } = r!;
    assert.equal(c.system.release, '6.1.0-56-amd64');
    assert.equal(c.system.cpus, 4);
    assert.equal(c.system.panic, 'Kernel panic - not syncing: softlockup: hung tasks');
    assert.equal(c.system.crashTime, '2026-11-21T23:44:13.000Z');
    assert.equal(c.system.hostname, 'forge-guest');
    assert.ok(c.system.uptime! > 30 && c.system.uptime! < 40, String(c.system.uptime));
  });
  test('CPU 1: culprit spinning with IRQs off below the kdump NMI', { skip: !r && 'no fixture' }, () => {
    const cpu = r!.c.cpus.find((x) => x.cpu === 1)!;
    assert.deepEqual(cpu.task, { comm: 'forge_ring/1', pid: 141 });
    assert.equal(cpu.irqsEnabled, false);
    assert.equal(cpu.mode, 'kernel');
    assert.equal(cpu.idle, false);
    assert.deepEqual(cpu.contexts, ['nmi']);
    assert.equal(cpu.registers?.pcSymbol?.function, 'native_queued_spin_lock_slowpath');
    assert.equal(cpu.registers?.pcSymbol?.offset, 0x30);
    assert.deepEqual(names(cpu.stack).slice(0, 8), [
      'crash_nmi_callback', 'default_do_nmi', 'exc_nmi', 'end_repeat_nmi',
      'native_queued_spin_lock_slowpath', '_raw_spin_lock_irqsave', 'forge_ring_record_error.constprop.0', 'forge_ring_worker',
    ]);
    const exc = cpu.stack!.find((f) => f.exceptionRip && f.function === 'native_queued_spin_lock_slowpath')!;
    assert.equal(exc.stack, 'task');
    assert.equal(exc.regs?.values.rdi, 'ffffffffc055f3c0', 'the lock address in RDI');
    assert.equal(exc.regs?.irqsEnabled, false);
    assert.equal(cpu.stack!.find((f) => f.function === 'forge_ring_worker')?.module, 'forge_wedge');
    assert.deepEqual(cpu.stackFrom, { kind: 'dump', source: r!.d.path, what: 'bt -c 1' });
    assert.ok(cpu.facts.some((f) => /stopped by the kdump NMI/.test(f.text)));
  });
  test('CPU 0: panic on the IRQ stack, the interrupted context has IRQs on', { skip: !r && 'no fixture' }, () => {
    const cpu = r!.c.cpus.find((x) => x.cpu === 0)!;
    assert.deepEqual(cpu.task, { comm: 'mapper', pid: 139 });
    assert.equal(cpu.irqsEnabled, true);
    assert.equal(cpu.mode, 'kernel');
    assert.deepEqual(cpu.contexts, ['irq']);
    const st = cpu.stack!;
    assert.equal(st[0].function, 'machine_kexec');
    assert.equal(st.find((f) => f.function === 'panic')?.stack, 'irq');
    const exc = st.find((f) => f.exceptionRip && f.function === 'smp_call_function_many_cond')!;
    assert.equal(exc.offset, 241);
    assert.equal(exc.stack, 'task');
    assert.equal(st[st.length - 1].function, 'entry_SYSCALL_64_after_hwframe');
  });
  test('CPU 3: NMI from user mode', { skip: !r && 'no fixture' }, () => {
    const cpu = r!.c.cpus.find((x) => x.cpu === 3)!;
    assert.equal(cpu.mode, 'user');
    assert.deepEqual(names(cpu.stack), ['crash_nmi_callback', 'default_do_nmi', 'exc_nmi', 'asm_exc_nmi']);
  });
  test('tasks: all of them, states, user pages excluded for cmdline', { skip: !r && 'no fixture' }, () => {
    const { c } = r!;
    assert.equal(c.tasks.length, 78);
    assert.equal(c.tasks.filter((t) => t.pid === 0).length, 4);
    const mapper = c.tasks.find((t) => t.pid === 139)!;
    assert.equal(mapper.state, 'R');
    assert.equal(mapper.tgid, 134);
    assert.equal(mapper.ppid, 1);
    assert.equal(mapper.cmdline, undefined);
    assert.ok(mapper.facts.some((f) => /command line unknown: user pages were excluded/.test(f.text)), mapper.facts.map((f) => f.text).join(" | "));
    assert.equal(names(mapper.stack)[0], 'machine_kexec', 'running task: its CPU trace');
    const kthreadd = c.tasks.find((t) => t.pid === 2)!;
    assert.equal(kthreadd.kthread, true);
    assert.ok(kthreadd.startTime! >= 0 && kthreadd.startTime! < 2);
  });
});

describe('deb12-6.12.117/hung-uffd', () => {
  const r = fill('deb12-6.12.117/hung-uffd');
  test('D tasks with stacks, wchan, blocked time; killable shows as D', { skip: !r && 'no fixture' }, () => {
    const { c } = r!;
    const d = c.tasks.filter((t) => t.state === 'D').map((t) => `${t.comm}:${t.wchan}`).sort();
    assert.deepEqual(d, ['blk-dio/0:handle_userfault', 'blk-dio/1:handle_userfault', 'blk-dio/2:handle_userfault', 'blk-dio/late:ext4_file_read_iter', 'blk-flush:ext4_buffered_write_iter']);
    const dio = c.tasks.find((t) => t.comm === 'blk-dio/0')!;
    assert.ok(dio.facts.some((f) => /UN \(uninterruptible \(killable\), state 0x102\)/.test(f.text)));
    assert.equal(names(dio.stack)[2], 'handle_userfault');
    assert.equal(dio.stack![14].module, 'ext4');
    assert.ok(dio.blockedSeconds! > 20, String(dio.blockedSeconds));
    assert.equal(dio.stackFrom?.kind, 'dump');
    const vcpu = c.tasks.find((t) => t.comm === 'vcpu0')!;
    assert.equal(vcpu.state, 'S');
    assert.equal(vcpu.wchan, 'handle_userfault');
    const vmm = c.tasks.find((t) => t.comm === 'vmm')!;
    assert.match(vmm.cmdline ?? '', /uffd_hang/);
    assert.equal(vmm.wchan, '__do_sys_pause');
  });
  test('idle CPUs: IRQs on, idle, no contexts, kernel mode', { skip: !r && 'no fixture' }, () => {
    for (const cpu of r!.c.cpus) {
      assert.equal(cpu.idle, true, `CPU ${cpu.cpu}`);
      assert.equal(cpu.irqsEnabled, true);
      assert.deepEqual(cpu.contexts, []);
      assert.equal(cpu.registers?.pcSymbol?.function, 'pv_native_safe_halt');
      assert.equal(cpu.stack![0].exceptionRip, true);
      assert.equal(JSON.parse(JSON.stringify(cpu.stack)).length, cpu.stack!.length, 'plain JSON');
    }
  });
});

describe('deb12-6.1.0-56/oops-irq-deadlock', () => {
  const r = fill('deb12-6.1.0-56/oops-irq-deadlock');
  test('CPU 1 in the oops path inside a hard IRQ; CPU 2 in user mode', { skip: !r && 'no fixture' }, () => {
    const c1 = r!.c.cpus.find((x) => x.cpu === 1)!;
    assert.equal(c1.irqsEnabled, false);
    assert.deepEqual(c1.contexts, ['irq']);
    const n = names(c1.stack);
    assert.ok(n.indexOf('forge_nic_poll') === n.indexOf('forge_nic_complete') + 1, n.join(' < '));
    const c2 = r!.c.cpus.find((x) => x.cpu === 2)!;
    assert.equal(c2.mode, 'user');
    assert.deepEqual(c2.stack, []);
  });
});

test('wchanOf skips the scheduler and lock slow paths', () => {
  const f = (function_: string) => ({ function: function_, reliable: true, stack: 'task' as const });
  assert.equal(wchanOf([f('__schedule'), f('schedule'), f('schedule_preempt_disabled'), f('rwsem_down_write_slowpath'), f('down_write'), f('ext4_buffered_write_iter')]), 'ext4_buffered_write_iter');
  assert.equal(wchanOf([f('__schedule'), f('schedule'), f('schedule_timeout'), f('__wait_for_common'), f('flush_work')]), 'flush_work');
});
