/**
 * Exploration commands (issue 14, first part): `dump sym` and `dump rd` on the fixtures' vmcores, checked against
 * crash's own output on the same dumps (its `sym` lines, the values its `p` printed, the addresses its `dis` named).
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixtureDirs, runCli } from '../helpers.ts';

const dirs = fixtureDirs().filter((d) => existsSync(join(d, 'vmcore.kdump')));

describe('dump sym / dump rd', { skip: dirs.length ? false : 'no fixtures' }, () => {
  for (const d of dirs) {
    const name = d.split('/').slice(-2).join('/');
    const vmcore = join(d, 'vmcore.kdump');
    const texts = readdirSync(d).filter((f) => /^crash\..*\.txt$/.test(f)).map((f) => readFileSync(join(d, f), 'utf8')).join('\n');
    const symLines = [...texts.matchAll(/^([0-9a-f]{16}) \(([a-zA-Z])\) (\S+)( \[\S+\])?$/gm)];
    if (symLines.length) {
      it(`${name}: dump sym prints crash's sym lines`, () => {
        for (const m of symLines) {
          const r = runCli(['dump', 'sym', vmcore, m[3]]);
          assert.equal(r.stdout.trim(), m[0]);
          const back = runCli(['dump', 'sym', vmcore, m[1]]);
          assert.equal(back.stdout.trim(), m[0]);
        }
      });
    }
    const named = [...texts.matchAll(/# 0x([0-9a-f]{16}) <([A-Za-z_]\w*)>/g)].slice(0, 5);
    if (named.length) {
      it(`${name}: dump sym names the addresses crash's dis names`, () => {
        for (const m of named) assert.match(runCli(['dump', 'sym', vmcore, m[1]]).stdout, new RegExp(`^${m[1]} \\(\\w\\) ${m[2]}\\n`));
      });
    }
    const p = existsSync(join(d, 'crash.p-jiffies_seq.txt')) ? readFileSync(join(d, 'crash.p-jiffies_seq.txt'), 'utf8') : '';
    if (p) {
      it(`${name}: dump rd reads what crash's p printed`, () => {
        const jiffies = BigInt(/^jiffies = \$\d+ = (\d+)/m.exec(p)![1]);
        assert.equal(BigInt('0x' + /:\s+([0-9a-f]{16})/.exec(runCli(['dump', 'rd', vmcore, 'jiffies']).stdout)![1]), jiffies);
        const seq = Number(/sequence = (\d+)/.exec(p)![1]);
        assert.equal(parseInt(/:\s+([0-9a-f]{8})/.exec(runCli(['dump', 'rd', '-s', '32', vmcore, 'jiffies_seq', '4']).stdout)![1], 16), seq);
      });
    }
  }
  it('an unknown symbol is an input error (exit 2), not a trace', () => {
    const r = runCli(['dump', 'sym', join(dirs[0], 'vmcore.kdump'), 'no_such_symbol_anywhere']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /no symbol "no_such_symbol_anywhere"/);
  });
});
