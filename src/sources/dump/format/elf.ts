/**
 * ELF64 core dumps: /proc/vmcore copies (kdump, makedumpfile -E), QEMU dump-guest-memory without compression.
 * PT_LOAD segments map physical addresses (p_paddr) to file offsets; PT_NOTE holds NT_PRSTATUS per CPU,
 * QEMU CPU state and VMCOREINFO. Reads are positional; nothing but headers is read on open.
 */
import { InputError } from '../../../model/errors.ts';
import { cpuNotesFrom, parseNotes, vmcoreinfoFrom, type ElfNote } from './notes.ts';
import { LITTLE_ENDIAN, LruCache, readExact, type ByteSource } from './io.ts';
import { ExcludedPageError, MissingPageError, type CpuNote, type DumpContainer, type PfnRange } from './types.ts';

const PT_LOAD = 1;
const PT_NOTE = 4;
const PN_XNUM = 0xffff;
const EM_AARCH64 = 183;
const EM_X86_64 = 62;
const MAX_PHDRS = 1 << 20;
const MAX_NOTES = 64 * 1024 * 1024;
/** Where x86_64 kernel-image addresses start, and the most the image mapping spans. */
const START_KERNEL_MAP = 0xffffffff80000000n;
const KERNEL_IMAGE_SIZE = 1n << 30n;

export interface LoadSegment {
  paddr: bigint;
  vaddr: bigint;
  offset: bigint;
  filesz: bigint;
  memsz: bigint;
  /** Bytes of file data actually present (less than filesz when the file is truncated). */
  present: bigint;
}

/** 2^32, to join the halves of a 64-bit field read as two 32-bit words. */
const TWO32 = 0x1_0000_0000;
/** Fields below 2^53 are exact as numbers; a program header with a larger one is parsed with BigInt instead. */
const SAFE_HI = 0x20_0000;
export class ElfContainer implements DumpContainer {
  readonly format: string;
  readonly innerFormat?: string;
  readonly compression: string[] = ['none'];
  readonly vmcoreinfo?: string;
  readonly cpuNotes: CpuNote[];
  readonly pageSize = 4096;
  readonly incomplete: string[] = [];
  private readonly phdrs: Buffer;
  private readonly phentsize: number;
  /** Program header numbers of the PT_LOADs, sorted by physical start (the largest first on a tie). */
  private readonly loadOrder: number[];
  private allSegments?: LoadSegment[];
  /** The segments cut into non-overlapping pieces, sorted: aliasing PT_LOADs (paging=true QEMU dumps) map each address once. */
  private readonly pieceStart: Float64Array;
  private readonly pieceEnd: Float64Array;
  /** Program header number of the segment that answers each piece. */
  private readonly pieceSeg: Int32Array;
  private readonly segCache = new Map<number, LoadSegment>();
  private readonly pageCache = new LruCache<number, Buffer>(1024);
  readonly notes: ElfNote[];
  readonly machine: number;

  constructor(
    private readonly src: ByteSource,
    format = 'elf',
  ) {
    this.format = format;
    if (format === 'flattened') this.innerFormat = 'elf';
    const path = src.path;
    const eh = readExact(src, 0n, 64, 'ELF header');
    if (eh.toString('latin1', 0, 4) !== '\x7fELF') throw new InputError('not an ELF file: expected \\x7fELF', path, 0);
    if (eh[4] !== 2) throw new InputError(`ELF class ${eh[4]}: only 64-bit (ELFCLASS64) cores are supported`, path, 4);
    if (eh[5] !== 1) throw new InputError(`ELF data encoding ${eh[5]}: only little-endian cores are supported`, path, 5);
    const type = eh.readUInt16LE(16);
    if (type !== 4) throw new InputError(`ELF type ${type} is not a core file (ET_CORE = 4)`, path, 16);
    this.machine = eh.readUInt16LE(18);
    if (this.machine !== EM_X86_64 && this.machine !== EM_AARCH64) this.incomplete.push(`ELF machine ${this.machine}: register notes and stacks are read for x86_64 and arm64 only`);
    const phoff = eh.readBigUInt64LE(32);
    const shoff = eh.readBigUInt64LE(40);
    const phentsize = eh.readUInt16LE(54);
    let phnum = eh.readUInt16LE(56);
    if (phentsize < 56 || phentsize > 1024) throw new InputError(`ELF program header size ${phentsize}, expected 56`, path, 54);
    if (phnum === PN_XNUM) {
      // The real count is in sh_info of section header 0.
      const sh = readExact(src, shoff, 64, 'ELF section header 0 (PN_XNUM)');
      phnum = sh.readUInt32LE(44);
    }
    if (phnum === 0 || phnum > MAX_PHDRS) throw new InputError(`ELF core with ${phnum} program headers`, path, 56);
    const ph = readExact(src, phoff, phnum * phentsize, `ELF program headers (${phnum})`);

    // Segment fields are parsed as numbers (65,000 program headers make no BigInt each); segments are made as
    // objects only for the flattened pieces that answer reads.
    const loads: number[] = [];
    const noteBlobs: Buffer[] = [];
    // The headers as 32-bit words (an aligned copy; ELF is little-endian, and so is every host Node runs on here).
    const w = LITTLE_ENDIAN ? new Uint32Array(ph.buffer.slice(ph.byteOffset, ph.byteOffset + (ph.length & ~3))) : undefined;
    const num = (o: number): number => {
      const hi = w ? w[(o >> 2) + 1] : ph.readUInt32LE(o + 4);
      return hi < SAFE_HI ? hi * TWO32 + (w ? w[o >> 2] : ph.readUInt32LE(o)) : Infinity;
    };
    const size = Number(src.size);
    let end = 0;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const pType = w ? w[o >> 2] : ph.readUInt32LE(o);
      if (pType !== PT_LOAD && pType !== PT_NOTE) continue;
      const offset = num(o + 8);
      const filesz = num(o + 32);
      if (offset + filesz > end && Number.isFinite(offset + filesz)) end = offset + filesz;
      if (pType === PT_NOTE) {
        if (filesz > MAX_NOTES || offset + filesz > size) {
          this.incomplete.push(`PT_NOTE ${i} (offset 0x${ph.readBigUInt64LE(o + 8).toString(16)}, ${ph.readBigUInt64LE(o + 32)} bytes) lies outside the file`);
          continue;
        }
        noteBlobs.push(src.readAt(BigInt(offset), filesz));
        continue;
      }
      const memsz = num(o + 40);
      if (memsz === 0) continue;
      const paddr = num(o + 24);
      if (!Number.isFinite(paddr + offset + filesz + memsz)) {
        throw new InputError(`PT_LOAD ${i} has a field of 2^53 or more (physical 0x${ph.readBigUInt64LE(o + 24).toString(16)}): not a plausible core`, path, Number(phoff) + o);
      }
      const present = offset >= size ? 0 : offset + filesz > size ? size - offset : filesz;
      if (present < filesz) this.incomplete.push(`PT_LOAD ${i} (physical 0x${paddr.toString(16)}, ${filesz} bytes) is cut at ${present} bytes: the file is truncated`);
      loads.push(i);
    }
    // The file must hold every segment the program headers describe.
    if (size < end) this.incomplete.unshift(`truncated: ${size} of ${end} bytes (the program headers describe ${phnum} segments ending at byte ${end}): memory stored past the cut is missing`);
    const n = loads.length;
    const paddrs = new Float64Array(n);
    const memszs = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const o = loads[k] * phentsize;
      paddrs[k] = num(o + 24);
      memszs[k] = Math.max(num(o + 40), num(o + 32));
    }
    // Sorted by start, the largest first on a tie: kdump's /proc/vmcore starts with a segment for the kernel text
    // that duplicates RAM, and RAM must answer first.
    const order = Array.from(loads.keys());
    const before = (x: number, y: number) => paddrs[x] - paddrs[y] || memszs[y] - memszs[x];
    let sorted = true;
    for (let k = 1; k < n && sorted; k++) if (before(k - 1, k) > 0) sorted = false;
    if (!sorted) order.sort(before);
    this.phdrs = ph;
    this.phentsize = phentsize;
    this.loadOrder = order.map((k) => loads[k]);
    // Cut into disjoint pieces: each address belongs to the first segment (in that order) that covers it. Segments
    // that alias the same memory hold the same bytes, so which one answers does not matter; what matters is that one
    // always does, found in O(log n) among tens of thousands.
    const starts = new Float64Array(n);
    const ends = new Float64Array(n);
    const segs = new Int32Array(n);
    let pieces = 0;
    let covered = -1;
    for (const k of order) {
      const segEnd = paddrs[k] + memszs[k];
      if (segEnd <= covered) continue;
      starts[pieces] = paddrs[k] > covered ? paddrs[k] : covered;
      ends[pieces] = segEnd;
      segs[pieces++] = loads[k];
      covered = segEnd;
    }
    this.pieceStart = starts.subarray(0, pieces);
    this.pieceEnd = ends.subarray(0, pieces);
    this.pieceSeg = segs.subarray(0, pieces);
    if (!n) this.incomplete.push('no PT_LOAD segment: no memory in this core');
    this.notes = noteBlobs.flatMap((b) => parseNotes(b, this.incomplete));
    this.vmcoreinfo = vmcoreinfoFrom(this.notes);
    if (this.vmcoreinfo === undefined) this.incomplete.push('no VMCOREINFO note in the dump');
    this.cpuNotes = cpuNotesFrom(this.notes, this.incomplete);
  }

  /** The PT_LOAD at program header `i` as an object. */
  private segmentAt(i: number): LoadSegment {
    const o = i * this.phentsize;
    const ph = this.phdrs;
    const offset = ph.readBigUInt64LE(o + 8);
    const filesz = ph.readBigUInt64LE(o + 32);
    const memsz = ph.readBigUInt64LE(o + 40);
    let present = filesz;
    if (offset >= this.src.size) present = 0n;
    else if (offset + filesz > this.src.size) present = this.src.size - offset;
    return { paddr: ph.readBigUInt64LE(o + 24), vaddr: ph.readBigUInt64LE(o + 16), offset, filesz, memsz: memsz < filesz ? filesz : memsz, present };
  }

  /** Every PT_LOAD, sorted by physical start (the largest first on a tie). */
  get segments(): LoadSegment[] {
    this.allSegments ??= this.loadOrder.map((i) => this.segmentAt(i));
    return this.allSegments;
  }

  /** phys_base from the kernel-text PT_LOAD (vaddr in the kernel image mapping), as /proc/vmcore has it. */
  imagePhysBase(): bigint | undefined {
    for (const i of this.loadOrder) {
      const o = i * this.phentsize;
      // Kernel-image addresses have all 32 high bits set; most segments are ruled out without a BigInt.
      if (this.phdrs.readUInt32LE(o + 20) !== 0xffffffff) continue;
      const vaddr = this.phdrs.readBigUInt64LE(o + 16);
      if (vaddr >= START_KERNEL_MAP && vaddr < START_KERNEL_MAP + KERNEL_IMAGE_SIZE) {
        return BigInt.asUintN(64, this.phdrs.readBigUInt64LE(o + 24) - (vaddr - START_KERNEL_MAP));
      }
    }
    return undefined;
  }

  get path(): string {
    return this.src.path;
  }

  get nrCpus(): number {
    return this.cpuNotes.length;
  }

  /** The segment holding `paddr` (binary search over the flattened, non-overlapping pieces). */
  private segmentOf(paddr: bigint): LoadSegment | undefined {
    const at = Number(paddr);
    const p = this.pieceStart;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid] <= at) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0 || !(at < this.pieceEnd[lo - 1])) return undefined;
    const i = this.pieceSeg[lo - 1];
    let seg = this.segCache.get(i);
    if (!seg) this.segCache.set(i, (seg = this.segmentAt(i)));
    return seg;
  }

  hasPage(pfn: bigint): boolean {
    const paddr = pfn * BigInt(this.pageSize);
    const s = this.segmentOf(paddr);
    return !!s && paddr - s.paddr < s.present;
  }

  *presentRanges(): Generator<PfnRange> {
    const ps = BigInt(this.pageSize);
    for (const s of this.segments) {
      if (s.present > 0n) yield { start: s.paddr / ps, end: (s.paddr + s.present + ps - 1n) / ps };
    }
  }

  readPhys(paddr: bigint, length: number): Buffer {
    if (length < 0) throw new RangeError(`negative length ${length}`);
    // Reads inside one page (page-table entries, struct fields) come from a small cache of whole pages.
    const ps = BigInt(this.pageSize);
    const within = paddr % ps;
    if (length > 0 && within + BigInt(length) <= ps) {
      const page = this.cachedPage(paddr - within);
      if (page) return Buffer.from(page.subarray(Number(within), Number(within) + length));
    }
    return this.readDirect(paddr, length);
  }

  /** The whole page at `base` when one segment holds all of it, from the cache or read into it. */
  private cachedPage(base: bigint): Buffer | undefined {
    const hit = this.pageCache.get(Number(base));
    if (hit) return hit;
    const s = this.segmentOf(base);
    if (!s) return undefined;
    const rel = base - s.paddr;
    if (rel + BigInt(this.pageSize) > s.present) return undefined;
    const page = this.src.readAt(s.offset + rel, this.pageSize);
    if (page.length < this.pageSize) return undefined;
    this.pageCache.set(Number(base), page);
    return page;
  }

  private readDirect(paddr: bigint, length: number): Buffer {
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const at = paddr + BigInt(done);
      const s = this.segmentOf(at);
      if (!s) throw new MissingPageError(at);
      const rel = at - s.paddr;
      if (rel >= s.filesz) throw new ExcludedPageError(at - (at % BigInt(this.pageSize)));
      if (rel >= s.present) throw new MissingPageError(at);
      const avail = s.present - rel;
      const n = Number(avail < BigInt(length - done) ? avail : BigInt(length - done));
      const part = this.src.readAt(s.offset + rel, n);
      if (part.length < n) throw new MissingPageError(at + BigInt(part.length));
      part.copy(out, done);
      done += n;
    }
    return out;
  }

  close(): void {
    this.pageCache.clear();
    this.src.close();
  }
}
