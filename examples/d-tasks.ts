/**
 * Example of the library API: every task in uninterruptible sleep (D, crash's UN) in a vmcore, with the function it
 * waits in (the first frame past the scheduler) — from the vmcore alone, no debuginfo.
 *
 *   node --import tsx examples/d-tasks.ts ../shared/fixtures/deb12-6.1.0-56/hung-uffd/vmcore.kdump
 */
import { openDump } from '../src/api/index.ts';

const SCHEDULER = /^(__schedule|schedule|schedule_timeout|schedule_preempt_disabled|io_schedule|context_switch|__switch_to(_asm)?|preempt_schedule\w*)$/;

const dump = openDump(process.argv[2] ?? 'vmcore');
try {
  for (const t of dump.tasks()) {
    if (t.state !== 'UN') continue;
    const stack = dump.stackOf(t);
    const wait = stack.find((f) => f.reliable && !SCHEDULER.test(f.function));
    console.log(`${String(t.pid).padStart(7)}  ${t.comm.padEnd(16)}  ${wait ? wait.function : '?'}  <- ${stack.slice(0, 6).map((f) => f.function).join(' <- ')}`);
  }
} finally {
  dump.close();
}
