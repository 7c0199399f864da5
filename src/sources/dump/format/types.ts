/**
 * The contract between the dump container layer (format/) and everything above it
 * (arch/, kernel/, walk/): physical pages, the VMCOREINFO text, and per-CPU register notes.
 */

/** A page that makedumpfile filtered out of the dump (dump level): its content is unknown, never zeros. */
export class ExcludedPageError extends Error {
  constructor(readonly paddr: bigint) {
    super(`physical page 0x${paddr.toString(16)} was excluded from the dump (filtered by dump level)`);
    this.name = 'ExcludedPageError';
  }
}

/** A physical address outside every memory range the dump holds. */
export class MissingPageError extends Error {
  constructor(readonly paddr: bigint) {
    super(`physical address 0x${paddr.toString(16)} is not in the dump`);
    this.name = 'MissingPageError';
  }
}

/** Registers of one CPU from an NT_PRSTATUS note (kdump crash notes, QEMU per-vCPU notes) or QEMU's CPU-state note. */
export interface CpuNote {
  /** Index in note order; with QEMU notes this is the vCPU number. */
  cpu: number;
  /** pr_pid of NT_PRSTATUS (kdump: the task's pid; QEMU: vCPU index + 1). */
  pid?: number;
  /** x86_64 user_regs_struct names: r15 ... rip, cs, eflags, rsp, ss, fs_base, gs_base, ds, es, fs, gs, orig_rax. */
  registers: Record<string, bigint>;
  source: 'prstatus' | 'qemu-cpustate';
  /** The same NT_PRSTATUS read as arm64's user_pt_regs (x0-x30, sp, pc, pstate), when it is long enough to be one. */
  arm64?: Record<string, bigint>;
  /** Control registers where the note has them (QEMU CPU state: cr0, cr3, cr4, gs_base of the kernel...). */
  control?: Record<string, bigint>;
}

/** The kernel's new_utsname as the kdump header records it (QEMU fills only `machine`). */
export interface UtsName {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}

/** A run of physical page frames [start, end) that the dump covers. */
export interface PfnRange {
  start: bigint;
  end: bigint;
}

export interface DumpContainer {
  readonly path: string;
  /** `elf`, `kdump-compressed`, `flattened`. */
  readonly format: string;
  /** Compressions seen in page descriptors (zlib, lzo, snappy, zstd, none). */
  readonly compression: string[];
  /** Header version for kdump-compressed. */
  readonly headerVersion?: number;
  /** The raw VMCOREINFO text (KEY=VALUE lines), if the dump carries it. */
  readonly vmcoreinfo?: string;
  readonly cpuNotes: CpuNote[];
  readonly pageSize: number;
  /** makedumpfile dump level, when known (kdump header). */
  readonly dumpLevel?: number;
  /** What is damaged or missing (truncated file, bad bitmap...): results are partial. */
  readonly incomplete: string[];
  /** Reads `length` bytes of physical memory. Throws ExcludedPageError / MissingPageError. */
  readPhys(paddr: bigint, length: number): Buffer;
  /** Whether the page frame is present (not excluded, inside a range). */
  hasPage(pfn: bigint): boolean;
  close(): void;
  /** Number of CPUs the dump header names (kdump header nr_cpus), when known. */
  readonly nrCpus?: number;
  /** utsname from the kdump header, when present (QEMU's holds only `machine`: take the release from VMCOREINFO). */
  readonly utsname?: UtsName;
  /** phys_base from the kdump sub-header. Hint only: QEMU writes a guess; prefer NUMBER(phys_base) from VMCOREINFO. */
  readonly physBase?: bigint;
  /** For `flattened`: the format of the reassembled stream (`kdump-compressed`, `elf`). */
  readonly innerFormat?: string;
  /** Physical page frame ranges the dump holds (kdump: from the 2nd bitmap; ELF: PT_LOAD segments). */
  presentRanges?(): Iterable<PfnRange>;
}
