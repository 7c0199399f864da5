/**
 * ELF64 core dumps: /proc/vmcore copies (kdump, makedumpfile -E), QEMU dump-guest-memory without compression.
 * PT_LOAD segments map physical addresses (p_paddr) to file offsets; PT_NOTE holds NT_PRSTATUS per CPU,
 * QEMU CPU state and VMCOREINFO. Reads are positional; nothing but headers is read on open.
 */
import { InputError } from '../../../model/errors.ts';
import { cpuNotesFrom, parseNotes, vmcoreinfoFrom, type ElfNote } from './notes.ts';
import { readExact, type ByteSource } from './io.ts';
import { ExcludedPageError, MissingPageError, type CpuNote, type DumpContainer, type PfnRange } from './types.ts';

const PT_LOAD = 1;
const PT_NOTE = 4;
const PN_XNUM = 0xffff;
const EM_X86_64 = 62;
const MAX_PHDRS = 1 << 20;
const MAX_NOTES = 64 * 1024 * 1024;

export interface LoadSegment {
  paddr: bigint;
  vaddr: bigint;
  offset: bigint;
  filesz: bigint;
  memsz: bigint;
  /** Bytes of file data actually present (less than filesz when the file is truncated). */
  present: bigint;
}

/**
 * Cuts sorted, possibly overlapping segments into disjoint pieces: each address belongs to the first segment (lowest
 * start, the largest on a tie) that covers it. Segments that alias the same memory hold the same bytes, so which one
 * answers does not matter; what matters is that one always does, found in O(log n) among tens of thousands.
 */
function flatten(segments: readonly LoadSegment[]): Array<{ start: bigint; end: bigint; seg: LoadSegment }> {
  const out: Array<{ start: bigint; end: bigint; seg: LoadSegment }> = [];
  let covered = -1n;
  for (const s of segments) {
    const end = s.paddr + s.memsz;
    if (end <= covered) continue;
    const start = s.paddr > covered ? s.paddr : covered;
    out.push({ start, end, seg: s });
    covered = end;
  }
  return out;
}

export class ElfContainer implements DumpContainer {
  readonly format: string;
  readonly innerFormat?: string;
  readonly compression: string[] = ['none'];
  readonly vmcoreinfo?: string;
  readonly cpuNotes: CpuNote[];
  readonly pageSize = 4096;
  readonly incomplete: string[] = [];
  readonly segments: LoadSegment[];
  /** The segments cut into non-overlapping pieces, sorted: aliasing PT_LOADs (paging=true QEMU dumps) map each address once. */
  private readonly pieces: Array<{ start: bigint; end: bigint; seg: LoadSegment }>;
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
    if (this.machine !== EM_X86_64) this.incomplete.push(`ELF machine ${this.machine}: only x86_64 registers and page tables are understood`);
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

    const segments: LoadSegment[] = [];
    const noteBlobs: Buffer[] = [];
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const pType = ph.readUInt32LE(o);
      const offset = ph.readBigUInt64LE(o + 8);
      const vaddr = ph.readBigUInt64LE(o + 16);
      const paddr = ph.readBigUInt64LE(o + 24);
      const filesz = ph.readBigUInt64LE(o + 32);
      const memsz = ph.readBigUInt64LE(o + 40);
      if (pType === PT_NOTE) {
        if (filesz > BigInt(MAX_NOTES) || offset + filesz > src.size) {
          this.incomplete.push(`PT_NOTE ${i} (offset 0x${offset.toString(16)}, ${filesz} bytes) lies outside the file`);
          continue;
        }
        noteBlobs.push(src.readAt(offset, Number(filesz)));
      } else if (pType === PT_LOAD) {
        if (memsz === 0n) continue;
        let present = filesz;
        if (offset >= src.size) present = 0n;
        else if (offset + filesz > src.size) present = src.size - offset;
        if (present < filesz) {
          this.incomplete.push(
            `PT_LOAD ${i} (physical 0x${paddr.toString(16)}, ${filesz} bytes) is cut at ${present} bytes: the file is truncated`,
          );
        }
        segments.push({ paddr, vaddr, offset, filesz, memsz: memsz < filesz ? filesz : memsz, present });
      }
    }
    // The file must hold every segment the program headers describe.
    let end = 0n;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const pType = ph.readUInt32LE(o);
      if (pType !== PT_LOAD && pType !== PT_NOTE) continue;
      const e = ph.readBigUInt64LE(o + 8) + ph.readBigUInt64LE(o + 32);
      if (e > end) end = e;
    }
    if (src.size < end) this.incomplete.unshift(`truncated: ${src.size} of ${end} bytes (the program headers describe ${phnum} segments ending at byte ${end}): memory stored past the cut is missing`);
    // kdump's /proc/vmcore starts with a segment for the kernel text that duplicates RAM: keep RAM first.
    segments.sort((a, b) => (a.paddr < b.paddr ? -1 : a.paddr > b.paddr ? 1 : b.memsz > a.memsz ? 1 : b.memsz < a.memsz ? -1 : 0));
    this.segments = segments;
    this.pieces = flatten(segments);
    if (!segments.length) this.incomplete.push('no PT_LOAD segment: no memory in this core');
    this.notes = noteBlobs.flatMap((b) => parseNotes(b, this.incomplete));
    this.vmcoreinfo = vmcoreinfoFrom(this.notes);
    if (this.vmcoreinfo === undefined) this.incomplete.push('no VMCOREINFO note in the dump');
    this.cpuNotes = cpuNotesFrom(this.notes, this.incomplete);
  }

  get path(): string {
    return this.src.path;
  }

  get nrCpus(): number {
    return this.cpuNotes.length;
  }

  /** The segment holding `paddr` (binary search over the flattened, non-overlapping pieces). */
  private segmentOf(paddr: bigint): LoadSegment | undefined {
    const p = this.pieces;
    let lo = 0;
    let hi = p.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (p[mid].start <= paddr) lo = mid + 1;
      else hi = mid;
    }
    const piece = p[lo - 1];
    return piece && paddr < piece.end ? piece.seg : undefined;
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
    this.src.close();
  }
}
