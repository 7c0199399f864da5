/**
 * Samples written for every format and report kind (test/data/log/), from the kernel's own message formats across
 * versions 2.6 .. 6.16: one row each with what the parser must find. Plus the data tables' own samples.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { LogEvent } from '../../../src/model/event.ts';
import { HEADERS, PANIC_CAUSES, panicCauseOf } from '../../../src/sources/log/headers.ts';
import { parseLogFile, scanLogFile, type ParsedLog } from '../../../src/sources/log/index.ts';
import { triggerNeedles } from '../../../src/sources/log/machine.ts';
import { SKIP_FRAMES, skipRowOf } from '../../../src/sources/log/skip.ts';

const data = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../data/log');

type Expect = {
  file: string;
  format: string;
  kinds: string;
  check?: (r: ParsedLog, e: LogEvent[]) => void;
};

const fnOn = (e: LogEvent, fn: string) => e.trace.find((f) => f.function === fn);

const SAMPLES: Expect[] = [
  {
    file: 'soft-lockup-callers.dmesg',
    format: 'dmesg',
    kinds: 'soft-lockup nmi-backtrace',
    check: (_r, [s, n]) => {
      // 6.x printk caller ids: the [C0] lines form the report although [T55] and [C1] lines interleave
      assert.equal(s.cpu, 0);
      assert.deepEqual(s.task, { comm: 'mapper', pid: 127 });
      assert.equal(s.release, '6.12.1');
      assert.equal(s.culprit?.function, 'smp_call_function_many_cond');
      assert.equal(s.code?.markIndex, 12);
      assert.equal(fnOn(s, 'watchdog_timer_fn')?.stack, 'irq');
      assert.equal(fnOn(s, 'flush_tlb_mm_range')?.stack, 'task');
      assert.equal(s.registers.at(-1)?.mode, 'user');
      assert.equal(s.line, 2);
      assert.equal(s.endLine, 29);
      assert.equal(n.cpu, 1);
      assert.equal(n.details.idle, true);
      assert.equal(n.culprit, undefined);
    },
  },
  {
    file: 'soft-lockup-3x.dmesg',
    format: 'dmesg',
    kinds: 'soft-lockup',
    check: (r, [s]) => {
      assert.equal(s.cpu, 2);
      assert.deepEqual(s.task, { comm: 'kworker/2:1', pid: 1234 });
      assert.equal(s.registers[0].values.rip, 'ffffffff810c8a2a');
      assert.equal(s.registers[0].irqsEnabled, true);
      assert.equal(s.culprit?.function, 'generic_exec_single');
      assert.equal(s.trace[1].reliable, false);
      assert.ok(s.code && s.code.markIndex > 0);
      assert.ok(!r.incomplete, 'Code: after the trace ends it (no truncation note)');
    },
  },
  {
    file: 'hard-lockup-perf.dmesg',
    format: 'dmesg',
    kinds: 'hard-lockup panic',
    check: (_r, [h, p]) => {
      assert.equal(h.cpu, 3);
      assert.deepEqual(h.culprit, { function: 'mydrv_poll_ring', module: 'mydrv' });
      assert.equal(h.registers[0].irqsEnabled, false);
      assert.equal(fnOn(h, 'watchdog_overflow_callback.cold')?.stack, 'nmi');
      assert.equal(p.details.panicCause, 'hardlockup');
      assert.ok(h.related?.includes(p.id));
      assert.equal(fnOn(p, 'exc_nmi')?.stack, 'nmi');
      const rip = p.trace.find((f) => f.exceptionRip)!;
      assert.equal(rip.function, 'native_queued_spin_lock_slowpath');
      assert.equal(rip.stack, 'task');
      assert.deepEqual(p.culprit, { function: 'mydrv_poll_ring', module: 'mydrv' });
    },
  },
  {
    file: 'hard-lockup-buddy.dmesg',
    format: 'dmesg',
    kinds: 'hard-lockup nmi-backtrace',
    check: (_r, [h, n]) => {
      // the buddy detector on CPU5 reports CPU6: the event is about CPU6, not the reporter's task
      assert.equal(h.cpu, 6);
      assert.equal(h.details.detectedBy, 5);
      assert.equal(h.task, undefined);
      assert.equal(n.cpu, 6);
      assert.equal(n.details.nmiFromCpu, 5);
      assert.deepEqual(n.details.nmiTargets, [6]);
      assert.ok(h.related?.includes(n.id));
      assert.equal(n.registers[0].arch, 'arm64');
      assert.equal(n.registers[0].irqsEnabled, false, 'pstate I bit set');
      assert.equal(n.registers[0].mode, 'kernel');
      assert.equal(n.trace[0].function, 'lkdtm_HARDLOCKUP');
      assert.equal(n.trace.filter((f) => f.function === 'lkdtm_HARDLOCKUP').length, 1, 'pc frame not doubled');
      assert.deepEqual(n.culprit, { function: 'lkdtm_HARDLOCKUP', module: 'lkdtm' });
    },
  },
  {
    file: 'hard-lockup-3x-panic.txt',
    format: 'unknown',
    kinds: 'hard-lockup',
    check: (r, [h]) => {
      assert.equal(h.cpu, 1);
      assert.equal(h.details.panicCause, 'hardlockup');
      assert.equal(h.trace.find((f) => f.function === 'do_nmi')?.stack, 'nmi');
      assert.equal(h.trace.find((f) => f.function === 'cpu_idle')?.stack, 'task');
      assert.equal(h.culprit, undefined, 'an idle CPU is nobody to blame');
      assert.ok(r.lines === 15);
    },
  },
  {
    file: 'hung-task-3x.log',
    format: 'dmesg',
    kinds: 'hung-task hung-task',
    check: (_r, [a, b]) => {
      assert.deepEqual(a.task, { comm: 'jbd2/dm-0-8', pid: 412 });
      assert.equal(a.details.ppid, 2);
      assert.equal(a.details.seconds, 120);
      assert.deepEqual(a.culprit, { function: 'jbd2_journal_commit_transaction', module: 'jbd2' });
      assert.equal(a.release, '3.10.0-957.el7.x86_64');
      assert.deepEqual(b.culprit, { function: 'ext4_writepages', module: 'ext4' });
    },
  },
  {
    file: 'hung-task-blocker.dmesg-T',
    format: 'dmesg -T',
    kinds: 'hung-task hung-task',
    check: (_r, [a, b]) => {
      assert.equal(a.wallclock, 'Thu Jun 12 11:01:33 2025');
      assert.equal(a.timestamp, undefined);
      assert.equal(a.details.blockers?.[0].kind, 'rwsem-writer');
      assert.deepEqual(a.details.blockers?.[0].owner, { comm: 'rw_sem_thread1', pid: 36525 });
      assert.equal(a.details.tasks?.[0].comm, 'rw_sem_thread1');
      assert.ok(a.details.tasks?.[0].trace.some((f) => f.function === 'rw_sem_worker1'));
      assert.ok(!a.trace.some((f) => f.function === 'rw_sem_worker1'), "owner's stack is not the hung task's");
      assert.deepEqual(a.culprit, { function: 'rw_sem_worker2', module: 'test_rwsem' });
      assert.equal(a.taint, 'G OE');
      assert.equal(b.details.blockers?.length, 1, "another task's hint does not attach");
      assert.equal(b.details.blockers?.[0].kind, 'mutex');
      assert.equal(b.culprit?.function, 'register_netdevice_notifier');
    },
  },
  {
    file: 'rcu-self.iso',
    format: 'journalctl short-iso',
    kinds: 'rcu-stall',
    check: (r, [e]) => {
      assert.equal(r.system.hostname, 'node7');
      assert.equal(e.details.selfDetected, true);
      assert.equal(e.details.rcuFlavor, 'rcu_sched');
      assert.deepEqual(e.details.stalledCpus, [2]);
      assert.equal(e.cpu, 2);
      assert.equal(e.culprit?.function, 'copy_page_range');
      assert.equal(e.code?.unavailable, true);
      assert.equal(e.wallclock, '2026-11-21T22:54:13+0000');
    },
  },
  {
    file: 'rcu-expedited.mono',
    format: 'journalctl short-monotonic',
    kinds: 'rcu-stall rcu-stall',
    check: (_r, [x, k]) => {
      assert.equal(x.details.expedited, true);
      assert.deepEqual(x.details.stalledCpus, [1, 3]);
      assert.equal(x.details.tasks?.[0].comm, 'kworker/1:2');
      assert.equal(x.timestamp, 301.123456);
      assert.equal(k.details.kthreadStarved, true);
    },
  },
  {
    file: 'rcu-3x.log',
    format: 'dmesg',
    kinds: 'rcu-stall nmi-backtrace',
    check: (_r, [s, n]) => {
      assert.deepEqual(s.details.stalledCpus, [3]);
      assert.equal(s.details.detectedBy, 0);
      assert.ok(s.related?.includes(n.id));
      assert.deepEqual(s.culprit, { function: 'looper_spin', module: 'looper' });
      assert.equal(n.taint, 'P O');
    },
  },
  {
    file: 'csd-lock.dmesg',
    format: 'dmesg',
    kinds: 'csd-lock nmi-backtrace csd-lock',
    check: (_r, [c, n]) => {
      assert.equal(c.cpu, 0);
      assert.equal(c.details.csdTargetCpu, 1);
      assert.equal(c.details.csdFunction, 'flush_tlb_func+0x0/0x1e0');
      assert.equal(c.details.csdWaitSeconds, 5.000000002);
      assert.ok(c.related?.includes(n.id));
      assert.equal(n.details.nmiFromCpu, 0);
      assert.deepEqual(n.culprit, { function: 'mydev_wait_ready', module: 'mydev' });
    },
  },
  {
    file: 'paging-request.short',
    format: 'journalctl short',
    kinds: 'paging-request',
    check: (r, [e]) => {
      assert.equal(r.system.hostname, 'web01');
      assert.equal(e.details.address, 'ffffc90000a3f000');
      assert.equal(e.details.accessText, 'supervisor write access in kernel mode');
      assert.equal(e.details.oopsNumber, 1);
      assert.equal(e.details.endTrace, true);
      assert.deepEqual(e.culprit, { function: 'mydrv_copy_frame', module: 'mydrv' }, 'memcpy is generic');
      assert.equal(e.trace[0].function, 'memcpy_erms');
      assert.deepEqual(e.details.modules, ['mydrv', 'ena']);
    },
  },
  {
    file: 'arm64-null.dmesg',
    format: 'dmesg',
    kinds: 'null-deref',
    check: (r, [e]) => {
      assert.equal(e.details.address, '0000000000000010');
      assert.match(e.details.oopsText ?? '', /Internal error: Oops/);
      assert.equal(e.registers[0].arch, 'arm64');
      assert.equal(e.registers[0].values.x29, 'ffff800082a53c40');
      assert.equal(e.registers[0].irqsEnabled, true);
      assert.equal(e.code?.markIndex, 4);
      assert.deepEqual(e.culprit, { function: 'my_i2c_xfer', module: 'my_i2c' });
      assert.equal(e.trace.length, 8);
      assert.equal(r.system.arch, 'arm64');
    },
  },
  {
    file: 'gpf-kasan.dmesg',
    format: 'dmesg',
    kinds: 'gpf panic',
    check: (_r, [g, p]) => {
      assert.equal(g.details.address, 'dffffc0000000001');
      assert.equal(g.details.bugType, 'null-ptr-deref');
      assert.equal(g.culprit?.function, 'hci_conn_drop');
      assert.equal(g.trace.length, 4);
      assert.equal(p.details.panicCause, 'oops');
      assert.ok(g.related?.includes(p.id));
    },
  },
  {
    file: 'kernel-bug-panic.dmesg',
    format: 'dmesg',
    kinds: 'bug panic',
    check: (_r, [b, p]) => {
      assert.equal(b.details.location, 'mm/slub.c:3881');
      assert.equal(b.line, 1, 'the cut-here preamble starts the report');
      assert.match(b.details.oopsText ?? '', /^invalid opcode/);
      assert.equal(b.details.endTrace, true);
      assert.equal(p.details.panicCause, 'oops-in-interrupt');
      assert.equal(p.details.inInterrupt, true);
    },
  },
  {
    file: 'warning-softirq.dmesg',
    format: 'dmesg',
    kinds: 'warning',
    check: (_r, [w]) => {
      assert.equal(w.cpu, 2);
      assert.equal(w.details.location, 'net/core/skbuff.c:4567');
      assert.equal(w.culprit?.function, 'skb_try_coalesce');
      assert.equal(fnOn(w, 'tcp_v4_rcv')?.stack, 'softirq');
      assert.equal(fnOn(w, '__do_softirq')?.stack, 'softirq');
      assert.equal(fnOn(w, 'irq_exit_rcu')?.stack, 'irq');
      assert.equal(fnOn(w, 'do_idle')?.stack, 'task');
      assert.equal(w.details.inInterrupt, true);
      assert.equal(w.registers.length, 2);
      assert.equal(w.registers[1].stack, 'task');
    },
  },
  {
    file: 'bug-sleeping.dmesg',
    format: 'dmesg',
    kinds: 'bug bug',
    check: (_r, [a, b]) => {
      assert.equal(a.details.location, 'kernel/locking/mutex.c:580');
      assert.deepEqual(a.culprit, { function: 'mydev_setup_irq', module: 'mydev' });
      assert.ok(!a.trace.some((f) => f.function === 'mydev_probe' && f.offset === 0x24), '"Preemption disabled at" is not the trace');
      assert.deepEqual(b.task, { comm: 'modprobe', pid: 210 });
    },
  },
  {
    file: 'kasan.dmesg',
    format: 'dmesg',
    kinds: 'kasan',
    check: (_r, [k]) => {
      assert.equal(k.details.bugType, 'slab-use-after-free');
      assert.equal(k.culprit?.function, 'ext4_search_dir');
      assert.equal(k.trace.length, 6, 'alloc/free stacks are not the trace');
      assert.equal(k.line, 1);
    },
  },
  {
    file: 'kfence.dmesg',
    format: 'dmesg',
    kinds: 'kfence',
    check: (_r, [k]) => {
      assert.equal(k.details.bugType, 'use-after-free read');
      assert.equal(k.trace.length, 5);
      assert.equal(k.cpu, 7);
      assert.equal(k.culprit?.function, 'test_use_after_free_read');
    },
  },
  {
    file: 'ubsan.dmesg',
    format: 'dmesg',
    kinds: 'ubsan',
    check: (_r, [u]) => {
      assert.equal(u.details.bugType, 'shift-out-of-bounds');
      assert.equal(u.details.location, 'drivers/net/mydrv/mydrv_main.c:412:23');
      assert.equal(u.culprit?.function, 'mydrv_set_mask');
    },
  },
  {
    file: 'lockdep.dmesg',
    format: 'dmesg',
    kinds: 'lockdep',
    check: (_r, [l]) => {
      assert.equal(l.details.lockdepTitle, 'possible circular locking dependency detected');
      assert.equal(l.release, '6.1.0-rc1');
      assert.equal(l.trace.length, 8, 'dependency chain frames are not the trace');
      assert.equal(l.culprit?.function, 'dev_reset');
      assert.equal(l.line, 1);
    },
  },
  {
    file: 'sysrq-blocked.dmesg',
    format: 'dmesg',
    kinds: 'sysrq-blocked',
    check: (_r, [s]) => {
      assert.deepEqual(
        s.details.tasks?.map((t) => `${t.comm}:${t.pid}:${t.state}:${t.trace.length}`),
        ['jbd2/sda1-8:233:D:6', 'postgres:1888:D:6'],
      );
      assert.equal(s.endLine, 23);
    },
  },
  {
    file: 'sysrq-tasks-3x.log',
    format: 'dmesg',
    kinds: 'sysrq-tasks',
    check: (_r, [s]) => {
      assert.deepEqual(s.details.tasks?.map((t) => `${t.comm}:${t.pid}:${t.state}`), ['init:1:S', 'kthreadd:2:S']);
      assert.equal(s.details.tasks?.[1].trace[1].function, 'kthreadd');
    },
  },
  {
    file: 'mce.dmesg',
    format: 'dmesg',
    kinds: 'mce panic',
    check: (_r, [m, p]) => {
      assert.equal(m.cpu, 4);
      assert.match(m.details.mceText ?? '', /Processor context corrupt/);
      assert.equal(p.details.panicCause, 'mce');
    },
  },
  {
    file: 'oom.dmesg',
    format: 'dmesg',
    kinds: 'oom',
    check: (_r, [o]) => {
      assert.deepEqual(o.task, { comm: 'stress', pid: 4242 });
      assert.equal(o.endLine, 17);
      assert.equal(o.culprit, undefined);
    },
  },
  {
    file: 'unknown-nmi.dmesg',
    format: 'dmesg',
    kinds: 'unknown-nmi unknown-nmi',
    check: (_r, [a, b]) => {
      assert.equal(a.details.nmiReason, '3d');
      assert.equal(a.cpu, 2);
      assert.equal(a.endLine, 3);
      assert.equal(b.cpu, 0);
    },
  },
  {
    file: 'syslog.log',
    format: 'syslog',
    kinds: 'warning',
    check: (r, [w]) => {
      assert.equal(r.system.hostname, 'db02');
      assert.equal(w.timestamp, 4552.564721);
      assert.equal(w.wallclock, 'Nov 21 22:54:13');
      // drop_nlink's WARN_ON checks the count its caller keeps: the filesystem is blamed
      assert.deepEqual(w.culprit, { function: 'myfs_unlink', module: 'myfs' });
      assert.equal(w.details.endTrace, true);
    },
  },
];

for (const s of SAMPLES) {
  test(`sample ${s.file}`, async () => {
    const file = path.join(data, s.file);
    const r = await parseLogFile(file, s.file);
    assert.equal(r.format, s.format);
    assert.equal(r.events.map((e) => e.kind).join(' '), s.kinds);
    s.check?.(r, r.events);
    const fast = await scanLogFile(file, s.file);
    assert.deepEqual(fast.events, r.events, 'fast path gives the same events');
  });
}

test('header table: every row matches its sample, first match wins, and has a scanner needle', () => {
  const needles = triggerNeedles();
  for (const row of HEADERS) {
    const m = row.re.exec(row.sample);
    assert.ok(m, `${row.id} matches its sample`);
    const first = HEADERS.find((r) => r.re.test(row.sample));
    assert.equal(first?.id, row.id, `${row.id}: an earlier row (${first?.id}) shadows it`);
    const ns = Array.isArray(row.needle) ? row.needle : [row.needle];
    assert.ok(ns.some((n) => row.sample.includes(n)), `${row.id}: sample contains its needle`);
    assert.ok(ns.every((n) => needles.includes(n)));
    row.build?.(m!);
  }
});

test('skip table: every row matches its sample; kept frames stay kept', () => {
  for (const row of SKIP_FRAMES) assert.ok(row.pattern.test(row.sample), `${row.family}: ${row.sample}`);
  for (const fn of ['smp_call_function_many_cond', 'tick_nohz_next_event', 'ext4_buffered_write_iter', 'forge_ring_record_error.constprop.0', 'flush_tlb_mm_range', 'sk_clone_lock', 'hci_release_dev']) {
    assert.equal(skipRowOf(fn), undefined, fn);
  }
  for (const fn of ['watchdog_timer_fn.cold', 'nmi_panic.cold', '__mutex_lock.constprop.0', 'validate_chain.clone.24', 'kfree', '__kmalloc_node_track_caller', 'refcount_warn_saturate', '__list_del_entry_valid_or_report', 'usercopy_abort']) assert.ok(skipRowOf(fn), fn);
});

test('panic causes: every row classifies its sample', () => {
  for (const row of PANIC_CAUSES) assert.equal(panicCauseOf(row.sample), row.cause, row.sample);
  assert.equal(panicCauseOf('something new'), 'other');
});

test('scan needles cover every header that can start a report and every system-fact line', async () => {
  const { SCAN_NEEDLES } = await import('../../../src/sources/log/scan.ts');
  for (const row of HEADERS) {
    if (row.mode === 'attach') continue; // only read while a report is open, when every line is fed
    assert.ok(SCAN_NEEDLES.some((n) => row.sample.includes(n)), `${row.id}: ${row.sample}`);
  }
  for (const line of ['Linux version 6.1.0-56-amd64 (x)', 'Command line: console=ttyS0', 'Kernel command line: quiet', 'DMI: QEMU Standard PC', 'smp: Brought up 1 node, 4 CPUs', 'Sending NMI from CPU 0 to CPUs 1:', 'sending NMI to all CPUs:']) {
    assert.ok(SCAN_NEEDLES.some((n) => line.includes(n)), line);
  }
});
