/**
 * Helper programs for the live tests: compiled from test/live/*.c with gcc into a temporary
 * directory, started, waited for ("ready <pid> <tid>" on stdout), and always killed and reaped.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers.ts';

/** Why the live tests cannot run here, or undefined when they can. */
export function liveSkipReason(needPerf = false): string | undefined {
  if (process.platform !== 'linux') return 'live analysis needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (kernel stacks, other processes\' descriptors, perf)';
  if (spawnSync('gcc', ['--version']).status !== 0) return 'gcc is not installed';
  if (needPerf) {
    if (spawnSync('perf', ['--version']).status !== 0) return 'perf is not installed (Debian: linux-perf)';
    const r = spawnSync('perf', ['stat', '-e', 'cpu-clock', 'true'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) return `perf cannot count here: ${(r.stderr || r.error?.message || '').trim().split('\n')[0]}`;
  }
  return undefined;
}

export interface Helper {
  child: ChildProcess;
  pid: number;
  tid: number;
  /** SIGKILL, then wait (bounded) until the child is reaped. */
  stop(): Promise<void>;
}

export class HelperBuild {
  readonly dir = mkdtempSync(join(tmpdir(), 'coroner-live-test-'));

  /** Compiles test/live/<name>.c; throws with gcc's message on failure. */
  compile(name: string): string {
    const out = join(this.dir, name);
    const r = spawnSync('gcc', ['-O0', '-g', '-fno-omit-frame-pointer', '-pthread', '-o', out, join(repoRoot, 'test/live', `${name}.c`)], { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`gcc ${name}.c failed: ${r.stderr || r.error?.message}`);
    return out;
  }

  /** Starts a compiled helper with `args` and waits (at most `timeoutMs`) for its `ready <pid> <tid>` line. */
  async start(path: string, args: string[] = [], timeoutMs = 10_000): Promise<Helper> {
    const child = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const stop = async (): Promise<void> => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    };
    let err = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    try {
      const line = await new Promise<string>((resolve, reject) => {
        let buf = '';
        const timer = setTimeout(() => reject(new Error(`${path}: not ready after ${timeoutMs} ms ${err}`)), timeoutMs);
        child.stdout!.setEncoding('utf8').on('data', (d: string) => {
          buf += d;
          const m = /ready \d+ \d+/.exec(buf);
          if (m) {
            clearTimeout(timer);
            resolve(m[0]);
          }
        });
        child.once('exit', (code, sig) => {
          clearTimeout(timer);
          reject(new Error(`${path} exited (${code ?? sig}) before it was ready: ${err}`));
        });
      });
      const [, pid, tid] = line.split(' ').map(Number);
      return { child, pid, tid, stop };
    } catch (e) {
      await stop();
      throw e;
    }
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Waits (bounded) until thread `tid` of `pid` is in `state`; returns whether it got there. */
export async function waitForState(pid: number, tid: number, state: string, timeoutMs = 5_000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith(state)) return true;
    } catch {
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
