/**
 * Test-only writers that turn the real pages of a fixture dump into other container formats with real
 * encoders: ELF64 core, kdump-compressed (zlib, lzo via the `lzo` package, snappy via snappyjs, zstd via
 * @bokuweb/zstd-wasm, none) and makedumpfile flattened streams. Layouts follow the published formats.
 */
import { closeSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { deflateSync } from 'node:zlib';
import { createRequire } from 'node:module';
import snappy from 'snappyjs';
import type { ElfNote } from '../../../../src/sources/dump/format/notes.ts';
import type { KdumpContainer } from '../../../../src/sources/dump/format/kdump.ts';

export type Codec = 'zlib' | 'lzo' | 'snappy' | 'zstd' | 'none';
const FLAG: Record<Codec, number> = { zlib: 0x1, lzo: 0x2, snappy: 0x4, zstd: 0x20, none: 0 };

const require = createRequire(import.meta.url);

/** The encoder of a codec, or a reason it is unavailable here. */
export async function encoder(codec: Codec): Promise<((page: Buffer) => Buffer) | string> {
  switch (codec) {
    case 'none':
      return (p) => p;
    case 'zlib':
      return (p) => deflateSync(p);
    case 'snappy':
      return (p) => Buffer.from(snappy.compress(new Uint8Array(p)));
    case 'lzo':
      try {
        const lzo = require('lzo') as { compress(b: Buffer): Buffer };
        return (p) => lzo.compress(p);
      } catch (e) {
        return `lzo package not built: ${(e as Error).message}`;
      }
    case 'zstd': {
      const z = (await import('@bokuweb/zstd-wasm')) as unknown as { init(): Promise<void>; compress(b: Uint8Array, level: number): Uint8Array };
      await z.init();
      return (p) => Buffer.from(z.compress(p, 3));
    }
  }
}

/** The source with every present page decompressed once and kept (the writers read each page several times). */
export function withPageMemo(src: KdumpContainer): KdumpContainer {
  const memo = new Map<bigint, Buffer>();
  const view = Object.create(src) as KdumpContainer;
  view.readPage = (pfn: bigint) => {
    let p = memo.get(pfn);
    if (!p) {
      p = src.readPage(pfn);
      memo.set(pfn, p);
    }
    return p;
  };
  return view;
}

/** Sequential writer that tracks the offset. */
class Out {
  fd: number;
  pos = 0n;
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  at(offset: bigint, buf: Buffer): void {
    writeSync(this.fd, buf, 0, buf.length, Number(offset));
  }
  push(buf: Buffer): bigint {
    const at = this.pos;
    this.at(at, buf);
    this.pos += BigInt(buf.length);
    return at;
  }
  close(): void {
    closeSync(this.fd);
  }
}

export function encodeNotes(notes: ElfNote[]): Buffer {
  const parts: Buffer[] = [];
  for (const n of notes) {
    const name = Buffer.from(`${n.name}\0`, 'latin1');
    const h = Buffer.alloc(12);
    h.writeUInt32LE(name.length, 0);
    h.writeUInt32LE(n.desc.length, 4);
    h.writeUInt32LE(n.type, 8);
    const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
    parts.push(h, pad(name), pad(Buffer.from(n.desc)));
  }
  return Buffer.concat(parts);
}

/** The pfns to copy: every page the source holds, or a given subset. */
function pfnsOf(src: KdumpContainer, only?: bigint[]): bigint[] {
  if (only) return [...only].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: bigint[] = [];
  for (const r of src.presentRanges()) for (let p = r.start; p < r.end; p++) out.push(p);
  return out;
}

/** Writes a kdump-compressed (header v6) file with the source's pages, 1st bitmap, notes and VMCOREINFO. */
export function writeKdump(
  src: KdumpContainer,
  path: string,
  encode: (p: Buffer) => Buffer,
  codec: Codec,
  only?: bigint[],
  split?: { start: bigint; end: bigint },
): void {
  const bs = src.pageSize;
  const all = pfnsOf(src, only);
  // makedumpfile --split: every file has the whole bitmap, but descriptors and data of its own pfn range only.
  const pfns = split ? all.filter((p) => p >= split.start && p < split.end) : all;
  const maxPfn = src.maxPfn;
  const bitmapBytes = Math.ceil(Number(maxPfn) / 8 / bs) * bs;
  const bitmapBlocks = (bitmapBytes / bs) * 2;
  const notes = encodeNotes(src.notes);
  const vmci = Buffer.from(src.vmcoreinfo ?? '', 'latin1');
  // As makedumpfile does: notes and VMCOREINFO follow the sub-header inside its blocks.
  const subHdrSize = 1 + Math.ceil((112 + notes.length + vmci.length) / bs);

  const o = new Out(path);
  const h = Buffer.alloc(bs);
  h.write('KDUMP   ', 0, 'latin1');
  h.writeInt32LE(6, 8);
  const uts = src.utsname;
  [uts.sysname, uts.nodename, uts.release, uts.version, uts.machine, uts.domainname].forEach((s, i) => h.write(s, 12 + i * 65, 'latin1'));
  h.writeBigInt64LE(src.header.timestamp, 408);
  h.writeUInt32LE(FLAG[codec], 424);
  h.writeInt32LE(bs, 428);
  h.writeInt32LE(subHdrSize, 432);
  h.writeUInt32LE(bitmapBlocks, 436);
  h.writeUInt32LE(Number(maxPfn & 0xffffffffn), 440);
  h.writeInt32LE(src.nrCpus, 460);
  o.push(h);

  const sub = Buffer.alloc(bs * subHdrSize);
  const metaAt = BigInt(bs + 112);
  const descAt = BigInt(bs * (1 + subHdrSize + bitmapBlocks));
  sub.writeBigUInt64LE(src.physBase ?? 0n, 0);
  sub.writeInt32LE(src.dumpLevel ?? 1, 8);
  if (split) {
    sub.writeInt32LE(1, 12);
    sub.writeBigUInt64LE(split.start & 0xffffffffn, 16);
    sub.writeBigUInt64LE(split.end & 0xffffffffn, 24);
    sub.writeBigUInt64LE(split.start, 80);
    sub.writeBigUInt64LE(split.end, 88);
  }
  sub.writeBigInt64LE(metaAt + BigInt(notes.length), 32);
  sub.writeBigUInt64LE(BigInt(vmci.length), 40);
  sub.writeBigInt64LE(metaAt, 48);
  sub.writeBigUInt64LE(BigInt(notes.length), 56);
  sub.writeBigUInt64LE(maxPfn, 96);
  notes.copy(sub, 112);
  vmci.copy(sub, 112 + notes.length);
  o.push(sub);

  // 1st bitmap: the source's page frames that exist (present or excluded); 2nd: the pages we write.
  const b1 = Buffer.alloc(bitmapBytes);
  const b2 = Buffer.alloc(bitmapBytes);
  for (let p = 0n; p < maxPfn; p++) {
    if (src.pageState(p) !== 'missing') b1[Number(p >> 3n)] |= 1 << Number(p & 7n);
  }
  for (const p of all) b2[Number(p >> 3n)] |= 1 << Number(p & 7n);
  o.push(b1);
  o.push(b2);

  // Descriptors, then data; zero pages share one data block as makedumpfile does.
  const descs = Buffer.alloc(pfns.length * 24);
  o.pos = descAt + BigInt(descs.length);
  let zeroAt: { at: bigint; size: number; flags: number } | undefined;
  pfns.forEach((p, i) => {
    const page = src.readPage(p);
    const isZero = !page.some((b) => b !== 0);
    let d = isZero ? zeroAt : undefined;
    if (!d) {
      const c = encode(page);
      const raw = c.length >= bs;
      const data = raw ? page : c;
      d = { at: o.push(data), size: data.length, flags: raw ? 0 : FLAG[codec] };
      if (isZero) zeroAt = d;
    }
    descs.writeBigInt64LE(d.at, i * 24);
    descs.writeUInt32LE(d.size, i * 24 + 8);
    descs.writeUInt32LE(d.flags, i * 24 + 12);
  });
  o.at(descAt, descs);
  o.close();
}

/** Writes an ELF64 core: PT_NOTE (the source's notes) and one PT_LOAD per run of present pages. */
export function writeElf(
  src: KdumpContainer,
  path: string,
  only?: bigint[],
  opts: { xnum?: boolean; tailPages?: bigint; /** the notes in this many PT_NOTE segments */ noteSegments?: number } = {},
): void {
  const bs = BigInt(src.pageSize);
  const pfns = pfnsOf(src, only);
  const runs: Array<{ start: bigint; end: bigint }> = [];
  for (const p of pfns) {
    const last = runs[runs.length - 1];
    if (last && last.end === p) last.end = p + 1n;
    else runs.push({ start: p, end: p + 1n });
  }
  const k = Math.max(1, Math.min(opts.noteSegments ?? 1, src.notes.length));
  const per = Math.ceil(src.notes.length / k);
  const noteParts = Array.from({ length: k }, (_, i) => encodeNotes(src.notes.slice(i * per, (i + 1) * per)));
  const phnum = runs.length + k;
  const o = new Out(path);
  const eh = Buffer.alloc(64);
  eh.write('\x7fELF', 0, 'latin1');
  eh[4] = 2;
  eh[5] = 1;
  eh[6] = 1;
  eh.writeUInt16LE(4, 16);
  eh.writeUInt16LE(62, 18);
  eh.writeUInt32LE(1, 20);
  eh.writeBigUInt64LE(64n, 32);
  eh.writeUInt16LE(64, 52);
  eh.writeUInt16LE(56, 54);
  eh.writeUInt16LE(opts.xnum ? 0xffff : phnum, 56);
  o.push(eh);
  const ph = Buffer.alloc(56 * phnum);
  o.pos = 64n + BigInt(ph.length);
  noteParts.forEach((notes, i) => {
    ph.writeUInt32LE(4, 56 * i);
    ph.writeBigUInt64LE(o.pos, 56 * i + 8);
    ph.writeBigUInt64LE(BigInt(notes.length), 56 * i + 32);
    ph.writeBigUInt64LE(BigInt(notes.length), 56 * i + 40);
    o.push(notes);
  });
  o.pos = (o.pos + bs - 1n) / bs * bs;
  runs.forEach((r, i) => {
    const at = o.pos;
    for (let p = r.start; p < r.end; p++) o.push(src.readPage(p));
    const e = 56 * (i + k);
    const size = (r.end - r.start) * bs;
    ph.writeUInt32LE(1, e);
    ph.writeUInt32LE(7, e + 4);
    ph.writeBigUInt64LE(at, e + 8);
    ph.writeBigUInt64LE(0xffff800000000000n + r.start * bs, e + 16);
    ph.writeBigUInt64LE(r.start * bs, e + 24);
    ph.writeBigUInt64LE(size, e + 32);
    ph.writeBigUInt64LE(i === runs.length - 1 && opts.tailPages ? size + opts.tailPages * bs : size, e + 40);
  });
  o.at(64n, ph);
  if (opts.xnum) {
    // PN_XNUM: the count is in sh_info of section header 0.
    const sh = Buffer.alloc(64);
    sh.writeUInt32LE(phnum, 44);
    const at = o.pos;
    o.push(sh);
    const fix = Buffer.alloc(8);
    fix.writeBigUInt64LE(at);
    o.at(40n, fix);
    const counts = Buffer.alloc(6);
    counts.writeUInt16LE(64, 0);
    counts.writeUInt16LE(1, 2);
    o.at(58n, counts);
  }
  o.close();
}

/**
 * Writes the makedumpfile flattened form of `inner`: 4 KiB header, then {be64 offset, be64 size, data}
 * records in a scrambled order, the first 64 KiB written twice (garbage first, then the real bytes, so
 * the later record must win), and the end marker.
 */
export function writeFlattened(inner: string, path: string, recordSize = 64 * 1024): void {
  const fd = openSync(inner, 'r');
  const size = fstatSync(fd).size;
  const o = new Out(path);
  const h = Buffer.alloc(4096);
  h.write('makedumpfile', 0, 'latin1');
  h.writeBigInt64BE(1n, 16);
  h.writeBigInt64BE(1n, 24);
  o.push(h);
  const record = (offset: number, data: Buffer) => {
    const r = Buffer.alloc(16);
    r.writeBigInt64BE(BigInt(offset), 0);
    r.writeBigInt64BE(BigInt(data.length), 8);
    o.push(r);
    o.push(data);
  };
  record(0, Buffer.alloc(Math.min(size, 65536), 0xa5));
  const offsets: number[] = [];
  for (let off = 0; off < size; off += recordSize) offsets.push(off);
  // Deterministic scramble: odd records first, then even ones backwards.
  const order = [...offsets.filter((_, i) => i % 2 === 1), ...offsets.filter((_, i) => i % 2 === 0).reverse()];
  for (const off of order) {
    const n = Math.min(recordSize, size - off);
    const buf = Buffer.alloc(n);
    readSync(fd, buf, 0, n, off);
    // Skip all-zero records as makedumpfile leaves holes: they must read back as zeros.
    if (off >= 65536 && !buf.some((b) => b !== 0)) continue;
    record(off, buf);
  }
  if (size > 0) {
    // Re-state the last byte so the virtual file keeps its size even when it ends in a hole.
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    record(size - 1, last);
  }
  const end = Buffer.alloc(16, 0xff);
  o.push(end);
  o.close();
  closeSync(fd);
}
