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
  /** Control registers where the note has them (QEMU CPU state: cr0, cr3, cr4, gs_base of the kernel...). */
  control?: Record<string, bigint>;
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
}
