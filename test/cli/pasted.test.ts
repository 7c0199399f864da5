/**
 * Pasted crash output gives the verdict of the dump it came from: for each fixture, `analyze` of the concatenation of
 * its crash.*.txt files (crash's own output on the vmcore) must find the dump's roots, or be a problem whose root
 * names the fact the text lacks; with only `bt -a` and `log` pasted, it must never be HEALTHY where the dump is not,
 * nor a problem where the dump is healthy. Read through stdin (`-`), as a pasted ticket would be.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { Report } from '../../src/report/schema.ts';
import { fixtureDirs, repoRoot, runCli } from '../helpers.ts';

const dirs = fixtureDirs().filter((d) => existsSync(join(d, 'crash.bt-a.txt')) && readdirSync(d).some((f) => /^vmcore/.test(f) && !/\.txt$/.test(f)));

function verdictOf(args: string[], input?: string): { status: string; roots: string[]; summaries: string[] } {
  const r = runCli(['analyze', '--format', 'json', ...args], input);
  assert.ok(r.stdout.trim().startsWith('{'), `analyze ${args.join(' ')}: ${r.stderr}`);
  const rep = JSON.parse(r.stdout) as Report;
  const byId = new Map(rep.findings.map((f) => [f.id, f]));
  return { status: rep.verdict.status, roots: rep.verdict.roots.map((id) => id.replace(/-\d+$/, '')), summaries: rep.verdict.roots.map((id) => byId.get(id)?.summary ?? '') };
}

const dumpVerdicts = new Map<string, ReturnType<typeof verdictOf>>();
function dumpVerdict(path: string): ReturnType<typeof verdictOf> {
  if (!dumpVerdicts.has(path)) dumpVerdicts.set(path, verdictOf([path]));
  return dumpVerdicts.get(path)!;
}

const MISSING = /not in the (pasted text|evidence)|is not in the evidence|who holds it .* not in the evidence|could not be proven/;

describe('pasted crash sessions', { skip: dirs.length ? false : 'no fixtures (../shared/fixtures)' }, () => {
  for (const d of dirs) {
    const name = d.split('/').slice(-2).join('/');
    const vmcore = readdirSync(d).filter((f) => /^vmcore/.test(f) && !/\.txt$/.test(f)).sort()[0];
    it(`${name}: every crash.*.txt pasted together gives the dump's roots or names what is missing`, () => {
      const dump = dumpVerdict(join(d, vmcore));
      const all = readdirSync(d).filter((f) => /^crash\..*\.txt$/.test(f)).sort().map((f) => readFileSync(join(d, f), 'utf8')).join('\n');
      const text = verdictOf(['-'], all);
      if (dump.status === 'healthy') {
        assert.equal(text.status, 'healthy', `${name}: the pasted text of a healthy dump: ${text.roots}`);
        return;
      }
      assert.notEqual(text.status, 'healthy');
      const same = dump.roots.every((k) => text.roots.includes(k));
      if (!same) assert.ok(text.summaries.some((s) => MISSING.test(s)), `${name}: dump roots ${dump.roots}, text roots ${text.roots} (${text.summaries.join(' | ')}) without naming the missing fact`);
    });
    it(`${name}: bt -a and log alone are never HEALTHY where the dump is not`, () => {
      const dump = dumpVerdict(join(d, vmcore));
      const text = verdictOf(['-'], readFileSync(join(d, 'crash.bt-a.txt'), 'utf8') + '\n' + (existsSync(join(d, 'crash.log.txt')) ? readFileSync(join(d, 'crash.log.txt'), 'utf8') : ''));
      assert.equal(text.status === 'healthy', dump.status === 'healthy', `${name}: dump ${dump.status}, bt -a + log ${text.status} (${text.roots})`);
    });
  }
});

describe('pasted perf output', () => {
  const data = join(repoRoot, 'test/data/pasted');
  const rootOf = (file: string) => {
    const r = runCli(['analyze', '--format', 'json', join(data, file)]);
    const rep = JSON.parse(r.stdout) as Report;
    return { status: rep.verdict.status, root: rep.findings.find((f) => f.id === rep.verdict.roots[0]) };
  };
  for (const [file, cause, pc] of [
    ['perf-fault-loop.txt', 'fault-loop-in-kernel', '1161'],
    ['perf-branch-to-self.txt', 'branch-to-self', '1129'],
    ['perf-frozen-below-guest.txt', 'fault-loop-below-kernel', '55d0c0a0112d'],
  ] as const) {
    it(`${file}: a thread frozen on one instruction, ${cause}`, () => {
      const { status, root } = rootOf(file);
      assert.equal(status, 'problem');
      assert.equal(root?.kind, 'frozen-instruction');
      assert.equal(root?.extra.cause, cause);
      // The PC is the one the samples show, not a constant: read it from the pasted samples.
      const text = readFileSync(join(data, file), 'utf8');
      const pcs = [...text.matchAll(/^\s+([0-9a-f]+) \S+ \((?!\[kernel)/gm)].map((m) => m[1]);
      const top = [...new Set(pcs)].sort((a, b) => pcs.filter((x) => x === b).length - pcs.filter((x) => x === a).length)[0];
      assert.equal(top, pc);
      assert.match(root!.summary, new RegExp(`0x${pc}`));
    });
  }
  it('crash output and perf output pasted together, mail-quoted: each is read', () => {
    const seq = fixtureDirs().find((d) => existsSync(join(d, 'crash.dis-tick_nohz_next_event.txt')));
    if (!seq) return;
    const crash = ['crash.bt-a.txt', 'crash.dis-tick_nohz_next_event.txt', 'crash.p-jiffies_seq.txt'].map((f) => readFileSync(join(seq, f), 'utf8')).join('\n');
    const mixed = (crash + '\n' + readFileSync(join(data, 'perf-branch-to-self.txt'), 'utf8')).split('\n').map((l) => `> ${l}`).join('\n');
    const r = runCli(['analyze', '--format', 'json', '-'], mixed);
    const rep = JSON.parse(r.stdout) as Report;
    const kinds = rep.verdict.roots.map((id) => rep.findings.find((f) => f.id === id)?.kind);
    assert.ok(kinds.includes('seqcount-stuck-odd'), `roots ${kinds}`);
    assert.ok(kinds.includes('frozen-instruction'), `roots ${kinds}`);
  });
});

describe('public pasted sessions (test/data/pasted/public)', () => {
  const dir = join(repoRoot, 'test/data/pasted/public');
  const cases = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.txt')).sort() : [];
  it('none is HEALTHY, and the first root names the culprit the thread established (table printed)', () => {
    const rows: string[][] = [];
    let right = 0;
    for (const f of cases) {
      const side = readFileSync(join(dir, f.replace(/\.txt$/, '.md')), 'utf8');
      const check = new RegExp(/^Check: `([^`]+)`/m.exec(side)![1]);
      const r = runCli(['analyze', '--format', 'json', join(dir, f)]);
      const rep = JSON.parse(r.stdout) as Report;
      const first = rep.findings.find((x) => x.id === rep.verdict.roots[0]);
      const ok = !!first && check.test(first.summary);
      if (ok) right++;
      rows.push([f.replace(/\.txt$/, ''), rep.verdict.status, first?.kind ?? '-', ok ? 'right' : 'wrong']);
      assert.notEqual(rep.verdict.status, 'healthy', `${f}: HEALTHY`);
    }
    console.log(rows.map((r) => `${r[0].padEnd(40)} ${r[1].padEnd(13)} ${r[2].padEnd(22)} ${r[3]}`).join('\n'));
    console.log(`public pasted sessions: right root ${right} of ${cases.length} (${Math.round((100 * right) / Math.max(cases.length, 1))}%)`);
    // A floor, not a target: what the rules reach today.
    assert.ok(right >= Math.ceil(cases.length * 0.75), `right ${right} of ${cases.length}`);
  });
});
