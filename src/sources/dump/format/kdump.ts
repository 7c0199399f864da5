/**
 * kdump-compressed (diskdump) dumps: makedumpfile -c/-l/-p/-z and QEMU dump-guest-memory -z/-l/-s.
 *
 * Layout (block = header.block_size = page size):
 *   block 0                 disk_dump_header ("KDUMP   ", version, utsname, timestamp, status, sizes)
 *   block 1 ..              kdump_sub_header (sub_hdr_size blocks): phys_base, dump_level, split, note and VMCOREINFO areas
 *   then bitmap_blocks      1st bitmap (pages that exist) | 2nd bitmap (pages dumped), each half the area
 *   then                    page_desc_t per dumped page, in pfn order: offset, size, flags, page_flags
 *   then                    page data
 */
import { DISKDUMP_SIGNATURE, KDUMP_SIGNATURE } from './magic.ts';
import { InputError } from '../../../model/errors.ts';
import { PageBitmap } from './bitmap.ts';
import { decompressPage, type Compression } from './compress.ts';
import { cString, LruCache, readExact, type ByteSource } from './io.ts';
import { cpuNotesFrom, parseNotes, vmcoreinfoFrom, type ElfNote } from './notes.ts';
import { ExcludedPageError, MissingPageError, type CpuNote, type DumpContainer, type UtsName } from './types.ts';

export { KDUMP_SIGNATURE } from './magic.ts';

/** Compression flags of header.status and page_desc.flags. */
const DUMP_DH_COMPRESSED_ZLIB = 0x1;
const DUMP_DH_COMPRESSED_LZO = 0x2;
const DUMP_DH_COMPRESSED_SNAPPY = 0x4;
const DUMP_DH_COMPRESSED_INCOMPLETE = 0x8;
const DUMP_DH_COMPRESSED_ZSTD = 0x20;

const PAGE_DESC_SIZE = 24;
const DESCS_PER_CHUNK = 256;
const NEW_UTS_LEN = 65;

/** Offsets in disk_dump_header (x86_64 layout: struct timeval is 16 bytes, 8-aligned). */
const H = {
  version: 8,
  utsname: 12,
  timestamp: 408,
  status: 424,
  blockSize: 428,
  subHdrSize: 432,
  bitmapBlocks: 436,
  maxMapnr: 440,
  totalRamBlocks: 444,
  deviceBlocks: 448,
  writtenBlocks: 452,
  currentCpu: 456,
  nrCpus: 460,
  end: 464,
};

interface PageDesc {
  offset: bigint;
  size: number;
  flags: number;
  pageFlags: bigint;
}

export interface KdumpHeader {
  signature: string;
  version: number;
  utsname: UtsName;
  timestamp: bigint;
  status: number;
  blockSize: number;
  subHdrSize: number;
  bitmapBlocks: number;
  maxMapnr: bigint;
  nrCpus: number;
  currentCpu: number;
  physBase?: bigint;
  dumpLevel?: number;
  split?: number;
  startPfn?: bigint;
  endPfn?: bigint;
  offsetVmcoreinfo?: bigint;
  sizeVmcoreinfo?: bigint;
  offsetNote?: bigint;
  sizeNote?: bigint;
  offsetEraseinfo?: bigint;
  sizeEraseinfo?: bigint;
}

function compressionOf(flags: number): Compression {
  if (flags & DUMP_DH_COMPRESSED_ZLIB) return 'zlib';
  if (flags & DUMP_DH_COMPRESSED_LZO) return 'lzo';
  if (flags & DUMP_DH_COMPRESSED_SNAPPY) return 'snappy';
  if (flags & DUMP_DH_COMPRESSED_ZSTD) return 'zstd';
  return 'none';
}

/** Upper bound on the note and VMCOREINFO areas we are willing to read. */
const MAX_META = 64 * 1024 * 1024;

export class KdumpContainer implements DumpContainer {
  readonly format: string;
  readonly innerFormat?: string;
  readonly compression: string[] = [];
  readonly headerVersion: number;
  readonly vmcoreinfo?: string;
  readonly cpuNotes: CpuNote[];
  readonly pageSize: number;
  readonly dumpLevel?: number;
  readonly incomplete: string[] = [];
  readonly header: KdumpHeader;
  readonly physBase?: bigint;
  readonly nrCpus: number;
  readonly utsname: UtsName;
  readonly maxPfn: bigint;
  /** The ELF notes of the header's note area (NT_PRSTATUS, QEMU CPU state, VMCOREINFO...). */
  readonly notes: ElfNote[];

  private readonly bitmapOffset: bigint;
  private readonly bitmapHalf: bigint;
  private readonly descOffset: bigint;
  private bitmap1: PageBitmap | undefined;
  private bitmap2: PageBitmap | undefined;
  private readonly descCache = new LruCache<number, PageDesc[]>(64);
  private readonly pageCache = new LruCache<number, Buffer>(512);
  private window?: { start: bigint; end: bigint; buf: Buffer };
  private lastEnd = -1n;
  private readonly badPages = new Set<bigint>();

  constructor(
    private readonly src: ByteSource,
    format = 'kdump-compressed',
  ) {
    this.format = format;
    if (format === 'flattened') this.innerFormat = 'kdump-compressed';
    const path = src.path;
    const raw = readExact(src, 0n, H.end, 'kdump header');
    const signature = raw.toString('latin1', 0, 8);
    if (signature !== KDUMP_SIGNATURE && signature !== DISKDUMP_SIGNATURE) {
      throw new InputError(`not a kdump-compressed dump: signature ${JSON.stringify(signature)}, expected "KDUMP   "`, path, 0);
    }
    const version = raw.readInt32LE(H.version);
    const blockSize = raw.readInt32LE(H.blockSize);
    const subHdrSize = raw.readInt32LE(H.subHdrSize);
    const bitmapBlocks = raw.readUInt32LE(H.bitmapBlocks);
    const nrCpus = raw.readInt32LE(H.nrCpus);
    if (version < 0 || version > 1000) throw new InputError(`kdump header: implausible version ${version}`, path, H.version);
    if (blockSize < 512 || blockSize > 1 << 20 || (blockSize & (blockSize - 1)) !== 0) {
      throw new InputError(`kdump header: block size ${blockSize} is not a power of two between 512 and 1 MiB`, path, H.blockSize);
    }
    if (subHdrSize < 0 || subHdrSize > 1 << 16) throw new InputError(`kdump header: implausible sub-header size ${subHdrSize} blocks`, path, H.subHdrSize);
    if (bitmapBlocks === 0 || bitmapBlocks % 2 !== 0) {
      throw new InputError(`kdump header: bitmap size ${bitmapBlocks} blocks (expected an even, non-zero count)`, path, H.bitmapBlocks);
    }
    if (nrCpus < 0 || nrCpus > 1 << 16) throw new InputError(`kdump header: implausible CPU count ${nrCpus}`, path, H.nrCpus);
    const uts = (i: number) => cString(raw, H.utsname + i * NEW_UTS_LEN, H.utsname + (i + 1) * NEW_UTS_LEN);
    const utsname: UtsName = { sysname: uts(0), nodename: uts(1), release: uts(2), version: uts(3), machine: uts(4), domainname: uts(5) };
    const header: KdumpHeader = {
      signature,
      version,
      utsname,
      timestamp: raw.readBigInt64LE(H.timestamp),
      status: raw.readUInt32LE(H.status),
      blockSize,
      subHdrSize,
      bitmapBlocks,
      maxMapnr: BigInt(raw.readUInt32LE(H.maxMapnr)),
      nrCpus,
      currentCpu: raw.readInt32LE(H.currentCpu),
    };
    this.header = header;
    this.headerVersion = version;
    this.pageSize = blockSize;
    this.nrCpus = nrCpus;
    this.utsname = utsname;
    // QEMU's kdump writer says "Unknown": the dump's VMCOREINFO decides then (arm64 writes kimage_voffset).
    if (utsname.machine && !['x86_64', 'aarch64', 'arm64', 'Unknown'].includes(utsname.machine)) {
      this.incomplete.push(`machine is ${utsname.machine}: register notes and stacks are read for x86_64 and arm64 only`);
    }

    const bs = BigInt(blockSize);
    if (version >= 1 && subHdrSize > 0) this.readSubHeader(bs);
    if (header.maxMapnr === 0n && header.status) {
      // nothing: max_mapnr only matters as a bound, the bitmap size gives the real one
    }
    this.maxPfn = header.maxMapnr;
    this.dumpLevel = header.dumpLevel;
    this.physBase = header.physBase;

    this.bitmapOffset = bs * BigInt(1 + subHdrSize);
    this.bitmapHalf = (bs * BigInt(bitmapBlocks)) / 2n;
    this.descOffset = this.bitmapOffset + bs * BigInt(bitmapBlocks);
    if (this.bitmapOffset + 2n * this.bitmapHalf > src.size) {
      this.incomplete.push(
        `bitmaps (offset 0x${this.bitmapOffset.toString(16)}, ${2n * this.bitmapHalf} bytes) run past the end of the file (${src.size} bytes): pages beyond are unknown`,
      );
    }
    if (this.bitmapHalf > 1n << 32n) {
      throw new InputError(`kdump header: bitmaps of ${this.bitmapHalf} bytes each (over 128 TiB of memory) are implausible`, path, H.bitmapBlocks);
    }
    if (this.maxPfn === 0n || this.maxPfn > this.bitmapHalf * 8n) this.maxPfn = this.bitmapHalf * 8n;

    const status = header.status;
    for (const [bit, name] of [
      [DUMP_DH_COMPRESSED_ZLIB, 'zlib'],
      [DUMP_DH_COMPRESSED_LZO, 'lzo'],
      [DUMP_DH_COMPRESSED_SNAPPY, 'snappy'],
      [DUMP_DH_COMPRESSED_ZSTD, 'zstd'],
    ] as const) {
      if (status & bit) this.compression.push(name);
    }
    if (status & DUMP_DH_COMPRESSED_INCOMPLETE) {
      this.incomplete.push('the dump is marked incomplete (makedumpfile ran out of space): pages past the last one written are missing');
    }
    if (header.split) {
      this.incomplete.push(`split dump: this file holds page frames 0x${(header.startPfn ?? 0n).toString(16)}..0x${(header.endPfn ?? 0n).toString(16)} only`);
    }

    // Notes and VMCOREINFO.
    let notes: ReturnType<typeof parseNotes> = [];
    if (header.offsetNote !== undefined && header.sizeNote) {
      const blob = this.readMeta(header.offsetNote, header.sizeNote, 'ELF notes');
      if (blob) notes = parseNotes(blob, this.incomplete);
    }
    let vmcoreinfo: string | undefined;
    if (header.offsetVmcoreinfo !== undefined && header.sizeVmcoreinfo) {
      const blob = this.readMeta(header.offsetVmcoreinfo, header.sizeVmcoreinfo, 'VMCOREINFO');
      if (blob) {
        const z = blob.indexOf(0);
        vmcoreinfo = blob.toString('latin1', 0, z >= 0 ? z : blob.length);
      }
    }
    this.vmcoreinfo = vmcoreinfo ?? vmcoreinfoFrom(notes);
    if (this.vmcoreinfo === undefined) this.incomplete.push('no VMCOREINFO in the dump');
    this.notes = notes;
    this.cpuNotes = cpuNotesFrom(notes, this.incomplete);
    const cut = this.truncation();
    if (cut) this.incomplete.unshift(cut);
  }

  /**
   * `truncated: N of M bytes` when the file ends before what its header and bitmap describe: the bitmaps, one
   * descriptor per dumped page, and the data of the last pages (M is "at least" when the descriptors are cut too).
   */
  private truncation(): string | undefined {
    const size = this.src.size;
    const bitmapEnd = this.bitmapOffset + 2n * this.bitmapHalf;
    if (size < bitmapEnd) return `truncated: ${size} of at least ${bitmapEnd} bytes (the header puts the page bitmaps at 0x${this.bitmapOffset.toString(16)}..0x${bitmapEnd.toString(16)}): pages and their data are missing`;
    const bm = this.loadBitmap(2);
    const h = this.header;
    const count = h.split && h.startPfn !== undefined && h.endPfn !== undefined ? bm.rank(h.endPfn) - bm.rank(h.startPfn) : bm.count();
    const descEnd = this.descOffset + BigInt(count) * BigInt(PAGE_DESC_SIZE);
    const what = `the bitmap lists ${count} dumped pages`;
    if (size < descEnd) return `truncated: ${size} of at least ${descEnd} bytes (${what}, their descriptors end at byte ${descEnd}, the page data after them): pages past the cut are missing`;
    // The data of the last pages (written in page order after the descriptors) ends the dump.
    const last = Math.min(count, DESCS_PER_CHUNK);
    const buf = this.src.readAt(descEnd - BigInt(last * PAGE_DESC_SIZE), last * PAGE_DESC_SIZE);
    let dataEnd = descEnd;
    const maxSize = this.pageSize * 2 + 1024;
    for (let o = 0; o + PAGE_DESC_SIZE <= buf.length; o += PAGE_DESC_SIZE) {
      const off = buf.readBigInt64LE(o);
      const sz = buf.readUInt32LE(o + 8);
      if (off > 0n && sz > 0 && sz <= maxSize && off + BigInt(sz) > dataEnd) dataEnd = off + BigInt(sz);
    }
    if (h.offsetEraseinfo && h.sizeEraseinfo && h.offsetEraseinfo + h.sizeEraseinfo > dataEnd && h.offsetEraseinfo >= descEnd) dataEnd = h.offsetEraseinfo + h.sizeEraseinfo;
    if (size < dataEnd) return `truncated: ${size} of ${dataEnd} bytes (${what}; the last one's data ends at byte ${dataEnd}): pages stored past the cut are missing`;
    return undefined;
  }

  get path(): string {
    return this.src.path;
  }

  private readSubHeader(bs: bigint): void {
    const h = this.header;
    const sub = this.src.readAt(bs, 104);
    const v = h.version;
    const need = v >= 6 ? 104 : v >= 5 ? 80 : v >= 4 ? 64 : v >= 3 ? 48 : v >= 2 ? 32 : 12;
    if (sub.length < need) {
      this.incomplete.push(`kdump sub-header truncated (${sub.length} of ${need} bytes at offset 0x${bs.toString(16)})`);
      return;
    }
    h.physBase = sub.readBigUInt64LE(0);
    h.dumpLevel = sub.readInt32LE(8);
    if (v >= 2) {
      h.split = sub.readInt32LE(12);
      h.startPfn = sub.readBigUInt64LE(16);
      h.endPfn = sub.readBigUInt64LE(24);
    }
    if (v >= 3) {
      h.offsetVmcoreinfo = sub.readBigInt64LE(32);
      h.sizeVmcoreinfo = sub.readBigUInt64LE(40);
    }
    if (v >= 4) {
      h.offsetNote = sub.readBigInt64LE(48);
      h.sizeNote = sub.readBigUInt64LE(56);
    }
    if (v >= 5) {
      h.offsetEraseinfo = sub.readBigInt64LE(64);
      h.sizeEraseinfo = sub.readBigUInt64LE(72);
    }
    if (v >= 6) {
      const start64 = sub.readBigUInt64LE(80);
      const end64 = sub.readBigUInt64LE(88);
      const max64 = sub.readBigUInt64LE(96);
      if (h.split) {
        h.startPfn = start64;
        h.endPfn = end64;
      }
      if (max64) h.maxMapnr = max64;
    }
  }

  /** Reads a metadata area named by the header; on damage notes it as incomplete and returns undefined. */
  private readMeta(offset: bigint, size: bigint, what: string): Buffer | undefined {
    if (offset <= 0n || size > BigInt(MAX_META) || offset + size > this.src.size) {
      this.incomplete.push(`${what} area (offset 0x${offset.toString(16)}, ${size} bytes) lies outside the file`);
      return undefined;
    }
    return this.src.readAt(offset, Number(size));
  }

  private loadBitmap(which: 1 | 2): PageBitmap {
    const existing = which === 1 ? this.bitmap1 : this.bitmap2;
    if (existing) return existing;
    const at = this.bitmapOffset + (which === 2 ? this.bitmapHalf : 0n);
    const want = Number(this.bitmapHalf);
    const bits = this.src.readAt(at, want);
    if (bits.length < want && !this.incomplete.some((s) => s.startsWith(`bitmap ${which}`))) {
      this.incomplete.push(`bitmap ${which} truncated: ${bits.length} of ${want} bytes at offset 0x${at.toString(16)}`);
    }
    const bm = new PageBitmap(bits);
    if (which === 1) this.bitmap1 = bm;
    else this.bitmap2 = bm;
    return bm;
  }

  hasPage(pfn: bigint): boolean {
    if (pfn < 0n || pfn >= this.maxPfn) return false;
    if (this.header.split && (pfn < (this.header.startPfn ?? 0n) || pfn >= (this.header.endPfn ?? 0n))) return false;
    if (!this.loadBitmap(2).has(pfn)) return false;
    if (this.badPages.has(pfn)) return false;
    return true;
  }

  /** Whether a page frame is in the dump, filtered out of it (dump level), or not part of it at all. */
  pageState(pfn: bigint): 'present' | 'excluded' | 'missing' {
    if (this.hasPage(pfn)) return 'present';
    if (pfn < 0n || pfn >= this.maxPfn) return 'missing';
    return this.loadBitmap(1).has(pfn) ? 'excluded' : 'missing';
  }

  /** Page frames the dump holds, as runs (from the 2nd bitmap). */
  *presentRanges(): Generator<{ start: bigint; end: bigint }> {
    yield* this.loadBitmap(2).runs();
  }

  /** Number of pages dumped (set bits in the 2nd bitmap). */
  dumpedPageCount(): number {
    return this.loadBitmap(2).count();
  }

  private descriptor(pfn: bigint): PageDesc {
    const bm = this.loadBitmap(2);
    // A split dump file holds the descriptors of its own pfn range only.
    const index = bm.rank(pfn) - (this.header.split && this.header.startPfn ? bm.rank(this.header.startPfn) : 0);
    const chunk = Math.floor(index / DESCS_PER_CHUNK);
    let descs = this.descCache.get(chunk);
    if (!descs) {
      const at = this.descOffset + BigInt(chunk * DESCS_PER_CHUNK * PAGE_DESC_SIZE);
      const buf = this.src.readAt(at, DESCS_PER_CHUNK * PAGE_DESC_SIZE);
      descs = [];
      for (let o = 0; o + PAGE_DESC_SIZE <= buf.length; o += PAGE_DESC_SIZE) {
        descs.push({
          offset: buf.readBigInt64LE(o),
          size: buf.readUInt32LE(o + 8),
          flags: buf.readUInt32LE(o + 12),
          pageFlags: buf.readBigUInt64LE(o + 16),
        });
      }
      this.descCache.set(chunk, descs);
    }
    const d = descs[index % DESCS_PER_CHUNK];
    if (!d) {
      this.noteBad(pfn, `page descriptor ${index} (pfn 0x${pfn.toString(16)}) lies past the end of the file`);
      throw new InputError(`page descriptor ${index} for pfn 0x${pfn.toString(16)} lies past the end of the file`, this.path, this.descOffset + BigInt(index * PAGE_DESC_SIZE));
    }
    return d;
  }

  private noteBad(pfn: bigint, what: string): void {
    this.badPages.add(pfn);
    const bad = this.incomplete.filter((s) => s.startsWith('page ')).length;
    if (bad < 20) this.incomplete.push(what);
    else if (bad === 20) this.incomplete.push('page ... (more damaged pages not listed)');
  }

  /**
   * Page data at a file offset. Pages read in address order lie one after another in the file: after a read that
   * continues the previous one, 64 KiB are read ahead, and the next pages come from that window (one pread, not one
   * per page); a random read reads just its page.
   */
  private readData(offset: bigint, size: number): Buffer {
    const w = this.window;
    if (w && offset >= w.start && offset + BigInt(size) <= w.end) {
      const at = Number(offset - w.start);
      this.lastEnd = offset + BigInt(size);
      return w.buf.subarray(at, at + size);
    }
    const sequential = offset === this.lastEnd;
    this.lastEnd = offset + BigInt(size);
    if (!sequential) return this.src.readAt(offset, size);
    const buf = this.src.readAt(offset, Math.max(size, READ_AHEAD));
    this.window = { start: offset, end: offset + BigInt(buf.length), buf };
    return buf.subarray(0, Math.min(size, buf.length));
  }

  /** The content of one page frame. */
  readPage(pfn: bigint): Buffer {
    const cached = this.pageCache.get(Number(pfn));
    if (cached) return cached;
    const paddr = pfn * BigInt(this.pageSize);
    if (pfn < 0n || pfn >= this.maxPfn) throw new MissingPageError(paddr);
    if (this.header.split && (pfn < (this.header.startPfn ?? 0n) || pfn >= (this.header.endPfn ?? 0n))) throw new MissingPageError(paddr);
    if (!this.loadBitmap(2).has(pfn)) {
      if (this.loadBitmap(1).has(pfn)) throw new ExcludedPageError(paddr);
      throw new MissingPageError(paddr);
    }
    const d = this.descriptor(pfn);
    if (d.offset === 0n && d.size === 0) {
      // Descriptors left blank by an interrupted (incomplete) dump.
      throw new MissingPageError(paddr);
    }
    const kind = compressionOf(d.flags);
    const maxSize = this.pageSize * 2 + 1024;
    if (d.offset <= 0n || d.size === 0 || d.size > maxSize || d.offset + BigInt(d.size) > this.src.size || (kind === 'none' && d.size !== this.pageSize)) {
      this.noteBad(pfn, `page descriptor of pfn 0x${pfn.toString(16)} is damaged (offset 0x${d.offset.toString(16)}, size ${d.size}, flags 0x${d.flags.toString(16)})`);
      throw new InputError(`page 0x${pfn.toString(16)}: descriptor points outside the file (offset 0x${d.offset.toString(16)}, size ${d.size})`, this.path, d.offset);
    }
    const data = this.readData(d.offset, d.size);
    let page: Buffer;
    try {
      // An uncompressed page would be a view of the read-ahead window: copied, so the cache keeps no window alive.
      page = kind === 'none' ? Buffer.from(data) : decompressPage(kind, data, this.pageSize);
    } catch (e) {
      this.noteBad(pfn, `page data of pfn 0x${pfn.toString(16)} is corrupt (${kind}: ${(e as Error).message})`);
      throw new InputError(`page 0x${pfn.toString(16)}: ${kind} data is corrupt: ${(e as Error).message}`, this.path, d.offset);
    }
    if (!this.compression.includes(kind)) this.compression.push(kind);
    this.pageCache.set(Number(pfn), page);
    return page;
  }

  readPhys(paddr: bigint, length: number): Buffer {
    return readPagesInto(this, paddr, length, this.pageSize);
  }

  close(): void {
    this.pageCache.clear();
    this.descCache.clear();
    this.src.close();
  }
}

/** Bytes read ahead after a sequential page read (KdumpContainer.readData). */
const READ_AHEAD = 65536;

/** Assembles `length` bytes at `paddr` from whole pages. */
export function readPagesInto(c: { readPage(pfn: bigint): Buffer }, paddr: bigint, length: number, pageSize: number): Buffer {
  if (length < 0) throw new RangeError(`negative length ${length}`);
  if (paddr < 0n) throw new MissingPageError(paddr);
  const ps = BigInt(pageSize);
  const first = paddr / ps;
  const within = Number(paddr % ps);
  if (within + length <= pageSize) {
    const page = c.readPage(first);
    return Buffer.from(page.subarray(within, within + length));
  }
  const out = Buffer.allocUnsafe(length);
  let done = 0;
  let pfn = first;
  let off = within;
  while (done < length) {
    const page = c.readPage(pfn);
    const n = Math.min(pageSize - off, length - done);
    page.copy(out, done, off, off + n);
    done += n;
    off = 0;
    pfn++;
  }
  return out;
}
