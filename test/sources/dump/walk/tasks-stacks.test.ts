/**
 * Every fixture vmcore against the crash oracle: the task list equals `ps` (pid, ppid, CPU, task,
 * state, comm, VSZ, RSS), time since last run equals `ps -m`, and every CPU's and every D task's
 * frames equal `bt -a` / `foreach UN bt` (function names in order), except where crash's frames are
 * known to be stale (listed below, each with its reason). Running CPUs' RIP/RFLAGS equal crash's
 * exception frames.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { openKernelDump, type KernelDump } from '../../../../src/sources/dump/index.ts';
import { vmcoreFixtures } from '../kernel/fixtures.ts';
import { collapse, parseCrashBt, parseCrashPs, type CrashBt } from './oracle.ts';

const fixtures = vmcoreFixtures();
const opened: KernelDump[] = [];
after(() => opened.forEach((d) => d.close()));

/**
 * Where crash 8.0.6 and the kernel's own unwinder (ORC) disagree, and why crash is the one that is off.
 * key: `<fixture> <cpu N | pid N>`; value: the reason.
 */
const CRASH_IS_STALE: Record<string, string> = {
  'deb12-6.1.0-56/oops-irq-deadlock cpu 1':
    "crash lists a stale tick_sched_timer frame where forge_nic_poll is (scenario.md); the kernel's console trace shows forge_nic_poll",
  'deb12-6.1.0-56-kdump/hardlockup-seqcount cpu 0':
    "crash skips nmi_panic.cold between panic and unknown_nmi_error.cold; the kernel's own trace in vmcore-dmesg.txt has it",
};

/** The note puts the CPU in user mode (or on the entry trampoline stack, about to switch): crash shows stale task-stack frames instead. */
function crashScannedStaleFrames(o: CrashBt): boolean {
  return o.exceptions.length === 0 && !o.functions.some((f) => /nmi|crash_kexec/.test(f));
}

for (const f of fixtures) {
  describe(f.name, () => {
    const d = openKernelDump(f.vmcore);
    opened.push(d);

    test('task list equals crash ps', () => {
      const oracle = parseCrashPs(f.oracle('crash.ps.txt') ?? '');
      assert.ok(oracle.length > 50, 'oracle parsed');
      const ours = d.scheduler.tasks();
      assert.deepEqual(d.scheduler.notes, []);
      const row = (t: { pid: number; ppid: number; cpu: number; task: string; st: string; comm: string; current: boolean; vsz: number; rss: number }) =>
        `${t.current ? '>' : ' '}${t.pid} ${t.ppid} ${t.cpu} ${t.task} ${t.st} ${t.vsz} ${t.rss} ${t.comm}`;
      assert.deepEqual(
        ours.map((t) => row({ ...t, task: t.address.toString(16).padStart(16, '0'), st: t.state.crash, vsz: t.vszKiB ?? 0, rss: t.rssKiB ?? 0 })),
        oracle.map(row),
      );
      for (const t of ours) assert.equal(t.kthread || t.mm === 0n, oracle.find((o) => o.task === t.address.toString(16).padStart(16, '0'))!.kthread, `${t.comm} kthread`);
    });

    test('time since last run equals crash ps -m (non-idle tasks)', { skip: !f.oracle('crash.ps-m.txt') && 'no ps -m oracle' }, () => {
      let n = 0;
      for (const line of (f.oracle('crash.ps-m.txt') ?? '').split('\n')) {
        const m = /^\[(\d+) (\d\d):(\d\d):(\d\d)\.(\d{3})\] \[(\w\w)\]\s+PID: (\d+)\s+TASK: ([0-9a-f]+)/.exec(line);
        if (!m || m[7] === '0') continue;
        const ms = ((Number(m[1]) * 24 + Number(m[2])) * 60 + Number(m[3])) * 60_000 + Number(m[4]) * 1000 + Number(m[5]);
        const t = d.scheduler.tasks().find((x) => x.address.toString(16) === m[8]);
        assert.ok(t?.sinceLastRun !== undefined, `pid ${m[7]}`);
        assert.equal(Math.floor(t!.sinceLastRun! * 1000), ms, `pid ${m[7]} ${t!.comm}`);
        n++;
      }
      assert.ok(n > 50);
    });

    test('every CPU: frames equal crash bt -a; running CPUs: RIP and RFLAGS equal', () => {
      const oracle = parseCrashBt(f.oracle('crash.bt-a.txt') ?? '');
      assert.equal(oracle.length, d.onlineCpus().length);
      for (const o of oracle) {
        const c = d.backtracer.cpu(o.cpu);
        assert.equal(c.task?.address.toString(16), o.task, `CPU ${o.cpu} current task`);
        const ours = collapse(c.trace.frames.map((x) => x.function));
        const key = `${f.name} cpu ${o.cpu}`;
        assert.ok(['end-of-stack', 'user-mode'].includes(c.trace.end.kind), `${key}: trace ends cleanly (${c.trace.end.detail})`);
        assert.ok(c.trace.frames.every((x) => x.reliable), `${key}: all frames reliable`);
        if (CRASH_IS_STALE[key]) {
          assert.notDeepEqual(ours, o.functions, `${key} differs from crash (${CRASH_IS_STALE[key]})`);
          assert.equal(ours.length, o.functions.length + (key.includes('nmi_panic') || key.endsWith('seqcount cpu 0') ? 1 : 0));
        } else if (crashScannedStaleFrames(o) && c.registers && (c.registers.cs & 3n) === 3n) {
          // In user mode: no kernel frames, the note's user registers are the whole story.
          assert.deepEqual(ours, [], key);
          assert.equal(c.trace.userRegs?.rip, c.registers.rip);
        } else if (crashScannedStaleFrames(o) && c.trace.frames[0]?.stack === 'entry') {
          // Caught on the entry trampoline stack on the way in from user mode: error_entry, then user registers.
          assert.deepEqual(ours, ['error_entry'], key);
          assert.equal(c.trace.userRegs?.rip, o.user?.rip, `${key} user RIP`);
        } else {
          assert.deepEqual(ours, o.functions, key);
        }
        // Exception frames: same RIP/RSP/RFLAGS as crash prints (the first one is the note for a QEMU dump).
        const exc = c.trace.frames.filter((x) => x.exceptionRip && x.pt && x.pt.regs.rsp !== undefined);
        for (const e of o.exceptions) {
          const mine = exc.find((x) => x.function === e.func);
          if (CRASH_IS_STALE[key] && !mine) continue;
          assert.ok(mine, `${key}: exception RIP ${e.func}+${e.offset}`);
          assert.equal(mine!.offset, e.offset, `${key} ${e.func} offset`);
          if (e.rip !== undefined) {
            assert.equal(mine!.pt!.regs.rip, e.rip, `${key} RIP`);
            assert.equal(mine!.pt!.regs.rsp, e.rsp, `${key} RSP`);
            assert.equal(mine!.pt!.regs.eflags, e.rflags, `${key} RFLAGS`);
          }
        }
        if (o.user?.rip !== undefined && c.trace.userRegs) assert.equal(c.trace.userRegs.rip, o.user.rip, `${key} user RIP`);
      }
    });

    test('every D task: frames equal crash foreach UN bt', () => {
      const oracle = parseCrashBt(f.oracle('crash.foreach-UN-bt.txt') ?? '');
      const dTasks = d.scheduler.tasks().filter((t) => t.state.letter === 'D');
      assert.deepEqual(dTasks.map((t) => t.pid).sort((a, b) => a - b), oracle.map((o) => o.pid).sort((a, b) => a - b));
      for (const o of oracle) {
        const t = dTasks.find((x) => x.pid === o.pid)!;
        const b = d.backtracer.task(t);
        assert.equal(b.trace.end.kind === 'error', false, `${t.comm}: ${b.trace.end.detail}`);
        assert.deepEqual(collapse(b.trace.frames.map((x) => x.function)), o.functions, `${f.name} pid ${o.pid} ${o.comm}`);
        assert.ok(b.trace.frames.every((x) => x.reliable));
        if (o.user?.rip !== undefined) assert.equal(b.trace.userRegs?.rip, o.user.rip);
      }
    });

    test('foreach bt: every task unwinds to the end of its stack', () => {
      const bad: string[] = [];
      for (const t of d.scheduler.tasks()) {
        const b = d.backtracer.task(t);
        if (!['end-of-stack', 'user-mode'].includes(b.trace.end.kind)) bad.push(`${t.comm}:${t.pid} ${b.trace.end.detail}`);
      }
      assert.deepEqual(bad, []);
    });

    test('foreach bt equals crash where the oracle has it', { skip: !f.oracle('crash.foreach-bt.txt') && 'no foreach bt oracle' }, () => {
      const oracle = parseCrashBt(f.oracle('crash.foreach-bt.txt') ?? '');
      let same = 0;
      const differ: string[] = [];
      for (const o of oracle) {
        const t = d.scheduler.tasks().find((x) => x.address.toString(16) === o.task);
        assert.ok(t, `task ${o.task}`);
        const b = d.backtracer.task(t!);
        const ours = collapse(b.trace.frames.map((x) => x.function));
        // Aliases (two names at one address, e.g. __x64_sys_pause = __do_sys_pause): crash picks one, kallsyms order the other.
        const alias = (a: string, b: string) => a === b || (d.symbols.address(a) !== undefined && d.symbols.address(a) === d.symbols.address(b));
        if (ours.length === o.functions.length && ours.every((x, i) => alias(x, o.functions[i]))) same++;
        else if (!(t!.current && crashScannedStaleFrames(o))) differ.push(`${o.pid} ${o.comm}: crash ${o.functions.join('<')} / ours ${ours.join('<')}`);
      }
      assert.deepEqual(differ, []);
      assert.ok(same >= oracle.length - 4, `${same} of ${oracle.length}`);
    });
  });
}
