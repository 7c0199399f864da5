/**
 * Kernel log text -> events with traces and registers.
 *
 * Every entry point splits bytes into lines (lines.ts) and feeds them, boot by boot (boots.ts), to LogMachines
 * (machine.ts); `scanLogFile` feeds only the lines around trigger substrings (scan.ts) and gets the same events.
 */
import { InputError } from '../../model/errors.ts';
import { checkBinary, CHUNK, detectFormat, openLogSession, SAMPLE_BYTES, Session, type ParsedLog, type ParseOptions } from './session.ts';

export type { ParsedLog, ParseOptions } from './session.ts';
export { detectFormat, noKernelLinesNote, notKernelLogReason } from './session.ts';
export type { BootInfo, BootPrint } from './boots.ts';
export { comparePrints } from './boots.ts';


/** Parses a whole log held in memory. */
export function parseLogText(text: string | Buffer, source: string, opts: ParseOptions = {}): ParsedLog {
  const buf = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  checkBinary(buf.subarray(0, SAMPLE_BYTES), source);
  const s = new Session(source, detectFormat(buf.subarray(0, SAMPLE_BYTES), source), opts);
  for (let off = 0; off < buf.length; off += CHUNK) s.splitter.push(buf.subarray(off, Math.min(buf.length, off + CHUNK)));
  s.splitter.end();
  return s.result(s.splitter.lineNo, s.splitter.stats);
}

/** Parses a log file, streaming: memory stays constant whatever the size. */
export async function parseLogFile(path: string, label: string = path, opts: ParseOptions = {}): Promise<ParsedLog> {
  const { fh, session: s } = await openLogSession(path, label, opts);
  try {
    const buf = Buffer.alloc(CHUNK);
    let pos = 0;
    for (;;) {
      const { bytesRead: n } = await fh.read(buf, 0, CHUNK, pos);
      if (n === 0) break;
      s.splitter.push(buf.subarray(0, n));
      pos += n;
    }
    s.splitter.end();
    return s.result(s.splitter.lineNo, s.splitter.stats);
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read: ${(e as Error).message}`, label);
  } finally {
    await fh.close();
  }
}

/** Parses a stream (stdin, a pipe, a decompressor). The first 64 KiB are held back to decide the format; the rest streams. */
export async function parseLogStream(input: NodeJS.ReadableStream | AsyncIterable<Buffer | string>, label: string, opts: ParseOptions = {}): Promise<ParsedLog> {
  let s: Session | undefined;
  const held: Buffer[] = [];
  let heldLen = 0;
  const start = () => {
    const head = Buffer.concat(held, heldLen);
    checkBinary(head.subarray(0, SAMPLE_BYTES), label);
    s = new Session(label, detectFormat(head.subarray(0, SAMPLE_BYTES), label), opts);
    s.splitter.push(head);
    held.length = 0;
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (s) {
      s.splitter.push(b);
      continue;
    }
    held.push(b);
    heldLen += b.length;
    if (heldLen >= SAMPLE_BYTES) start();
  }
  if (!s) start();
  s!.splitter.end();
  return s!.result(s!.splitter.lineNo, s!.splitter.stats);
}

export { scanLogFile } from './scan.ts';
