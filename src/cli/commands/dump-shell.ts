/**
 * `coroner dump shell VMCORE`: one open dump, many questions. Each line is a dump command without the vmcore
 * (`sym jiffies`, `bt 158`, `p init_task.comm`, `files 154`); the dump stays open between them, so a lookup costs
 * what the lookup costs and not the dump's opening. A prompt with history and tab completion (commands, then
 * symbols) on a terminal; plain lines from stdin otherwise, so scripts can pipe a list of questions.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { createInterface } from 'node:readline';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { appendFileSync, readFileSync } from 'node:fs';
import { InputError } from '../../model/errors.ts';
import { registerDump, useSession } from './dump.ts';

const HISTORY = join(homedir(), '.coroner_history');

/** Splits a command line into words; '…' and "…" keep spaces. */
export function shellWords(line: string): string[] {
  const out: string[] = [];
  for (const m of line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) out.push(m[1] ?? m[2] ?? m[3]);
  return out;
}

export async function runShell(vmcore: string, opts: { systemMap?: string }): Promise<void> {
  const { openKernelDumpReady } = await import('../../sources/dump/index.ts');
  const dump = await openKernelDumpReady(vmcore, opts);
  useSession({ path: vmcore, dump });
  const commands = new Command().name('coroner').exitOverride();
  registerDump(commands);
  const names = commands.commands[0].commands.map((c) => c.name()).filter((n) => n !== 'shell');
  const tty = process.stdin.isTTY === true;
  let symbolNames: string[] | undefined;
  const completer = (line: string): [string[], string] => {
    const words = line.split(/\s+/);
    const last = words[words.length - 1];
    if (words.length === 1) return [names.filter((n) => n.startsWith(last)), last];
    if (!last) return [[], last];
    symbolNames ??= [...dump.symbols.core.entries()].map((s) => s.name);
    const hits: string[] = [];
    for (const n of symbolNames) if (n.startsWith(last) && hits.push(n) >= 200) break;
    return [hits, last];
  };
  const rl = createInterface({ input: process.stdin, output: tty ? process.stdout : undefined, terminal: tty, completer: tty ? completer : undefined, historySize: 1000 });
  if (tty) {
    try {
      (rl as unknown as { history: string[] }).history = readFileSync(HISTORY, 'utf8').split('\n').filter(Boolean).reverse().slice(0, 1000);
    } catch {
      // no history yet
    }
    process.stdout.write(`coroner dump shell: ${vmcore}\ncommands: ${names.join(', ')}; help COMMAND; quit\n`);
    rl.setPrompt('coroner> ');
    rl.prompt();
  }
  try {
    for await (const line of rl) {
      const words = shellWords(line.trim());
      if (words.length) {
        if (['quit', 'exit', 'q'].includes(words[0])) break;
        if (tty) {
          try {
            appendFileSync(HISTORY, `${line.trim()}\n`);
          } catch {
            // a read-only home: no history kept
          }
        }
        await runLine(words, vmcore, opts);
      }
      if (tty) rl.prompt();
    }
  } finally {
    rl.close();
    useSession(undefined);
    dump.close();
  }
}

async function runLine(words: string[], vmcore: string, opts: { systemMap?: string }): Promise<void> {
  const program = new Command()
    .name('coroner')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  registerDump(program);
  const [cmd, ...rest] = words;
  const argv = cmd === 'help' ? ['dump', ...(rest.length ? [rest[0], '--help'] : ['--help'])] : ['dump', cmd, vmcore, ...rest, ...(opts.systemMap ? ['--system-map', opts.systemMap] : [])];
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return; // commander said what was wrong
    if (err instanceof InputError) {
      process.stderr.write(`coroner: ${err.message}\n`);
      return;
    }
    process.stderr.write(`coroner: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  }
}
