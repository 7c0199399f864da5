/**
 * Failures that are not hangs, and the hangs they cause, written as the kernel prints them: an OOM kill alone, a
 * disk that fails under a filesystem, a workqueue lockup explained by the CPU hog it names, and a D task that has
 * been blocked a few milliseconds (not hung).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { diagnose } from '../../src/diagnose/index.ts';
import { emptyCaseFile } from '../../src/model/casefile.ts';
import { parseLogText } from '../../src/sources/log/index.ts';
import { addParsedLog } from '../../src/sources/log-case.ts';
import { frames } from './build.ts';

function fromLog(text: string) {
  const c = emptyCaseFile();
  addParsedLog(c, parseLogText(text, 'test.log'));
  return diagnose(c);
}

describe('failures that are not hangs', () => {
  it('an OOM kill alone is a problem, never healthy', () => {
    const d = fromLog(
      [
        '[ 1201.331010] stress invoked oom-killer: gfp_mask=0x140cca(GFP_HIGHUSER_MOVABLE|__GFP_COMP), order=0, oom_score_adj=0',
        '[ 1201.331030] CPU: 2 PID: 4410 Comm: stress Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2',
        '[ 1201.331200] Mem-Info:',
        '[ 1201.331400] oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,task_memcg=/user.slice,task=stress,pid=4410,uid=0',
        '[ 1201.331420] Out of memory: Killed process 4410 (stress) total-vm:1056000kB, anon-rss:940000kB, file-rss:4kB, shmem-rss:0kB, UID:0 pgtables:2020kB oom_score_adj:0',
      ].join('\n'),
    );
    assert.equal(d.verdict.status, 'problem');
    const root = d.findings[0];
    assert.equal(root.kind, 'oom');
    assert.match(root.summary, /stress:4410/);
  });

  it('SCSI timeouts, I/O errors, an ext4 journal abort and a read-only remount: the disk is the root, the filesystem its symptom', () => {
    const d = fromLog(
      [
        '[ 5400.100000] sd 2:0:0:0: [sdb] tag#7 timing out command, waited 180s',
        '[ 5400.100100] sd 2:0:0:0: [sdb] tag#7 FAILED Result: hostbyte=DID_TIME_OUT driverbyte=DRIVER_OK cmd_age=180s',
        '[ 5400.100200] blk_update_request: I/O error, dev sdb, sector 88211200 op 0x1:(WRITE) flags 0x800 phys_seg 8 prio class 0',
        '[ 5400.100300] Buffer I/O error on dev sdb1, logical block 11026144, lost async page write',
        '[ 5400.200000] Aborting journal on device sdb1-8.',
        '[ 5400.200100] EXT4-fs error (device sdb1): ext4_journal_check_start:83: comm kworker/u8:2: Detected aborted journal',
        '[ 5400.200200] EXT4-fs (sdb1): Remounting filesystem read-only',
      ].join('\n'),
    );
    assert.equal(d.verdict.status, 'problem');
    const root = d.findings[0];
    assert.equal(root.kind, 'io-error');
    assert.equal(root.extra?.device, 'sdb');
    assert.equal(d.verdict.roots.length, 1, d.verdict.summary);
  });

  it('a workqueue lockup is a symptom of the CPU hog running its in-flight work', () => {
    const d = fromLog(
      [
        '[  300.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 26s! [kworker/1:1:53]',
        '[  300.000010] CPU: 1 PID: 53 Comm: kworker/1:1 Tainted: G           OE      6.1.0-56-amd64 #1  Debian 6.1.192-2',
        '[  300.000020] Workqueue: stats stats_recalc_work [stats]',
        '[  300.000030] RIP: 0010:stats_recalc+0x6d/0x90 [stats]',
        '[  300.000040] RSP: 0018:ffffb3a4c0343e50 EFLAGS: 00000246',
        '[  300.000050] Call Trace:',
        '[  300.000060]  <TASK>',
        '[  300.000070]  process_one_work+0x1c7/0x380',
        '[  300.000080]  worker_thread+0x4d/0x380',
        '[  300.000090]  kthread+0xda/0x100',
        '[  300.000100]  ret_from_fork+0x22/0x30',
        '[  300.000110]  </TASK>',
        '[  330.000000] BUG: workqueue lockup - pool cpus=1 node=0 flags=0x0 nice=0 stuck for 57s!',
        '[  330.000010] Showing busy workqueues and worker pools:',
        '[  330.000020] workqueue stats: flags=0x0',
        '[  330.000030]   pwq 2: cpus=1 node=0 flags=0x0 nice=0 active=1/256 refcnt=2',
        '[  330.000040]     in-flight: 53:stats_recalc_work [stats]',
      ].join('\n'),
    );
    const root = d.findings[0];
    assert.equal(root.kind, 'cpu-hog');
    assert.equal(root.extra?.cpu, 1);
    assert.match(root.summary, /stats_recalc/);
    const wq = d.findings.find((f) => f.kind === 'workqueue-lockup')!;
    assert.equal(wq.role, 'symptom');
    assert.ok(wq.causedBy?.includes(root.id));
  });

  it('a D task blocked for a few milliseconds in a dump is not hung', () => {
    const c = emptyCaseFile();
    c.tasks.push({ pid: 900, comm: 'fio', state: 'D', blockedSeconds: 0.004, stack: frames('__schedule <- schedule <- io_schedule <- blk_mq_get_tag <- submit_bio'), stackFrom: { kind: 'dump', source: 'vmcore', what: 'bt 900' }, events: [], facts: [] });
    c.cpus.push({ cpu: 0, events: [], facts: [], stackFrom: { kind: 'dump', source: 'vmcore', what: 'bt -c 0' } });
    const d = diagnose(c);
    assert.equal(d.verdict.status, 'healthy', d.verdict.summary);
    c.tasks[0].blockedSeconds = 600;
    assert.notEqual(diagnose(c).verdict.status, 'healthy');
  });
});
