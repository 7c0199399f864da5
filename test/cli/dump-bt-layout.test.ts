/** `coroner dump bt` text is laid out as crash's `bt`: numbered frames and [exception RIP] blocks in the same places. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixturesRoot, runCli } from '../helpers.ts';

/** Per CPU: `#N function at address` and `[exception RIP: f+N]` lines (stack slots differ by design: ignored). */
function shape(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let cur = '';
  for (const line of text.split('\n')) {
    const head = /^PID: .*CPU: (\d+)/.exec(line);
    if (head) {
      cur = head[1];
      out.set(cur, []);
      continue;
    }
    const frame = /^\s*(#\d+) \[[0-9a-f?]+\] (\S+) at ([0-9a-f]+)/.exec(line);
    if (frame) out.get(cur)?.push(`${frame[1]} ${frame[2].replace(/\.(part|isra|constprop)\.\d+$/, '')} ${frame[3]}`);
    const exc = /\[exception RIP: (\S+)\]/.exec(line);
    if (exc) out.get(cur)?.push(`exception ${exc[1].replace(/\.(part|isra|constprop)\.\d+(?=\+)/, '')}`);
  }
  return out;
}

describe('dump bt -a text layout equals crash for CPUs in the kernel', () => {
  for (const [scenario, cpus] of [
    ['deb12-6.1.0-56/softlockup-ipi', ['0', '1']],
    ['deb12-6.1.0-56/hardlockup-seqcount', ['0', '1', '2', '3']],
    ['deb12-6.1.0-56/oops-irq-deadlock', ['0']],
  ] as const) {
    it(scenario, (t) => {
      const dir = join(fixturesRoot, scenario);
      if (!existsSync(join(dir, 'vmcore.kdump'))) return t.skip('fixture missing');
      const r = runCli(['dump', 'bt', '-a', join(dir, 'vmcore.kdump')]);
      assert.equal(r.code, 0, r.stderr);
      const ours = shape(r.stdout);
      const crash = shape(readFileSync(join(dir, 'crash.bt-a.txt'), 'latin1'));
      for (const cpu of cpus) assert.deepEqual(ours.get(cpu), crash.get(cpu), `CPU ${cpu}`);
    });
  }
});
