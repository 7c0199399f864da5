/**
 * Opening one piece of evidence, whatever it is on disk: a regular file (read by position), or a stream — stdin
 * (`-`, /dev/stdin), a pipe, a process substitution, a named FIFO, a character device — read once, in order. Compressed
 * content (gzip, xz, zstd, bzip2) is decompressed on the way, recognised by its magic bytes, not its name. The first
 * bytes of the (decompressed) content are held to tell a dump from a log before anything is parsed.
 *
 * Dumps are read at random offsets: one on stdin, in a pipe or compressed is an input error that says so.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants, createReadStream, openSync, readSync, realpathSync, statSync, type Stats } from 'node:fs';
import { Socket } from 'node:net';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { InputError } from '../model/errors.ts';
import { containerKindOf, type ContainerKind } from './dump/format/magic.ts';

/** How much of the start of the content is held before deciding what it is (and the log format). */
export const HEAD_BYTES = 64 * 1024;

export type Compression = 'gzip' | 'xz' | 'zstd' | 'bzip2';

/** What kind of file a path is, as far as reading goes. */
export type InputKind = 'file' | 'stdin' | 'pipe' | 'fifo' | 'device';

export interface OpenedInput {
  /** The name the user gave (`-` for stdin). */
  label: string;
  kind: InputKind;
  /** A regular file that is not compressed: it can be read by position (the fast paths, dumps). */
  seekable: boolean;
  compression?: Compression;
  /** The first bytes of the content, decompressed: HEAD_BYTES, or fewer when the content is shorter. */
  head: Buffer;
  /** The content holds no byte at all. */
  empty: boolean;
  /** A dump signature at the start of the content. */
  dump?: ContainerKind;
  /** Size in bytes of a regular file (compressed size when compressed). */
  size?: number;
  /** The whole content from its first byte (the head included), decompressed. Iterate once. */
  chunks(): AsyncIterable<Buffer>;
  /** Damage found while reading (a compressed stream that ends early): notes, and the source is incomplete. Filled as it is read. */
  problems: string[];
  /** Stops reading (a decompressor child is killed, a stream destroyed). */
  close(): void;
}

export interface OpenInputOptions {
  /** The stream `-` stands for (default: process.stdin). */
  stdin?: NodeJS.ReadableStream;
  /** Seconds to wait for the first byte from a named FIFO before deciding nobody writes to it (default: CORONER_FIFO_WAIT or 10). */
  fifoWaitSeconds?: number;
}

/** The compression format that `b` starts with. */
export function compressionOf(b: Uint8Array): Compression | undefined {
  if (b.length >= 3 && b[0] === 0x1f && b[1] === 0x8b && b[2] === 0x08) return 'gzip';
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0x00) return 'xz';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  if (b.length >= 4 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68 && b[3] >= 0x31 && b[3] <= 0x39) return 'bzip2';
  return undefined;
}

/** Opens `label` (a path, or `-` for stdin) and reads its head. Throws InputError for what cannot be read. */
export async function openInput(label: string, opts: OpenInputOptions = {}): Promise<OpenedInput> {
  if (label === '-') return streamInput(label, 'stdin', opts.stdin ?? process.stdin, undefined, undefined);
  let st: Stats;
  try {
    st = statSync(label);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read (${code ?? String(e)})`, label);
  }
  if (st.isDirectory()) throw new InputError('is a directory, not a log file', label);
  if (st.isFile() || st.isBlockDevice()) return fileInput(label, st);
  if (st.isFIFO()) {
    // A pipe (stdin, `<(...)`, /dev/fd/N) has a writer already; a named FIFO may have none yet.
    const named = isNamedFifo(label);
    let fd: number;
    try {
      fd = openSync(label, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (e) {
      throw new InputError(`cannot open (${(e as NodeJS.ErrnoException).code ?? String(e)})`, label);
    }
    const sock = new Socket({ fd, readable: true, writable: false });
    const wait = named ? (opts.fifoWaitSeconds ?? (Number(process.env.CORONER_FIFO_WAIT) || 10)) : undefined;
    return streamInput(label, named ? 'fifo' : 'pipe', sock, () => sock.destroy(), wait);
  }
  if (st.isCharacterDevice()) {
    const s = createReadStream(label, { highWaterMark: HEAD_BYTES });
    return streamInput(label, 'device', s, () => s.destroy(), undefined);
  }
  if (st.isSocket()) throw new InputError('is a socket: give a file, a pipe or - for stdin', label);
  throw new InputError('not a regular file, pipe or device', label);
}

/** A FIFO that has a name in a file system, not a pipe reached through /dev/fd or /proc/self/fd. */
function isNamedFifo(path: string): boolean {
  try {
    return !/^pipe:\[/.test(basename(realpathSync.native(path)));
  } catch {
    return false;
  }
}

/** A regular file: the head is read by position; the content is streamed (and decompressed) on demand. */
async function fileInput(label: string, st: Stats): Promise<OpenedInput> {
  let fd: number;
  try {
    fd = openSync(label, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(code === 'EACCES' ? 'permission denied' : `cannot open (${code ?? String(e)})`, label);
  }
  const raw = Buffer.alloc(HEAD_BYTES);
  let n = 0;
  try {
    for (;;) {
      const r = readSync(fd, raw, n, HEAD_BYTES - n, n);
      if (r <= 0) break;
      n += r;
      if (n >= HEAD_BYTES) break;
    }
  } catch (e) {
    throw new InputError(`cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`, label);
  } finally {
    closeSync(fd);
  }
  const rawHead = raw.subarray(0, n);
  const compression = compressionOf(rawHead);
  if (!compression) {
    return {
      label,
      kind: 'file',
      seekable: true,
      head: rawHead,
      empty: n === 0,
      dump: containerKindOf(rawHead),
      size: st.size,
      problems: [],
      chunks: () => createReadStream(label, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>,
      close: () => {},
    };
  }
  const s = createReadStream(label, { highWaterMark: 1024 * 1024 });
  const input = await streamInput(label, 'file', s, () => s.destroy(), undefined);
  input.size = st.size;
  return input;
}

/**
 * A stream: its first bytes are read (and decompressed) to decide what it is; `chunks()` replays them, then the rest.
 * `waitSeconds`: a named FIFO with nothing written within this time is an input error (nobody writes to it).
 */
async function streamInput(
  label: string,
  kind: InputKind,
  stream: NodeJS.ReadableStream,
  destroy: (() => void) | undefined,
  waitSeconds: number | undefined,
): Promise<OpenedInput> {
  const problems: string[] = [];
  const rawIt = asBuffers(stream)[Symbol.asyncIterator]();
  let rawHead: Held;
  try {
    rawHead = await hold(rawIt, 16, waitSeconds, label);
  } catch (e) {
    destroy?.();
    throw e;
  }
  const compression = compressionOf(rawHead.bytes);
  const raw = replay(rawHead, rawIt);
  let it = raw[Symbol.asyncIterator]();
  let closeDecoder: (() => void) | undefined;
  if (compression) {
    const d = decompress(compression, raw, label, problems);
    it = d.iterable[Symbol.asyncIterator]();
    closeDecoder = d.close;
  }
  const close = () => {
    closeDecoder?.();
    destroy?.();
  };
  let head: Held;
  try {
    head = await hold(it, HEAD_BYTES, undefined, label);
  } catch (e) {
    close();
    throw e;
  }
  const bytes = head.bytes;
  let used = false;
  return {
    label,
    kind,
    seekable: false,
    compression,
    head: bytes.subarray(0, Math.min(bytes.length, HEAD_BYTES)),
    empty: bytes.length === 0,
    dump: containerKindOf(bytes),
    problems,
    chunks: () => {
      if (used) throw new Error(`${label}: a stream can be read once`);
      used = true;
      return replay(head, it);
    },
    close,
  };
}

interface Held {
  chunks: Buffer[];
  bytes: Buffer;
  done: boolean;
}

/** Reads from `it` until `want` bytes are held or it ends; the first read may be bounded in time (a FIFO without writer). */
async function hold(it: AsyncIterator<Buffer>, want: number, waitSeconds: number | undefined, label: string): Promise<Held> {
  const chunks: Buffer[] = [];
  let n = 0;
  let done = false;
  while (n < want) {
    let r: IteratorResult<Buffer>;
    if (waitSeconds !== undefined && n === 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), waitSeconds * 1000)));
      const got = await Promise.race([it.next(), timeout]);
      clearTimeout(timer);
      if (got === 'timeout') {
        throw new InputError(`a FIFO that nobody writes to: nothing arrived within ${waitSeconds} s (start the writer first, or set CORONER_FIFO_WAIT=seconds)`, label);
      }
      r = got;
    } else r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    chunks.push(r.value);
    n += r.value.length;
  }
  return { chunks, bytes: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, n), done };
}

async function* replay(held: Held, it: AsyncIterator<Buffer>): AsyncIterable<Buffer> {
  for (const c of held.chunks) yield c;
  if (held.done) return;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}

async function* asBuffers(stream: NodeJS.ReadableStream | AsyncIterable<Buffer | string>): AsyncIterable<Buffer> {
  try {
    for await (const c of stream as AsyncIterable<Buffer | string>) {
      if (c.length) yield typeof c === 'string' ? Buffer.from(c, 'utf8') : c;
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    // A writer that went away mid-stream: what arrived is kept.
    if (code === 'ECONNRESET' || code === 'EPIPE') return;
    throw e;
  }
}

const TOOL: Record<'xz' | 'bzip2', { cmd: string; pkg: string }> = {
  xz: { cmd: 'xz', pkg: 'xz-utils' },
  bzip2: { cmd: 'bzip2', pkg: 'bzip2' },
};

/** Decompresses `src` as it is read. Damage past the start becomes a problem (the data before it is kept); a start that is not valid throws. */
function decompress(
  kind: Compression,
  src: AsyncIterable<Buffer>,
  label: string,
  problems: string[],
): { iterable: AsyncIterable<Buffer>; close: () => void } {
  if (kind === 'gzip') {
    const gunzip = createGunzip();
    const input = Readable.from(src);
    input.on('error', (e) => gunzip.destroy(e));
    input.pipe(gunzip);
    return { iterable: guarded(gunzip, kind, label, problems), close: () => gunzip.destroy() };
  }
  if (kind === 'zstd') return { iterable: zstdChunks(src, label, problems), close: () => {} };
  const tool = TOOL[kind];
  const child = spawn(tool.cmd, ['-dc'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  let spawnError: NodeJS.ErrnoException | undefined;
  child.on('error', (e: NodeJS.ErrnoException) => (spawnError = e));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.on('error', () => {}); // the tool stopped reading (error or close): its exit status says why
  const exited = new Promise<number | null>((res) => child.once('close', (code) => res(code)));
  void (async () => {
    try {
      for await (const c of src) {
        if (!child.stdin.write(c)) await new Promise((r) => child.stdin.once('drain', r));
        if (child.stdin.destroyed) break;
      }
    } catch (e) {
      problems.push(`reading stopped: ${(e as Error).message}`);
    }
    child.stdin.end();
  })();
  async function* out(): AsyncIterable<Buffer> {
    try {
      for await (const c of child.stdout as AsyncIterable<Buffer>) yield c;
    } catch {
      // the exit status below tells
    }
    const code = await exited;
    if (spawnError?.code === 'ENOENT') {
      throw new InputError(`${kind}-compressed: the \`${tool.cmd}\` command (Debian: ${tool.pkg}) is needed to decompress it and is not installed; decompress it first, or install it`, label);
    }
    if (spawnError) throw new InputError(`${kind}-compressed: cannot run ${tool.cmd} (${spawnError.code ?? spawnError.message})`, label);
    if (code !== 0) problems.push(`${kind} data is damaged or ends early: ${stderr.trim().split('\n').pop() || `${tool.cmd} exit ${code}`}; the log is read up to there`);
  }
  return { iterable: out(), close: () => child.kill('SIGKILL') };
}

/** A decompressing stream whose error after some output is a problem to note, not a failure. */
async function* guarded(stream: NodeJS.ReadableStream, kind: Compression, label: string, problems: string[]): AsyncIterable<Buffer> {
  let n = 0;
  try {
    for await (const c of stream as AsyncIterable<Buffer>) {
      n += c.length;
      yield c;
    }
  } catch (e) {
    const msg = (e as Error).message;
    if (n === 0) throw new InputError(`${kind} data is not valid (${msg})`, label);
    problems.push(`${kind} data is damaged or ends early after ${n} bytes (${msg}); the log is read up to there`);
  }
}

/** zstd with the zstddec WebAssembly decoder: the compressed bytes are held (small), the output is streamed. */
async function* zstdChunks(src: AsyncIterable<Buffer>, label: string, problems: string[]): AsyncIterable<Buffer> {
  const raw: Buffer[] = [];
  for await (const c of src) raw.push(c);
  const { ZSTDDecoder } = await import('zstddec/stream');
  const dec = new ZSTDDecoder();
  await dec.init();
  let n = 0;
  let empty = 0;
  try {
    for (const out of dec.decodeStreaming(raw)) {
      if (!out.length) {
        // The decoder does not report errors: on corrupt data it makes no progress. Stop instead of spinning.
        if (++empty > 1000) throw new Error('the decoder makes no progress (corrupt data)');
        continue;
      }
      empty = 0;
      n += out.length;
      yield Buffer.from(out.buffer, out.byteOffset, out.length);
    }
  } catch (e) {
    const msg = (e as Error).message;
    if (n === 0 && /Incomplete stream/.test(msg)) throw new InputError('zstd data ends before its first block could be decompressed (the file is truncated)', label);
    if (n === 0) throw new InputError(`zstd data is not valid (${msg})`, label);
    problems.push(`zstd data is damaged or ends early after ${n} bytes (${msg}); the log is read up to there`);
  }
}
