/**
 * Progress on a terminal for work that takes over a second (a vmcore, a big log): a cli-progress bar on stderr, shown
 * only once the work has run for `delayMs`, cleared when done. Silent when stderr is not a TTY (pipes, files, CI), so
 * reports and scripts never see it.
 */
import type { Writable } from 'node:stream';

export interface Progress {
  /** `fraction` in 0..1 of the whole work, and what is being done. */
  update(fraction: number, what: string): void;
  stop(): void;
}

export interface ProgressOptions {
  stream?: Writable & { isTTY?: boolean };
  /** Show the bar only when the work is still running after this long. */
  delayMs?: number;
}

export async function startProgress(label: string, opts: ProgressOptions = {}): Promise<Progress | undefined> {
  const stream = opts.stream ?? process.stderr;
  if (!stream.isTTY) return undefined;
  const cliProgress = (await import('cli-progress')).default;
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% {what}`, hideCursor: true, clearOnComplete: true, stream: stream as NodeJS.WritableStream, noTTYOutput: false },
    cliProgress.Presets.shades_classic,
  );
  let shown = false;
  let stopped = false;
  let last = { value: 0, what: '' };
  const show = () => {
    if (stopped) return;
    shown = true;
    bar.start(100, last.value, { what: last.what });
  };
  const timer = setTimeout(show, opts.delayMs ?? 1000);
  timer.unref();
  return {
    update(fraction, what) {
      last = { value: Math.max(0, Math.min(100, Math.round(fraction * 100))), what };
      if (shown) bar.update(last.value, { what });
    },
    stop() {
      clearTimeout(timer);
      stopped = true;
      if (shown) bar.stop();
      shown = false;
    },
  };
}
