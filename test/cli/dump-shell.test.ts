/** `coroner dump shell`: one open dump answers many questions, the same answers as the one-shot commands. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { shellWords } from '../../src/cli/commands/dump-shell.ts';
import { fixturesRoot, runCli } from '../helpers.ts';

const vmcore = join(fixturesRoot, 'deb12-6.1.0-56/hung-uffd/vmcore.kdump');

test('shell words keep quoted spaces', () => {
  assert.deepEqual(shellWords(`p init_task.comm "a b" 'c d' e`), ['p', 'init_task.comm', 'a b', 'c d', 'e']);
});

test('dump shell: piped questions get the one-shot answers, a bad one does not end the session', { skip: !existsSync(vmcore) && 'fixture missing' }, () => {
  const questions = ['sym jiffies', 'p init_task.comm', 'bogus-command', 'sym no_such_symbol_here', 'files 154', 'waitq ff144270c2c6f9c0', 'quit', 'sym never_reached'];
  const r = runCli(['dump', 'shell', vmcore], questions.join('\n') + '\n');
  assert.equal(r.code, 0, r.stderr);
  const expected = ['sym jiffies', 'p init_task.comm', 'files 154', 'waitq ff144270c2c6f9c0'].map((q) => {
    const [cmd, ...rest] = q.split(' ');
    return runCli(['dump', cmd, vmcore, ...rest]).stdout;
  });
  assert.equal(r.stdout, expected.join(''));
  assert.match(r.stderr, /unknown command 'bogus-command'/);
  assert.match(r.stderr, /no symbol "no_such_symbol_here"/);
  assert.doesNotMatch(r.stderr + r.stdout, /never_reached/);
});
