/** Progress bars: drawn on a terminal once work runs past the delay, never on a pipe. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { startProgress } from '../../src/cli/progress.ts';
import { fixtureDirs, runCli } from '../helpers.ts';

function fakeTerminal(): { stream: Writable & { isTTY: boolean; columns: number }; text: () => string } {
  const chunks: string[] = [];
  const stream = Object.assign(
    new Writable({
      write(chunk, _enc, done) {
        chunks.push(String(chunk));
        done();
      },
    }),
    { isTTY: true, columns: 120, cursorTo: () => true, clearLine: () => true, moveCursor: () => true },
  );
  return { stream, text: () => chunks.join('') };
}

describe('progress', () => {
  it('a terminal sees the bar once the delay has passed, with what is being done', async () => {
    const t = fakeTerminal();
    const p = await startProgress('coroner analyze', { stream: t.stream, delayMs: 0 });
    assert.ok(p);
    p.update(0.42, 'reading vmcore');
    await new Promise((r) => setTimeout(r, 30));
    p.update(0.5, 'reading vmcore');
    p.stop();
    assert.match(t.text(), /coroner analyze \[.*\] (42|50)% reading vmcore/);
  });
  it('work done before the delay draws nothing', async () => {
    const t = fakeTerminal();
    const p = await startProgress('coroner analyze', { stream: t.stream, delayMs: 10_000 });
    p!.update(1, 'done');
    p!.stop();
    assert.equal(t.text(), '');
  });
  it('not a terminal: no progress at all', async () => {
    const t = fakeTerminal();
    t.stream.isTTY = false;
    assert.equal(await startProgress('x', { stream: t.stream, delayMs: 0 }), undefined);
    const dump = fixtureDirs().map((d) => join(d, 'vmcore.kdump')).find((f) => existsSync(f));
    if (dump) {
      const r = runCli(['analyze', dump]);
      assert.doesNotMatch(r.stderr, /coroner analyze \[|%/);
    }
  });
});
