/**
 * Evidence paths -> one CaseFile. A path may be a kernel log, a vmcore, a directory such as
 * /var/crash/<dir> (its vmcore-dmesg.txt / dmesg.* / console logs and its vmcore), or `-` (stdin).
 */
import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { emptyCaseFile, type CaseFile, type SourceInfo } from '../model/casefile.ts';
import { InputError } from '../model/errors.ts';
import { containerKindOf, type ContainerKind } from './dump/format/magic.ts';
import { addParsedLog } from './log-case.ts';
import { parseLogFile, parseLogStream, parseLogText } from './log/index.ts';

/** Log files picked up from a crash directory. kexec-dmesg.log is the capture kernel's own boot: not evidence. */
const LOG_NAMES = /^(vmcore-dmesg\.txt|dmesg(\.[\w-]+)?|dmesg\.txt|console(\.[\w-]+)?\.log|serial(\.[\w-]+)?\.log|kern\.log(\.\d+)?)$/;
const DUMP_NAMES = /^(vmcore(\.(kdump|elf|flat|\d+))?|.*\.vmcore|dump\.(elf|kdump))$/;

/** Sniffs the first bytes of a file for a dump signature (the same test the dump reader opens it by). */
export function dumpKindOf(path: string): ContainerKind | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(16);
    const n = readSync(fd, b, 0, 16, 0);
    return containerKindOf(b.subarray(0, n));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface CollectOptions {
  systemMap?: string;
  stdin?: NodeJS.ReadableStream;
}

/** Expands directories into the evidence files inside them. */
export function expandPaths(paths: string[]): Array<{ path: string; role: 'log' | 'dump' | 'stdin' }> {
  const out: Array<{ path: string; role: 'log' | 'dump' | 'stdin' }> = [];
  for (const p of paths) {
    if (p === '-') {
      out.push({ path: p, role: 'stdin' });
      continue;
    }
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new InputError(code === 'ENOENT' ? 'no such file or directory' : `cannot read (${code ?? String(err)})`, p);
    }
    if (st.isDirectory()) {
      let names: string[];
      try {
        names = readdirSync(p).sort();
      } catch (err) {
        throw new InputError(`cannot list directory (${(err as NodeJS.ErrnoException).code ?? String(err)})`, p);
      }
      const logs = names.filter((n) => LOG_NAMES.test(n));
      const dumps = names.filter((n) => DUMP_NAMES.test(n) && dumpKindOf(join(p, n)));
      if (!logs.length && !dumps.length) {
        throw new InputError('no kernel log (vmcore-dmesg.txt, dmesg*, console*.log, kern.log) or vmcore found in this directory', p);
      }
      for (const n of logs) out.push({ path: join(p, n), role: 'log' });
      for (const n of dumps) out.push({ path: join(p, n), role: 'dump' });
    } else {
      out.push({ path: p, role: dumpKindOf(p) ? 'dump' : 'log' });
    }
  }
  return out;
}

/** Reads every piece of evidence into one CaseFile. Throws InputError for unusable input. */
export async function collectEvidence(paths: string[], opts: CollectOptions = {}): Promise<CaseFile> {
  const c = emptyCaseFile();
  for (const item of expandPaths(paths)) {
    if (item.role === 'stdin') {
      addParsedLog(c, await parseLogStream(opts.stdin ?? process.stdin, '-'));
    } else if (item.role === 'log') {
      addParsedLog(c, await parseLogFile(item.path, item.path));
    } else {
      await addDump(c, item.path, opts);
    }
  }
  return c;
}

/**
 * A vmcore: its log (from the printk ring) feeds the log analysis; the dump reader fills what it can.
 * Opening must succeed (a file that is not a usable dump is an input error); after that, every stage
 * that fails leaves a note and marks the source incomplete, and the others still run.
 */
async function addDump(c: CaseFile, path: string, opts: CollectOptions): Promise<void> {
  const kind = dumpKindOf(path)!;
  // Loaded only when a dump is given: log-only analysis stays fast.
  const { openKernelDump } = await import('./dump/index.ts');
  const dump = openKernelDump(path, { systemMap: opts.systemMap });
  const source: SourceInfo = { kind: 'dump', path, format: kind, notes: [...dump.incomplete], incomplete: dump.incomplete.length > 0 };
  c.sources.push(source);
  const stage = async (what: string, run: () => unknown): Promise<void> => {
    const before = new Set(dump.incomplete);
    try {
      await run();
    } catch (err) {
      // A System.map the user named that does not fit is their error to fix, not a partial result.
      if (err instanceof InputError && opts.systemMap && /System\.map/.test(err.message)) throw err;
      source.notes.push(`${what} not read: ${err instanceof InputError ? err.describe() : err instanceof Error ? err.message : String(err)}`);
      source.incomplete = true;
    }
    const added = dump.incomplete.filter((n) => !before.has(n) && !source.notes.includes(n));
    if (added.length) {
      source.notes.push(...added);
      source.incomplete = true;
    }
  };
  try {
    await stage('kernel log', () => {
      const parsed = parseLogText(dump.log().join('\n'), `${path}#log`);
      parsed.format = 'dmesg from vmcore';
      addParsedLog(c, parsed, 'log');
    });
    // CPUs, tasks and their stacks from the dump itself, after the log: the dump's stacks and registers are more direct and win.
    await stage('CPUs and tasks', async () => (await import('./dump/casefile.ts')).fillCaseFromDump(c, dump));
    // Memory queries for the detectors (they keep the dump open; `c.kernel.close()` closes it).
    await stage('kernel memory queries', async () => (await import('./dump/queries.ts')).attachKernelQueries(c, dump));
  } finally {
    source.notes = [...new Set(source.notes)];
    if (!c.kernel) dump.close();
  }
}
