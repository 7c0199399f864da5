/** "confirm:" lines: the Coroner command (dump alone, no debuginfo) before each crash command it stands for, and it runs. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { coronerEquivalent, withCoronerCommands } from '../../src/report/confirm.ts';
import type { Report } from '../../src/report/schema.ts';
import { fixtureDirs, runCli } from '../helpers.ts';

describe('confirm commands', () => {
  it('crash commands with a Coroner equivalent get it first; others stay alone', () => {
    assert.equal(coronerEquivalent('crash> dis -r ffffffffb1168545   # the loop', '/var/crash/x/vmcore'), 'coroner dump dis -r /var/crash/x/vmcore ffffffffb1168545   # the loop');
    assert.equal(coronerEquivalent('crash> foreach UN bt', 'my dump'), "coroner dump bt --state D 'my dump'");
    assert.equal(coronerEquivalent('crash> rd -32 jiffies_seq 4', 'v'), 'coroner dump rd -s 32 v jiffies_seq 4');
    assert.equal(coronerEquivalent('crash> struct mutex ffff888003a8c200', 'v'), 'coroner dump struct v mutex ffff888003a8c200');
    assert.equal(coronerEquivalent('crash> p jiffies_seq', 'v'), 'coroner dump p v jiffies_seq');
    assert.equal(coronerEquivalent('crash> p -x __preempt_count:1', 'v'), undefined);
    assert.deepEqual(withCoronerCommands(['crash> bt -a', 'cat /proc/x'], undefined), ['crash> bt -a', 'cat /proc/x']);
    assert.deepEqual(withCoronerCommands(['crash> bt -a', 'cat /proc/x'], 'v'), ['coroner dump bt v', 'crash> bt -a', 'cat /proc/x']);
  });
  const seq = fixtureDirs().find((d) => /hardlockup-seqcount$/.test(d) && existsSync(join(d, 'vmcore.kdump')));
  it('a vmcore verdict offers them, and the offered command runs on the dump', { skip: seq ? false : 'no fixtures' }, () => {
    const vmcore = join(seq!, 'vmcore.kdump');
    const rep = JSON.parse(runCli(['analyze', '--format', 'json', vmcore]).stdout) as Report;
    const root = rep.findings.find((f) => f.id === rep.verdict.roots[0])!;
    const i = root.confirm.findIndex((l) => l.startsWith('coroner dump dis -r'));
    assert.ok(i >= 0, root.confirm.join('\n'));
    assert.match(root.confirm[i + 1], /^crash> dis -r/);
    const args = root.confirm[i].replace(/\s+#.*$/, '').split(/\s+/).slice(1);
    const r = runCli(args);
    assert.equal(r.code, 0, r.stderr);
    // `dis -r` runs up to the RIP: the loop's instructions up to it are in what the command prints, the RIP last.
    const rip = BigInt('0x' + args[args.length - 1]);
    const loop = (root.extra.loop as string[]).map((l) => l.split(':')[0]).filter((a) => BigInt('0x' + a) <= rip);
    assert.ok(loop.length > 0);
    for (const a of loop) assert.ok(r.stdout.includes(`0x${a} `), a);
    assert.ok(r.stdout.trim().split('\n').pop()!.startsWith(`0x${rip.toString(16)} `));
  });
});
