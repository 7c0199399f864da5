/**
 * Evidence paths -> one CaseFile. A path may be a kernel log, a vmcore, a directory such as
 * /var/crash/<dir> (its vmcore-dmesg.txt / dmesg.* / console logs and its vmcore), or `-` (stdin).
 */
import { openSync, readSync, closeSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { emptyCaseFile, type CaseFile } from '../model/casefile.ts';
import { InputError } from '../model/errors.ts';
import { addParsedLog } from './log-case.ts';
import { parseLogFile, parseLogStream, parseLogText } from './log/index.ts';

/** Log files picked up from a crash directory. kexec-dmesg.log is the capture kernel's own boot: not evidence. */
const LOG_NAMES = /^(vmcore-dmesg\.txt|dmesg(\.[\w-]+)?|dmesg\.txt|console(\.[\w-]+)?\.log|serial(\.[\w-]+)?\.log|kern\.log(\.\d+)?)$/;
const DUMP_NAMES = /^(vmcore(\.(kdump|elf|flat|\d+))?|.*\.vmcore|dump\.(elf|kdump))$/;

export type DumpKind = 'elf' | 'kdump-compressed' | 'flattened';

/** Sniffs the first bytes of a file for a dump signature. */
export function dumpKindOf(path: string): DumpKind | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const b = Buffer.alloc(16);
    const n = readSync(fd, b, 0, 16, 0);
    if (n >= 4 && b.subarray(0, 4).toString('latin1') === '\x7fELF') return 'elf';
    if (n >= 8 && b.subarray(0, 8).toString('latin1') === 'KDUMP   ') return 'kdump-compressed';
    if (n >= 12 && b.subarray(0, 12).toString('latin1') === 'makedumpfile') return 'flattened';
    return undefined;
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

/** A vmcore: its log (from the printk ring) feeds the log analysis; the dump reader fills what it can. */
async function addDump(c: CaseFile, path: string, opts: CollectOptions): Promise<void> {
  const kind = dumpKindOf(path)!;
  let reader: DumpReaderModule | undefined;
  try {
    const modPath = './dump/index.ts';
    reader = (await import(modPath)) as DumpReaderModule;
  } catch {
    reader = undefined;
  }
  if (!reader?.openKernelDump) {
    c.sources.push({ kind: 'dump', path, format: kind, notes: ['the dump was not analysed: this build of Coroner cannot read vmcores yet'], incomplete: true });
    return;
  }
  const dump = reader.openKernelDump(path, { systemMap: opts.systemMap });
  try {
    const lines = dump.log();
    const parsed = parseLogText(lines.join('\n'), `${path}#log`);
    parsed.format = 'dmesg from vmcore';
    const source = { kind: 'dump' as const, path, format: kind, notes: [...(dump.incomplete ?? [])], incomplete: (dump.incomplete ?? []).length > 0 };
    c.sources.push(source);
    addParsedLog(c, parsed, 'log');
    // CPUs, tasks and their stacks from the dump itself, after the log: the dump's stacks and registers are more direct and win.
    await fillFromDump(c, dump, source);
    await attachQueries(c, dump);
  } finally {
    if (!c.kernel) dump.close?.();
  }
}

/** The dump's CPUs, tasks and system facts into the CaseFile; new problems become the source's notes. */
async function fillFromDump(c: CaseFile, dump: { incomplete?: string[] }, source: { notes: string[]; incomplete?: boolean }): Promise<void> {
  const modPath = './dump/casefile.ts';
  const m = (await import(modPath)) as typeof import('./dump/casefile.ts');
  const before = new Set(dump.incomplete ?? []);
  m.fillCaseFromDump(c, dump as import('./dump/index.ts').KernelDump);
  const added = (dump.incomplete ?? []).filter((n) => !before.has(n));
  if (added.length) {
    source.notes.push(...added);
    source.incomplete = true;
  }
}

/** Memory queries for the detectors (they keep the dump open; `c.kernel.close()` closes it). */
async function attachQueries(c: CaseFile, dump: unknown): Promise<void> {
  const modPath = './dump/queries.ts';
  const q = (await import(modPath)) as { attachKernelQueries(c: CaseFile, dump: unknown): void };
  q.attachKernelQueries(c, dump);
}

interface DumpReaderModule {
  openKernelDump(path: string, opts?: { systemMap?: string }): { log(): string[]; incomplete?: string[]; close?(): void };
}
