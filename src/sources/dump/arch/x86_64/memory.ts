/**
 * Kernel virtual memory of an x86_64 dump, from VMCOREINFO alone: KASLR offset, phys_base, the kernel's
 * page tables (init_top_pgt, 4- or 5-level), the direct map base; per-task user address spaces from a PGD.
 */
import { InputError } from '../../../../model/errors.ts';
import type { DumpContainer } from '../../format/types.ts';
import type { Vmcoreinfo } from '../../format/vmcoreinfo.ts';
import { UnmappedAddressError, type VirtualMemory } from '../types.ts';
import { isCanonical, walk, type PhysReader } from './pagetable.ts';
import { TranslatedSpace, type AddressSpace } from '../space.ts';

/** Where the kernel image is mapped (the kernel-text mapping). */
export const START_KERNEL_MAP = 0xffffffff80000000n;
/** Default KERNEL_IMAGE_SIZE with KASLR (1 GiB). */
const DEFAULT_KERNEL_IMAGE_SIZE = 1n << 30n;
const CR4_LA57 = 1n << 12n;
const U64 = (x: bigint) => BigInt.asUintN(64, x);

export type { AddressSpace, MemoryReaders } from '../space.ts';

export interface KernelMemory extends AddressSpace {
  /** KERNELOFFSET: displacement of the kernel text from its link address. */
  readonly kaslrOffset: bigint;
  /** phys_base: physical = vaddr - START_KERNEL_MAP + phys_base for the kernel image. */
  readonly physBase: bigint;
  /** Where phys_base came from: `vmcoreinfo`, `cr3`, `elf-segment`, `kdump-header`. */
  readonly physBaseSource: string;
  /** Start of the direct map of all physical memory (randomised with KASLR); undefined when it could not be found. */
  readonly pageOffsetBase?: bigint;
  readonly vmallocBase?: bigint;
  readonly vmemmapBase?: bigint;
  /** Paging depth: 4, or 5 with LA57. */
  readonly levels: 4 | 5;
  /** Physical address of the kernel's top-level page table (init_top_pgt). */
  readonly pgdPhys: bigint;
  /** Things that could not be established (e.g. phys_base not validated). */
  readonly notes: string[];
  /** Physical address of a kernel-image virtual address, without page tables. */
  kernelTextToPhys(vaddr: bigint): bigint;
  /** Direct-map virtual address of a physical address (needs pageOffsetBase). */
  physToDirect(paddr: bigint): bigint;
  /** Reads page_offset_base / vmalloc_base / vmemmap_base through a symbol lookup (kallsyms or System.map with KASLR applied). */
  useSymbols(lookup: (name: string) => bigint | undefined): void;
  /** The address space of a task from its PGD (mm->pgd as a kernel virtual address, or a physical CR3 value with `physical`). */
  userSpace(pgd: bigint, opts?: { physical?: boolean }): AddressSpace;
}

/** x86_64 page tables (4- or 5-level, with the SME/TDX encryption bit masked). */
class PagedSpace extends TranslatedSpace {
  constructor(
    phys: PhysReader,
    public root: bigint,
    public levels: 4 | 5,
    protected readonly encryptionMask: bigint,
  ) {
    super(phys);
  }

  protected walkPage(vaddr: bigint): bigint {
    return walk(this.phys, this.root, this.levels, vaddr, this.encryptionMask).paddr;
  }
}

class X86KernelMemory extends PagedSpace implements KernelMemory {
  readonly notes: string[] = [];
  pageOffsetBase?: bigint;
  vmallocBase?: bigint;
  vmemmapBase?: bigint;

  constructor(
    private readonly container: DumpContainer,
    readonly kaslrOffset: bigint,
    readonly physBase: bigint,
    readonly physBaseSource: string,
    readonly pgdPhys: bigint,
    levels: 4 | 5,
    encryptionMask: bigint,
    private readonly imageSize: bigint,
  ) {
    super(container, pgdPhys, levels, encryptionMask);
  }

  kernelTextToPhys(vaddr: bigint): bigint {
    vaddr = U64(vaddr);
    if (vaddr < START_KERNEL_MAP || vaddr >= START_KERNEL_MAP + this.imageSize) {
      throw new UnmappedAddressError(vaddr, 'outside the kernel image mapping');
    }
    return U64(vaddr - START_KERNEL_MAP + this.physBase);
  }

  physToDirect(paddr: bigint): bigint {
    if (this.pageOffsetBase === undefined) throw new Error('direct map base (page_offset_base) is unknown for this dump');
    return U64(this.pageOffsetBase + paddr);
  }

  useSymbols(lookup: (name: string) => bigint | undefined): void {
    const readVar = (name: string): bigint | undefined => {
      const at = lookup(name);
      if (at === undefined) return undefined;
      try {
        const v = this.readU64(at);
        return isCanonical(v, this.levels) && v !== 0n ? v : undefined;
      } catch {
        this.notes.push(`cannot read ${name} at 0x${at.toString(16)}`);
        return undefined;
      }
    };
    const pob = readVar('page_offset_base');
    if (pob !== undefined) {
      if (this.pageOffsetBase !== undefined && this.pageOffsetBase !== pob) {
        this.notes.push(`page_offset_base 0x${pob.toString(16)} differs from the derived 0x${this.pageOffsetBase.toString(16)}; using the variable`);
      }
      this.pageOffsetBase = pob;
    }
    this.vmallocBase = readVar('vmalloc_base') ?? this.vmallocBase;
    this.vmemmapBase = readVar('vmemmap_base') ?? this.vmemmapBase;
  }

  userSpace(pgd: bigint, opts: { physical?: boolean } = {}): AddressSpace {
    let root: bigint;
    if (opts.physical) root = pgd & 0x000ffffffffff000n;
    else root = this.translate(pgd);
    return new PagedSpace(this.container, root, this.levels, this.encryptionMask);
  }
}

export interface OpenKernelMemoryOptions {
  /** Symbol lookup (kallsyms / System.map with KASLR applied) to read page_offset_base, vmalloc_base, vmemmap_base. */
  symbol?: (name: string) => bigint | undefined;
}

/** Builds the kernel address space of an x86_64 dump. Throws InputError when VMCOREINFO does not name the kernel page tables. */
export function openKernelMemory(container: DumpContainer, info: Vmcoreinfo, opts: OpenKernelMemoryOptions = {}): KernelMemory {
  const notes: string[] = [];
  const pgdSym = info.symbols.get('init_top_pgt') ?? info.symbols.get('swapper_pg_dir');
  if (pgdSym === undefined) {
    throw new InputError('VMCOREINFO has neither SYMBOL(init_top_pgt) nor SYMBOL(swapper_pg_dir): cannot find the kernel page tables', container.path);
  }
  const probe = info.symbols.get('_stext') ?? info.symbols.get('init_uts_ns') ?? pgdSym;
  const encryptionMask = info.numbers.get('sme_mask') ?? 0n;
  const imageSize = info.numbers.get('KERNEL_IMAGE_SIZE') ?? DEFAULT_KERNEL_IMAGE_SIZE;

  // Paging depth.
  let levels: 4 | 5 = 4;
  const l5 = info.numbers.get('pgtable_l5_enabled');
  const cr4 = container.cpuNotes.find((c) => c.control?.cr4 !== undefined)?.control?.cr4;
  if (l5 !== undefined) levels = l5 === 1n ? 5 : 4;
  else if (cr4 !== undefined) levels = (cr4 & CR4_LA57) !== 0n ? 5 : 4;

  // phys_base candidates, best first.
  const candidates: Array<{ value: bigint; source: string }> = [];
  const nPhysBase = info.numbers.get('phys_base');
  if (nPhysBase !== undefined) candidates.push({ value: U64(nPhysBase), source: 'vmcoreinfo' });
  for (const cpu of container.cpuNotes) {
    const cr3 = cpu.control?.cr3;
    if (cr3 === undefined) continue;
    try {
      const p = walk(container, cr3, levels, pgdSym, encryptionMask).paddr;
      candidates.push({ value: U64(p - (pgdSym - START_KERNEL_MAP)), source: 'cr3' });
      break;
    } catch {
      // try the next CPU
    }
  }
  const elfBase = elfPhysBase(container);
  if (elfBase !== undefined) candidates.push({ value: elfBase, source: 'elf-segment' });
  if (container.physBase !== undefined) candidates.push({ value: U64(container.physBase), source: 'kdump-header' });
  if (!candidates.length) candidates.push({ value: 0n, source: 'default' });

  // A candidate is right when the page tables it locates map the kernel image the same way.
  let chosen: { value: bigint; source: string; levels: 4 | 5 } | undefined;
  const levelChoices: Array<4 | 5> = l5 !== undefined || cr4 !== undefined ? [levels] : [4, 5];
  outer: for (const c of candidates) {
    for (const lv of levelChoices) {
      const root = U64(pgdSym - START_KERNEL_MAP + c.value);
      try {
        const viaTables = walk(container, root, lv, probe, encryptionMask).paddr;
        if (viaTables === U64(probe - START_KERNEL_MAP + c.value)) {
          chosen = { ...c, levels: lv };
          break outer;
        }
      } catch {
        // not this one
      }
    }
  }
  if (!chosen) {
    chosen = { ...candidates[0], levels };
    notes.push(`phys_base 0x${chosen.value.toString(16)} (${chosen.source}) could not be checked against the page tables`);
  }
  const pgdPhys = U64(pgdSym - START_KERNEL_MAP + chosen.value);
  const mem = new X86KernelMemory(container, info.kernelOffset, chosen.value, chosen.source, pgdPhys, chosen.levels, encryptionMask, imageSize);
  mem.notes.push(...notes);

  // Direct map base: a VMCOREINFO symbol that lives in the direct map (mem_section's array is memblock-allocated).
  for (const name of ['mem_section', 'node_data']) {
    const v = info.symbols.get(name);
    if (v === undefined || v >= START_KERNEL_MAP) continue;
    try {
      const p = mem.translate(v);
      const base = U64(v - p);
      if ((base & ((1n << 30n) - 1n)) === 0n) {
        mem.pageOffsetBase = base;
        break;
      }
    } catch {
      // next
    }
  }
  if (opts.symbol) mem.useSymbols(opts.symbol);
  if (mem.pageOffsetBase === undefined) mem.notes.push('direct map base (page_offset_base) not found: pass a symbol lookup');
  return mem;
}

/** phys_base from an ELF core's kernel-text PT_LOAD (vaddr in the kernel image mapping), as /proc/vmcore has it. */
function elfPhysBase(container: DumpContainer): bigint | undefined {
  return (container as { imagePhysBase?: () => bigint | undefined }).imagePhysBase?.();
}
