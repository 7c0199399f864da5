/** Positional byte access to a dump file (or to a virtual file such as a flattened stream). */
import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { InputError } from '../../../model/errors.ts';

/** Random access to the bytes of a (possibly virtual) file. Offsets are BigInt: dumps exceed 2^53 rarely, but offsets in headers are 64-bit. */
export interface ByteSource {
  readonly path: string;
  /** Size in bytes of the (virtual) file. */
  readonly size: bigint;
  /** Reads up to `length` bytes at `offset`; returns fewer at the end of the data (never throws for a short read). */
  readAt(offset: bigint, length: number): Buffer;
  close(): void;
}

/** Reads exactly `length` bytes or throws InputError naming the file, offset and what was being read. */
export function readExact(src: ByteSource, offset: bigint, length: number, what: string): Buffer {
  if (offset < 0n || length < 0) throw new InputError(`${what}: invalid offset or length (${length} bytes)`, src.path, offset);
  const buf = src.readAt(offset, length);
  if (buf.length < length) {
    throw new InputError(
      `${what}: file ends after ${buf.length} of ${length} bytes (truncated? size ${src.size})`,
      src.path,
      offset,
    );
  }
  return buf;
}

/** A regular file read with pread. */
export class FileSource implements ByteSource {
  readonly size: bigint;
  private fd: number | undefined;

  constructor(readonly path: string) {
    // Checked before opening too: opening a FIFO nobody writes to would block.
    try {
      notRegular(statSync(path), path);
    } catch (e) {
      if (e instanceof InputError) throw e;
    }
    try {
      this.fd = openSync(path, 'r');
    } catch (e) {
      throw new InputError(`cannot open: ${(e as Error).message}`, path);
    }
    try {
      const st = fstatSync(this.fd, { bigint: true });
      notRegular(st, path);
      this.size = st.size;
    } catch (e) {
      closeSync(this.fd);
      this.fd = undefined;
      throw e;
    }
  }

  readAt(offset: bigint, length: number): Buffer {
    if (this.fd === undefined) throw new Error(`${this.path}: read after close`);
    if (offset < 0n || offset >= this.size || length <= 0) return Buffer.alloc(0);
    const avail = this.size - offset;
    const n = avail < BigInt(length) ? Number(avail) : length;
    const buf = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      const r = readSync(this.fd, buf, done, n - done, offset + BigInt(done));
      if (r <= 0) break;
      done += r;
    }
    return done === n ? buf : buf.subarray(0, done);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Throws the input error for a file a dump cannot be read from (positional reads need a regular file or a block device). */
function notRegular(st: { isFile(): boolean; isBlockDevice(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isSocket(): boolean }, path: string): void {
  if (st.isFile() || st.isBlockDevice()) return;
  const what = st.isFIFO() ? 'a pipe or FIFO' : st.isCharacterDevice() ? 'a character device' : st.isSocket() ? 'a socket' : 'not a regular file';
  throw new InputError(`${what}: a dump is read at random offsets, so it must be a regular file: give its path`, path);
}

/** Whether this host stores numbers little-endian (typed-array views over dump data assume it where they use it). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * A bounded cache that keeps what was used recently: two generations of at most `capacity` entries each; a hit in the
 * old one moves the entry to the young one, and when the young one is full it becomes the old one. A lookup costs one
 * or two Map reads, never a delete and re-insert (a strict LRU's cost on every hit, a third of the time of a
 * page-table walk).
 */
export class LruCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  constructor(readonly capacity: number) {}

  get(key: K): V | undefined {
    const v = this.young.get(key);
    if (v !== undefined) return v;
    const o = this.old.get(key);
    if (o !== undefined) this.set(key, o);
    return o;
  }

  set(key: K, value: V): void {
    this.young.set(key, value);
    if (this.young.size >= this.capacity) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }

  /** Entries held (an entry in both generations counts once per generation). */
  get size(): number {
    return this.young.size + this.old.size;
  }
}

/** Reads a NUL-terminated string from a fixed-size field. */
export function cString(buf: Buffer, start = 0, end = buf.length): string {
  const z = buf.indexOf(0, start);
  return buf.toString('latin1', start, z >= 0 && z < end ? z : end);
}
