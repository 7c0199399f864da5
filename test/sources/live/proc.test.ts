/** The /proc and perf text parsers of the live source, on samples written for these tests. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  kmsgRecordToLine,
  parseCmdline,
  parseFdinfo,
  parseInterrupts,
  parseKernelStack,
  parsePressure,
  parseSched,
  parseStat,
  parseStatus,
  parseSyscall,
  parseUptime,
  signalName,
  signalsInMask,
} from '../../../src/sources/live/proc.ts';
import { parsePerfScript, parsePerfStat } from '../../../src/sources/live/perf.ts';

// 52 fields; comm with a space and a closing parenthesis inside; minflt 7, majflt 2, utime 345, stime 12, starttime 81234, processor 1.
const STAT =
  '4242 (we ird) name) R 4100 4242 4100 34816 4242 4194304 7 0 2 0 345 12 0 0 20 0 3 0 81234 12345678 456 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0 0 0 0 0 0 0 0 0\n';

test('stat: comm with spaces and parentheses, counters, start time, CPU', () => {
  const s = parseStat(STAT)!;
  assert.equal(s.pid, 4242);
  assert.equal(s.comm, 'we ird) name');
  assert.equal(s.state, 'R');
  assert.equal(s.ppid, 4100);
  assert.equal(s.minflt, 7);
  assert.equal(s.majflt, 2);
  assert.equal(s.utime, 345);
  assert.equal(s.stime, 12);
  assert.equal(s.starttime, 81234);
  assert.equal(s.processor, 1);
  assert.equal(parseStat('garbage'), undefined);
  assert.equal(parseStat('12 (x) D 1 2'), undefined, 'truncated');
});

test('status: signal masks and switch counts', () => {
  const st = parseStatus('Name:\tworker\nTgid:\t77\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000100\nSigBlk:\t0000000000010000\nSigCgt:\t0000000180000400\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n');
  assert.equal(st.get('Tgid'), '77');
  assert.equal(st.get('ShdPnd'), '0000000000000100');
  assert.equal(st.get('voluntary_ctxt_switches'), '12');
  assert.deepEqual(signalsInMask(st.get('SigCgt')), [11, 32, 33]);
  assert.deepEqual(signalsInMask(st.get('ShdPnd')), [9]);
  assert.equal(signalName(11), 'SIGSEGV');
  assert.deepEqual(signalsInMask('zz'), []);
});

test('kernel stack: frames with offsets, sizes, modules; hidden (zero) addresses dropped', () => {
  const frames = parseKernelStack(
    [
      '[<0>] handle_userfault+0x366/0x840',
      '[<0>] __handle_mm_fault+0xa1e/0xf20',
      '[<ffffffffc0a01234>] wedge_wait+0x10/0x80 [forge_wedge]',
      '[<0>] entry_SYSCALL_64_after_hwframe+0x76/0x7e',
      'not a frame',
      '',
    ].join('\n'),
  );
  assert.equal(frames.length, 4);
  assert.deepEqual(frames[0], { function: 'handle_userfault', offset: 0x366, size: 0x840, reliable: true, stack: 'task' });
  assert.equal(frames[2].module, 'forge_wedge');
  assert.equal(frames[2].address, 'ffffffffc0a01234');
  assert.equal(frames[3].function, 'entry_SYSCALL_64_after_hwframe');
  assert.deepEqual(parseKernelStack(''), []);
});

test('fdinfo: userfaultfd counters, inode identity, epoll targets', () => {
  const u = parseFdinfo('pos:\t0\nflags:\t02000002\nmnt_id:\t15\nino:\t40961\npending:\t3\ntotal:\t5\nAPI:\taa:80000000:1ff\n');
  assert.deepEqual(u, { pos: 0, flags: '02000002', mntId: 15, ino: 40961, pending: 3, total: 5, api: 'aa:80000000:1ff' });
  const e = parseFdinfo('pos:\t0\nflags:\t02\nmnt_id:\t15\nino:\t1057\ntfd:        7 events:       19 data:                7  pos:0 ino:a001 sdev:f\ntfd:       12 events:       19 data:                c  pos:0 ino:a002 sdev:f\n');
  assert.deepEqual(e.epollTargets, [7, 12]);
  assert.equal(e.pending, undefined);
});

test('interrupts: CPU columns, per-CPU rows, single-count rows', () => {
  const t = parseInterrupts(
    [
      '           CPU0       CPU1       CPU3',
      '  0:         31          0          0   IO-APIC   2-edge      timer',
      ' 29:       1200     880000          5  PCI-MSIX-0000:00:03.0   0-edge      virtio1-input.0',
      'LOC:     40000      41000      39000   Local timer interrupts',
      'ERR:          0',
      'MIS:          0',
    ].join('\n'),
  );
  assert.deepEqual(t.cpus, [0, 1, 3]);
  assert.equal(t.rows.length, 5);
  assert.deepEqual(t.rows[1], { irq: '29', counts: [1200, 880000, 5], name: 'PCI-MSIX-0000:00:03.0 0-edge virtio1-input.0' });
  assert.equal(t.rows[2].name, 'Local timer interrupts');
  assert.deepEqual(t.rows[3].counts, [0]);
});

test('pressure, uptime, sched, syscall, cmdline', () => {
  const p = parsePressure('some avg10=1.50 avg60=0.20 avg300=0.05 total=123456\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=99\n');
  assert.equal(p.some?.avg10, 1.5);
  assert.equal(p.full?.total, 99);
  assert.equal(parseUptime('1234.56 2000.00\n'), 1234.56);
  assert.equal(parseUptime(''), undefined);
  assert.deepEqual(parseSched('worker (77, #threads: 1)\n-------------------\nse.exec_start                                :        572077.768954\nnr_switches                                  :                  413\n'), {
    execStartMs: 572077.768954,
    nrSwitches: 413,
  });
  assert.deepEqual(parseSyscall('running\n'), { kind: 'running' });
  assert.deepEqual(parseSyscall('-1 0x7ffc1000 0x401000\n'), { kind: 'not-in-syscall', sp: 0x7ffc1000n, pc: 0x401000n });
  const sc = parseSyscall('7 0x7ffd5000 0x2 0xffffffff 0x0 0x0 0x0 0x7ffd4f00 0x7f0012345678\n');
  assert.equal(sc?.kind, 'syscall');
  if (sc?.kind === 'syscall') {
    assert.equal(sc.nr, 7);
    assert.deepEqual(sc.args.slice(0, 3), [0x7ffd5000n, 2n, 0xffffffffn]);
    assert.equal(sc.pc, 0x7f0012345678n);
  }
  assert.equal(parseSyscall('1 2 3'), undefined);
  assert.equal(parseCmdline(Buffer.from('/usr/bin/firecracker\0--api-sock\0/run/fc.sock\0')), '/usr/bin/firecracker --api-sock /run/fc.sock');
});

test('kmsg records become dmesg lines', () => {
  assert.equal(kmsgRecordToLine('6,1234,5123456,-;INFO: task kworker/0:1:12 blocked for more than 120 seconds.\n SUBSYSTEM=x\n'), '[    5.123456] INFO: task kworker/0:1:12 blocked for more than 120 seconds.');
  assert.equal(kmsgRecordToLine('4,7,123,c,caller=T1;hello'), '[    0.000123] hello');
  assert.equal(kmsgRecordToLine('no semicolon'), undefined);
});

test('perf stat --per-thread CSV: counts, unsupported events, comm with a dash', () => {
  const counts = parsePerfStat(
    [
      'my-prog-101,500.81,msec,task-clock,500807569,100.00,0.998,CPUs utilized',
      'my-prog-101,169339,,page-faults,500807569,100.00,338.132,K/sec',
      'my-prog-101,169339,,signal:signal_deliver,500807569,100.00,338.132,K/sec',
      'my-prog-101,<not supported>,,instructions,0,100.00,,',
      'other-102,0,,page-faults,495436167,100.00,0.000,/sec',
      'other-102,12000,,instructions:u,495436167,100.00,,',
      'other-102,400000,,cycles:u,495436167,100.00,,',
    ].join('\n'),
  );
  assert.equal(counts.get(101)?.taskClockMs, 500.81);
  assert.equal(counts.get(101)?.pageFaults, 169339);
  assert.equal(counts.get(101)?.signalsDelivered, 169339);
  assert.deepEqual(counts.get(101)?.unsupported, ['instructions <not supported>']);
  assert.equal(counts.get(102)?.instructions, 12000);
  assert.equal(counts.get(102)?.cycles, 400000);
});

test('perf script with user registers: user PC per sample, user and kernel stacks, padded tids', () => {
  const text = [
    '  812 ',
    '\tffffffff8130d05f fpu__clear_user_states+0x5f ([kernel.kallsyms])',
    '\tffffffff81000c82 asm_exc_page_fault+0x22 ([kernel.kallsyms])',
    '\t            11ed main+0x7a (/tmp/prog)',
    '\t           2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)',
    ' ABI:2    IP:0x557b6bbfc1ed ',
    '',
    '  812 ',
    '\t            1169 handler+0x0 (/tmp/prog)',
    '\t           2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)',
    ' ABI:2    IP:0x557b6bbfc169 ',
    '',
    '12345 ',
    '\t            112d main+0x4 (/tmp/spin)',
    ' ABI:2    IP:0x0000558264eb412d ',
    '',
  ].join('\n');
  const s = parsePerfScript(text);
  assert.equal(s.get(812)?.length, 2);
  assert.deepEqual(s.get(812)![0], {
    pc: '557b6bbfc1ed',
    pcSymbol: 'main+0x7a',
    userStack: ['main+0x7a (/tmp/prog)', '__libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)'],
    kernelStack: ['fpu__clear_user_states', 'asm_exc_page_fault'],
  });
  assert.equal(s.get(812)![1].pc, '557b6bbfc169');
  assert.equal(s.get(812)![1].kernelStack, undefined);
  assert.equal(s.get(12345)![0].pc, '558264eb412d');
});
