/**
 * perf on the live host: short `perf record` sampling of chosen threads (user PC with user
 * registers, call chains) and `perf stat` counters (faults, signals, instructions, cycles).
 * Every call returns a value with the reason when perf could not tell; nothing throws.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PcSample } from '../../model/casefile.ts';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  error?: string;
}

/** Runs a program with a time limit; the child is killed (and reaped) when the limit passes. */
export function run(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    let done = false;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      if (!done) child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < 64 * 1024 * 1024) stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1024 * 1024) stderr += d;
    });
    child.on('error', (err) => {
      done = true;
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, error: (err as NodeJS.ErrnoException).code ?? err.message });
    });
    child.on('close', (code, signal) => {
      done = true;
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ...(signal ? { error: `killed by ${signal}` } : {}) });
    });
  });
}

/** The first informative line of perf's error output (perf prints a bare `Error:` line before the message). */
export function firstLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^Error:?$/.test(l));
  return (lines[0] ?? text.trim()).replace(/^Error:\s*/, '').slice(0, 300);
}

export interface PerfInfo {
  available: boolean;
  version?: string;
  /** Why perf cannot be used. */
  reason?: string;
}

export async function perfInfo(perf = 'perf'): Promise<PerfInfo> {
  const r = await run(perf, ['--version'], 10_000);
  if (r.error === 'ENOENT') return { available: false, reason: 'perf is not installed (Debian: apt-get install linux-perf)' };
  if (r.code !== 0) return { available: false, reason: `perf --version failed: ${firstLine(r.stderr || r.error || '')}` };
  return { available: true, version: r.stdout.trim().replace(/^perf version\s*/, '') };
}

export interface PerfStatCounts {
  taskClockMs?: number;
  pageFaults?: number;
  minorFaults?: number;
  majorFaults?: number;
  signalsDelivered?: number;
  instructions?: number;
  cycles?: number;
  /** Events perf could not count for this thread, with perf's word for it (`<not supported>`). */
  unsupported: string[];
}

const EVENT_FIELD: Record<string, keyof Omit<PerfStatCounts, 'unsupported'>> = {
  'task-clock': 'taskClockMs',
  'page-faults': 'pageFaults',
  'minor-faults': 'minorFaults',
  'major-faults': 'majorFaults',
  'signal:signal_deliver': 'signalsDelivered',
  instructions: 'instructions',
  cycles: 'cycles',
};

/**
 * `perf stat -x, --per-thread` output: `comm-tid,value,unit,event,run-time,pct,...`.
 * Values may be `<not supported>` / `<not counted>`; event names may carry a `:u` suffix.
 */
export function parsePerfStat(text: string): Map<number, PerfStatCounts> {
  const out = new Map<number, PerfStatCounts>();
  for (const line of text.split('\n')) {
    const m = /^(.*)-(\d+),([^,]*),([^,]*),([^,]+)(?:,|$)/.exec(line.trim());
    if (!m) continue;
    const tid = Number(m[2]);
    const event = m[5].replace(/:[ukhGH]+$/, '');
    const field = EVENT_FIELD[event];
    if (!field) continue;
    const c = out.get(tid) ?? { unsupported: [] };
    out.set(tid, c);
    const value = m[3];
    if (/^<.*>$/.test(value)) c.unsupported.push(`${event} ${value}`);
    else if (Number.isFinite(Number(value))) c[field] = Number(value);
  }
  return out;
}

/**
 * Counts per thread over `seconds`. The tracepoint for signal deliveries may be missing (no
 * tracefs): then it is retried without it and the result says so.
 */
export async function perfStat(tids: number[], seconds: number, perf = 'perf'): Promise<{ counts: Map<number, PerfStatCounts>; notes: string[] }> {
  const notes: string[] = [];
  const base = ['task-clock', 'page-faults', 'minor-faults', 'major-faults', 'instructions', 'cycles'];
  for (const events of [[...base, 'signal:signal_deliver'], base]) {
    const r = await run(perf, ['stat', '-x,', '--per-thread', '-e', events.join(','), '-t', tids.join(','), '--', 'sleep', String(seconds)], (seconds + 20) * 1000);
    const counts = parsePerfStat(r.stderr);
    if (counts.size) {
      if (!events.includes('signal:signal_deliver')) notes.push('signal deliveries not counted: the signal:signal_deliver tracepoint is not available');
      return { counts, notes };
    }
    notes.push(`perf stat failed: ${firstLine(r.stderr || r.error || `exit ${r.code}`)}`);
  }
  return { counts: new Map(), notes };
}

/**
 * `perf script -F tid,ip,sym,symoff,dso,uregs` of a `perf record -g --user-regs=ip` file: a
 * sample header `tid`, the call chain (one `addr sym+off (dso)` line a frame, innermost first),
 * then ` ABI:2 IP:0x...` with the user registers at the sample.
 */
export function parsePerfScript(text: string): Map<number, PcSample[]> {
  const out = new Map<number, PcSample[]>();
  let cur: { tid: number; frames: Array<{ addr: string; sym: string; dso: string }>; ip?: string } | undefined;
  const flush = (): void => {
    if (!cur) return;
    const kernel = cur.frames.filter(isKernelFrame);
    const user = cur.frames.filter((f) => !isKernelFrame(f));
    const pc = cur.ip ?? (kernel.length === 0 ? user[0]?.addr : undefined);
    if (pc) {
      const sample: PcSample = { pc, userStack: user.map((f) => `${f.sym} (${f.dso})`) };
      const sym = user[0]?.sym;
      if (sym && sym !== '[unknown]') sample.pcSymbol = sym;
      if (kernel.length) sample.kernelStack = kernel.map((f) => f.sym.replace(/\+0x[0-9a-f]+$/, ''));
      const list = out.get(cur.tid) ?? [];
      list.push(sample);
      out.set(cur.tid, list);
    }
    cur = undefined;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (!line.trim()) {
      flush();
      continue;
    }
    // The sample header is the tid alone (right-aligned: it may start with spaces).
    const head = /^\s*(\d+)\s*$/.exec(line);
    if (head) {
      flush();
      cur = { tid: Number(head[1]), frames: [] };
      continue;
    }
    if (!cur) continue;
    const regs = /\bIP:0x([0-9a-f]+)/i.exec(line);
    if (/\bABI:/.test(line)) {
      if (regs) cur.ip = regs[1].replace(/^0+(?=.)/, '');
      continue;
    }
    const fr = /^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$/.exec(line);
    if (fr) cur.frames.push({ addr: fr[1], sym: fr[2], dso: fr[3] });
  }
  flush();
  return out;
}

/** Kernel text lives in the top half of the address space (x86_64 and arm64 alike); perf names it [kernel.kallsyms] or [module]. */
function isKernelFrame(f: { addr: string; dso: string }): boolean {
  if (f.dso === '[kernel.kallsyms]' || f.dso.startsWith('[kernel')) return true;
  return f.addr.length === 16 && /^ff/i.test(f.addr);
}

/** Samples of `tids` for `seconds` (cpu-clock, so it works without a hardware PMU). */
export async function perfRecord(
  tids: number[],
  seconds: number,
  perf = 'perf',
): Promise<{ samples: Map<number, PcSample[]>; notes: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'coroner-perf-'));
  const file = join(dir, 'perf.data');
  try {
    const rec = await run(
      perf,
      ['record', '-q', '-e', 'cpu-clock', '-F', '199', '-g', '--user-regs=ip', '-t', tids.join(','), '-o', file, '--', 'sleep', String(seconds)],
      (seconds + 30) * 1000,
    );
    if (rec.code !== 0) return { samples: new Map(), notes: [`perf record failed: ${firstLine(rec.stderr || rec.error || `exit ${rec.code}`)}`] };
    const scr = await run(perf, ['script', '-i', file, '-F', 'tid,ip,sym,symoff,dso,uregs'], 60_000);
    if (scr.code !== 0) return { samples: new Map(), notes: [`perf script failed: ${firstLine(scr.stderr || scr.error || `exit ${scr.code}`)}`] };
    return { samples: parsePerfScript(scr.stdout), notes: [] };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
