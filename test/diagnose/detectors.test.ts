import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../src/diagnose/index.ts';
import { waitSite } from '../../src/diagnose/hung-tasks.ts';
import { caseOf, ev, frames, regs } from './build.ts';

const tlbWait = 'on_each_cpu_cond_mask <- flush_tlb_mm_range <- tlb_finish_mmu <- unmap_region <- __vm_munmap';

describe('IPI wait + IRQs-off spin', () => {
  const c = caseOf([
    ev('nmi-backtrace', 'NMI backtrace for cpu 1', {
      cpu: 1,
      task: { comm: 'worker', pid: 129 },
      registers: [regs('native_queued_spin_lock_slowpath', { rip: 'ffffffff99059b29', eflags: '00000002', rdi: 'ffffffffc04a13c0' })],
      trace: frames('_raw_spin_lock_irqsave <- ring_record_error [ring] <- ring_worker [ring] <- kthread <- ret_from_fork'),
    }),
    ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [mapper:127]', {
      cpu: 0,
      task: { comm: 'mapper', pid: 127 },
      details: { seconds: 22 },
      registers: [regs('smp_call_function_many_cond', { rip: 'ffffffff98770600', eflags: '00000202' })],
      trace: frames(tlbWait),
    }),
    ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 48s! [mapper:127]', {
      cpu: 0,
      task: { comm: 'mapper', pid: 127 },
      details: { seconds: 48 },
      registers: [regs('smp_call_function_many_cond', { rip: 'ffffffff98770600', eflags: '00000202' })],
      trace: frames(tlbWait),
    }),
  ]);
  const d = diagnose(c);
  it('makes the spinning CPU the root and names its lock', () => {
    const root = d.findings.find((f) => f.id === d.verdict.roots[0])!;
    assert.equal(root.kind, 'irqs-off-spin');
    assert.equal(root.extra?.cpu, 1);
    assert.equal(root.extra?.lockAddress, 'ffffffffc04a13c0');
    assert.match(root.summary, /ring_record_error/);
  });
  it('makes the TLB-flush waiter a symptom that points at CPU 1', () => {
    const w = d.findings.find((f) => f.kind === 'ipi-wait')!;
    assert.equal(w.role, 'symptom');
    assert.deepEqual(w.extra?.targets, [1]);
    assert.ok(w.causedBy?.includes(d.verdict.roots[0]));
    assert.deepEqual(d.graph.chainFrom('cpu:0'), ['cpu:0', 'csd:0', 'cpu:1', 'lock:ffffffffc04a13c0']);
  });
  it('groups repeated soft lockups of one CPU into one symptom', () => {
    const s = d.findings.filter((f) => f.kind === 'soft-lockup');
    assert.equal(s.length, 1);
    assert.equal(s[0].role, 'symptom');
    assert.match(s[0].summary, /22s, 48s/);
  });
  it('is a problem verdict', () => assert.equal(d.verdict.status, 'problem'));
});

describe('oops in interrupt context, then stuck in its own oops path', () => {
  const c = caseOf([
    ev('null-deref', 'BUG: kernel NULL pointer dereference, address: 0000000000000000', {
      cpu: 1,
      task: { comm: 'crunch/1', pid: 124 },
      details: { address: '0000000000000000' },
      registers: [
        regs('nic_complete', { rip: 'ffffffffc05dc009', eflags: '00000046', rdi: 'ffffffffc05de020' }),
        regs('', { rip: '401818', eflags: '00000216' }, 'user'),
      ],
      trace: frames('nic_poll [nic] <- __hrtimer_run_queues <- hrtimer_interrupt <- __sysvec_apic_timer_interrupt <- sysvec_apic_timer_interrupt <- asm_sysvec_apic_timer_interrupt'),
    }),
    ev('nmi-backtrace', 'NMI backtrace for cpu 1', {
      cpu: 1,
      task: { comm: 'crunch/1', pid: 124 },
      registers: [
        regs('native_queued_spin_lock_slowpath', { rip: 'ffffffff99059b29', eflags: '00000002', rdi: 'ffffffffc05de020' }),
        regs('nic_complete', { rip: 'ffffffffc05dc009', eflags: '00000046', rdi: 'ffffffffc05de020', rbp: 'ffffffffc05de020' }),
      ],
      trace: frames('_raw_spin_lock_irqsave <- nic_die_notify [nic] <- notify_die <- __die_body <- page_fault_oops <- exc_page_fault <- asm_exc_page_fault <- nic_poll [nic] <- hrtimer_interrupt'),
    }),
    ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 45s! [mapper:127]', {
      cpu: 0,
      details: { seconds: 45 },
      registers: [regs('smp_call_function_many_cond', { rip: 'ffffffff98770600', eflags: '00000202' })],
      trace: frames(tlbWait),
    }),
  ]);
  const d = diagnose(c);
  const byKind = (k: string) => d.findings.filter((f) => f.kind === k);
  it('makes the oops in IRQ the root; the NULL dereference and the self-deadlock in its oops path follow from it', () => {
    const root = byKind('oops-in-irq')[0];
    assert.equal(root?.role, 'root');
    assert.equal(d.verdict.roots[0], root.id);
    const nd = byKind('null-deref')[0];
    assert.equal(nd?.role, 'symptom');
    assert.ok(nd.causedBy?.includes(root.id));
    const sd = byKind('spinlock-self-deadlock')[0];
    assert.equal(sd?.role, 'symptom');
    assert.ok(sd.causedBy?.includes(root.id));
    assert.equal(sd.extra?.lockAddress, 'ffffffffc05de020');
    assert.ok(d.graph.cycles().some((cy) => cy.includes('cpu:1') && cy.includes('lock:ffffffffc05de020')));
  });
  it('makes CPU 0 a victim waiting for CPU 1', () => {
    const w = byKind('ipi-wait')[0];
    assert.deepEqual(w.extra?.targets, [1]);
    assert.equal(byKind('soft-lockup')[0].role, 'symptom');
  });
});

describe('hung tasks', () => {
  it('clusters by wait site and follows blocker hints to the owner', () => {
    const hung = (comm: string, pid: number, stack: string, owner?: { comm: string; pid: number }) =>
      ev('hung-task', `INFO: task ${comm}:${pid} blocked for more than 120 seconds.`, {
        task: { comm, pid },
        details: { seconds: 120, ...(owner ? { blockers: [{ kind: 'mutex' as const, owner, line: 1 }] } : {}) },
        trace: frames(stack),
      });
    const c = caseOf([
      hung('a', 10, '__schedule <- schedule <- schedule_preempt_disabled <- __mutex_lock.constprop.0 <- do_thing <- ksys_write', { comm: 'b', pid: 20 }),
      hung('c', 11, '__schedule <- schedule <- schedule_preempt_disabled <- __mutex_lock.constprop.0 <- do_thing <- ksys_write', { comm: 'b', pid: 20 }),
      hung('b', 20, '__schedule <- schedule <- io_schedule <- folio_wait_bit_common <- read_pages <- vfs_read'),
    ]);
    const d = diagnose(c);
    const clusters = d.findings.filter((f) => f.kind === 'hung-task-cluster');
    assert.equal(clusters.length, 2);
    assert.ok(clusters.some((f) => f.subjects.length === 2 && f.extra?.waitSite === 'do_thing' && f.extra?.lock === 'mutex'));
    // The chain ends at the owner b, asleep on a page: it holds the mutex and what it waits for never comes.
    const root = d.findings.find((f) => f.id === d.verdict.roots[0])!;
    assert.equal(root.kind, 'holder-sleeps');
    assert.match(root.summary, /^b:20 .*holds mutex/);
    assert.match(root.summary, /read_pages/);
    assert.ok(clusters.every((f) => f.role === 'symptom' && f.causedBy?.includes(root.id)));
  });
  it('reports a cycle of owners as a deadlock', () => {
    const c = caseOf([
      ev('hung-task', 'INFO: task x:1 blocked', { task: { comm: 'x', pid: 1 }, details: { blockers: [{ kind: 'mutex', owner: { comm: 'y', pid: 2 }, line: 3 }] }, trace: frames('schedule <- __mutex_lock <- f1') }),
      ev('hung-task', 'INFO: task y:2 blocked', { task: { comm: 'y', pid: 2 }, details: { blockers: [{ kind: 'mutex', owner: { comm: 'x', pid: 1 }, line: 13 }] }, trace: frames('schedule <- __mutex_lock <- f2') }),
    ]);
    const d = diagnose(c);
    const dl = d.findings.find((f) => f.kind === 'mutex-deadlock');
    assert.ok(dl);
    assert.equal(d.verdict.roots[0], dl.id);
  });
  it('without any hint, the cluster is only a low-confidence lead', () => {
    const c = caseOf([
      ev('hung-task', 'INFO: task blk-flush:90 blocked for more than 10 seconds.', {
        task: { comm: 'blk-flush', pid: 90 },
        trace: frames('__schedule <- schedule <- rwsem_down_write_slowpath <- ext4_buffered_write_iter <- vfs_write'),
      }),
    ]);
    const d = diagnose(c);
    assert.equal(d.verdict.status, 'inconclusive');
    // The root is the rw-semaphore whose holder the log does not name; the cluster is its symptom.
    assert.equal(d.findings[0].kind, 'holder-unknown');
    assert.match(d.findings[0].summary, /blk-flush:90 .*rw-semaphore \(write\).*ext4_buffered_write_iter/);
    assert.ok(d.findings[0].confidence <= 0.4);
    assert.equal(d.findings.find((f) => f.kind === 'hung-task-cluster')?.role, 'symptom');
  });
  it('finds the wait site below generic frames', () => {
    const ws = waitSite(frames('__schedule <- schedule <- ? foo <- rwsem_down_read_slowpath <- down_read <- ext4_file_read_iter <- vfs_read'));
    assert.equal(ws.site?.function, 'ext4_file_read_iter');
    assert.equal(ws.lock, 'rwsem-read');
  });
});

describe('panic context', () => {
  it('a softlockup panic is a symptom of the soft lockup, and the panicking CPU a victim', () => {
    const c = caseOf([
      ev('nmi-backtrace', 'NMI backtrace for cpu 1', {
        cpu: 1,
        registers: [regs('native_queued_spin_lock_slowpath', { eflags: '00000002', rdi: 'ffff0000' })],
        trace: frames('_raw_spin_lock <- foo_work'),
      }),
      ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 23s! [mapper:1]', {
        cpu: 0,
        registers: [regs('smp_call_function_many_cond', { eflags: '00000202' })],
        trace: frames(tlbWait),
      }),
      ev('panic', 'Kernel panic - not syncing: softlockup: hung tasks', { cpu: 0, details: { panicReason: 'softlockup: hung tasks' } }),
    ]);
    const d = diagnose(c);
    const p = d.findings.find((f) => f.kind === 'panic')!;
    assert.equal(p.role, 'symptom');
    assert.equal(p.extra?.cause, 'softlockup_panic');
    assert.ok(p.causedBy?.includes(d.verdict.roots[0]));
    assert.deepEqual(d.graph.chainFrom(`event:${p.subjects[0].kind === 'event' ? p.subjects[0].id : ''}`).slice(0, 4), [`event:${(p.subjects[0] as { id: string }).id}`, 'cpu:0', 'csd:0', 'cpu:1']);
    assert.equal(d.findings.find((f) => f.id === d.verdict.roots[0])?.extra?.cpu, 1);
  });
  it('an operator NMI panic alone is inconclusive, never the cause', () => {
    const c = caseOf([
      ev('unknown-nmi', 'Uhhuh. NMI received for unknown reason 21 on CPU 0.', { cpu: 0 }),
      ev('panic', 'Kernel panic - not syncing: NMI: Not continuing', { cpu: 0, details: { panicReason: 'NMI: Not continuing' } }),
    ]);
    const d = diagnose(c);
    assert.equal(d.verdict.status, 'inconclusive');
    assert.equal(d.findings[0].extra?.cause, 'nmi');
  });
});

describe('same spin on many CPUs', () => {
  it('names the shared loop', () => {
    const e = (cpu: number) =>
      ev('nmi-backtrace', `NMI backtrace for cpu ${cpu}`, {
        cpu,
        registers: [regs('tick_nohz_next_event', { eflags: '00000002' })],
        trace: frames('tick_nohz_idle_stop_tick <- do_idle <- cpu_startup_entry'),
      });
    const d = diagnose(caseOf([e(0), e(1), e(2), e(3)]));
    const f = d.findings.find((x) => x.kind === 'same-spin')!;
    assert.equal(f.role, 'root');
    assert.deepEqual(f.extra?.cpus, [0, 1, 2, 3]);
    assert.match(f.summary, /tick_nohz_next_event/);
  });
});

describe('edge cases', () => {
  it('nothing found is healthy', () => {
    const d = diagnose(caseOf([]));
    assert.equal(d.verdict.status, 'healthy');
    assert.equal(d.findings.length, 0);
  });
  it('a soft lockup with no registers and no stack still gives a lead', () => {
    const d = diagnose(caseOf([ev('soft-lockup', 'BUG: soft lockup - CPU#3 stuck for 61s! [x:9]', { cpu: 3 })]));
    // CPU 3 waits on nothing the log shows: it is the end of the chain, a hog whose loop is unknown.
    assert.equal(d.findings[0].kind, 'cpu-hog');
    assert.equal(d.findings[0].role, 'root');
    assert.equal(d.findings.find((f) => f.kind === 'soft-lockup')?.role, 'symptom');
    assert.equal(d.verdict.status, 'inconclusive');
  });
  it('an IPI waiter whose target is unknown says so', () => {
    const d = diagnose(
      caseOf([ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#2 stuck for 22s! [a:1]', { cpu: 2, registers: [regs('smp_call_function_many_cond', { eflags: '00000202' })], trace: frames(tlbWait) })]),
    );
    const w = d.findings.find((f) => f.kind === 'ipi-wait')!;
    assert.deepEqual(w.extra?.targets, []);
    assert.ok(w.steps.some((s) => /does not say which CPU/.test(s)));
  });
});

describe('CPUs parked by a panic', () => {
  it('are not a shared spin loop', () => {
    const parked = (cpu: number) =>
      ev('nmi-backtrace', `NMI backtrace for cpu ${cpu}`, {
        cpu,
        registers: [regs('native_halt', { eflags: '00000046' })],
        trace: frames('stop_this_cpu <- __sysvec_reboot <- sysvec_reboot <- asm_sysvec_reboot'),
      });
    const d = diagnose(caseOf([parked(1), parked(2), parked(3)]));
    assert.equal(d.findings.filter((f) => f.kind === 'same-spin' || f.kind === 'irqs-off-spin').length, 0);
    assert.equal(d.verdict.status, 'healthy');
  });
});

describe('a failing detector', () => {
  it('is reported; the other detectors still give their verdict, marked incomplete', async () => {
    const { DETECTORS } = await import('../../src/diagnose/index.ts');
    const broken = [{ name: 'broken', run: () => { throw new Error('boom'); } }, ...DETECTORS];
    const c = caseOf([ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#1 stuck for 30s! [x:1]', { cpu: 1 })]);
    const d = diagnose(c, broken);
    assert.deepEqual(d.errors, ['detector broken failed: boom']);
    assert.equal(d.findings[0].kind, 'cpu-hog');
    assert.ok(d.findings.some((f) => f.kind === 'soft-lockup'));
    const healthy = diagnose(caseOf([]), broken);
    assert.equal(healthy.verdict.status, 'inconclusive');
  });
});

describe('hung_task_panic', () => {
  it('is a symptom of the hung task it names; the hung tasks stay the lead', () => {
    const c = caseOf([
      ev('hung-task', 'INFO: task blk-dio/late:215 blocked for more than 10 seconds.', {
        task: { comm: 'blk-dio/late', pid: 215 },
        trace: frames('__schedule <- schedule <- rwsem_down_read_slowpath <- down_read <- ext4_file_read_iter <- vfs_read'),
      }),
      ev('panic', 'Kernel panic - not syncing: hung_task: blocked tasks', { cpu: 2, details: { panicReason: 'hung_task: blocked tasks' } }),
    ]);
    const d = diagnose(c);
    const p = d.findings.find((f) => f.kind === 'panic')!;
    assert.equal(p.role, 'symptom');
    assert.equal(p.extra?.cause, 'hung_task_panic');
    const root = d.findings.find((f) => f.id === d.verdict.roots[0])!;
    assert.equal(root.kind, 'holder-unknown');
    assert.match(root.summary, /blk-dio\/late:215/);
    assert.ok(p.causedBy?.includes(root.id));
  });
});

describe('not a hang', () => {
  it('a vfork parent waiting for its child is normal, however long', () => {
    const c = caseOf([]);
    c.tasks.push({ pid: 125, comm: 'sleeper/0', state: 'D', stack: frames('__schedule <- schedule <- schedule_timeout <- __wait_for_common <- wait_for_completion_state <- kernel_clone <- __do_sys_vfork <- do_syscall_64'), stackFrom: { kind: 'dump', source: 'vmcore', what: 'bt 125' }, events: [], facts: [] });
    assert.equal(diagnose(c).verdict.status, 'healthy');
  });
  it('an operator-NMI dump with nothing else is healthy when the machine was seen, inconclusive from the log alone', () => {
    const events = () => [
      ev('unknown-nmi', 'Uhhuh. NMI received for unknown reason 31 on CPU 0.', { cpu: 0 }),
      ev('panic', 'Kernel panic - not syncing: NMI: Not continuing', { cpu: 0, details: { panicReason: 'NMI: Not continuing' } }),
    ];
    const logOnly = diagnose(caseOf(events()));
    assert.equal(logOnly.verdict.status, 'inconclusive');
    assert.equal(logOnly.verdict.roots.length, 0);
    const withDump = caseOf(events());
    withDump.cpus[0].stackFrom = { kind: 'dump', source: 'vmcore', what: 'bt -c 0' };
    const d = diagnose(withDump);
    assert.equal(d.verdict.status, 'healthy');
    assert.match(d.verdict.summary, /forced/);
  });
  it('an RCU stall of a CPU that waits for an IPI is explained by that wait', () => {
    const d = diagnose(
      caseOf([
        ev('nmi-backtrace', 'NMI backtrace for cpu 1', { cpu: 1, registers: [regs('native_queued_spin_lock_slowpath', { eflags: '00000002', rdi: 'ffff1000' })], trace: frames('_raw_spin_lock <- work_fn') }),
        ev('rcu-stall', 'rcu: INFO: rcu_preempt self-detected stall on CPU', { cpu: 0, details: { stalledCpus: [0] } }),
        ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 45s! [mapper:1]', { cpu: 0, registers: [regs('smp_call_function_many_cond', { eflags: '00000202' })], trace: frames(tlbWait) }),
      ]),
    );
    assert.equal(d.findings.find((f) => f.kind === 'rcu-stall')?.role, 'symptom');
    assert.equal(d.verdict.roots.length, 1);
  });
});

describe('Code: bytes', () => {
  it('a soft lockup whose Code: bytes are a seqcount read loop says so', () => {
    const code = 'e0 01 c3 cc cc cc cc 66 0f 1f 44 00 00 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 90 66 0f 1f 00 0f 1f 44 00 00 eb 02 f3 90 <8b> 05 ed be a3 01 a8 01 75 f4 48 8b 0d c2 64 5f 02 48 8b 35 9b be';
    const bytes = code.split(/\s+/);
    const d = diagnose(
      caseOf([
        ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#2 stuck for 26s! [swapper/2:0]', {
          cpu: 2,
          registers: [regs('get_jiffies_update', { eflags: '00000246' })],
          trace: frames('tmigr_handle_remote <- handle_softirqs <- __irq_exit_rcu'),
          code: { bytes: code, markIndex: bytes.findIndex((b) => b.startsWith('<')) },
        }),
      ]),
    );
    const f = d.findings[0];
    assert.equal(f.kind, 'seqcount-stuck-odd');
    assert.match(f.summary, /sequence-count read loop/);
    assert.ok(f.steps.some((s) => s.includes('pause; mov <global>(%rip),%eax; test $0x1,%al; jne pc-2')), f.steps.join('\n'));
    const soft = d.findings.find((x) => x.kind === 'soft-lockup')!;
    assert.equal(soft.role, 'symptom');
    assert.match(soft.summary, /sequence-count read loop/);
    assert.equal(d.verdict.status, 'problem');
  });
  it('a lock-word spin is not called a seqcount', () => {
    const code = '7b 08 48 63 d0 e8 ef 9a 3c 00 3b 05 e9 c5 ac 01 73 25 48 63 d0 48 8b 33 48 03 34 d5 60 cb e1 ae 8b 56 08 83 e2 01 74 0a f3 90 <8b> 4e 08 83 e1 01 75 f6 83 c0 01 eb c1 48 83 c4 38';
    const bytes = code.split(/\s+/);
    const d = diagnose(caseOf([ev('soft-lockup', 'watchdog: BUG: soft lockup - CPU#0 stuck for 45s! [x:1]', { cpu: 0, registers: [regs('busy_fn', { eflags: '00000202' })], code: { bytes: code, markIndex: bytes.findIndex((b) => b.startsWith('<')) } })]));
    assert.doesNotMatch(d.findings[0].summary, /sequence-count/);
    assert.match(d.findings[0].summary, /polling a word until bit 0 clears/);
    assert.ok(d.findings.find((f) => f.kind === 'soft-lockup')!.steps.some((s) => /polls a word until bit 0 clears/.test(s)));
  });
});
