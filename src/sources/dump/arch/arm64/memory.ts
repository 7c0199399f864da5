/**
 * Kernel virtual memory of an arm64 dump, from VMCOREINFO alone: the linear map (PAGE_OFFSET from VA_BITS, PHYS_OFFSET),
 * the kernel image (kimage_voffset), and the kernel's page tables (swapper_pg_dir, TTBR1) for everything else —
 * vmalloc, modules, vmemmap, per-CPU areas. Translation granules of 4K, 16K and 64K and 2 to 4 levels by the same code.
 *
 * Facts used (arch/arm64/include/asm/memory.h, pgtable-hwdef.h): PAGE_OFFSET = -(1 << VA_BITS) and the linear map
 * runs to -(1 << (VA_BITS - 1)) (since 5.4); __lm_to_phys(va) = va - PAGE_OFFSET + PHYS_OFFSET; a kernel-image address
 * va has pa = va - kimage_voffset. A stage-1 descriptor is valid with bit 0; at levels before the last bit 1 selects a
 * table (else a block), at the last level bit 1 marks a page; the output address is bits [47:PAGE_SHIFT].
 */
import { InputError } from '../../../../model/errors.ts';
import type { DumpContainer } from '../../format/types.ts';
import type { Vmcoreinfo } from '../../format/vmcoreinfo.ts';
import type { KernelMemory } from '../x86_64/memory.ts';
import { TranslatedSpace, type AddressSpace, type PhysReader } from '../space.ts';
import { UnmappedAddressError } from '../types.ts';

const U64 = (x: bigint) => BigInt.asUintN(64, x);
const OA_MASK_48 = 0x0000ffffffffffffn;

interface Geometry {
  pageShift: number;
  /** Bits of virtual address the table walk resolves (VA_BITS, or 64 - TxSZ). */
  vaBits: number;
  levels: number;
}

function geometry(pageSize: number, vaBits: number): Geometry {
  const pageShift = Math.log2(pageSize);
  // Each level resolves pageShift - 3 bits (8-byte descriptors).
  const perLevel = pageShift - 3;
  const levels = Math.ceil((vaBits - pageShift) / perLevel);
  return { pageShift, vaBits, levels };
}

/** A stage-1 translation from a table root. */
class Arm64Space extends TranslatedSpace {
  constructor(
    phys: PhysReader,
    readonly root: bigint,
    private readonly g: Geometry,
  ) {
    super(phys);
  }

  protected walkPage(vaddr: bigint): bigint {
    const { pageShift, vaBits, levels } = this.g;
    const perLevel = pageShift - 3;
    const pageMask = (1n << BigInt(pageShift)) - 1n;
    let table = this.root;
    for (let level = 0; level < levels; level++) {
      // The shift of the bits this level resolves; the first level takes what is left of VA_BITS.
      const shift = pageShift + perLevel * (levels - 1 - level);
      const bits = level === 0 ? vaBits - shift : perLevel;
      const index = (vaddr >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
      const desc = this.phys.readPhys(table + index * 8n, 8).readBigUInt64LE(0);
      if ((desc & 1n) === 0n) throw new UnmappedAddressError(vaddr, `level ${level + 4 - levels} descriptor ${desc.toString(16)} not valid`);
      const last = level === levels - 1;
      const isTable = (desc & 2n) !== 0n;
      if (last) {
        if (!isTable) throw new UnmappedAddressError(vaddr, 'reserved last-level descriptor');
        return (desc & OA_MASK_48 & ~pageMask) | (vaddr & pageMask);
      }
      if (!isTable) {
        // A block: the rest of the address is the offset inside it.
        const blockMask = (1n << BigInt(shift)) - 1n;
        return (desc & OA_MASK_48 & ~blockMask) | (vaddr & blockMask);
      }
      table = desc & OA_MASK_48 & ~pageMask;
    }
    throw new UnmappedAddressError(vaddr, 'page-table walk did not end');
  }
}

class Arm64KernelMemory extends Arm64Space implements KernelMemory {
  readonly notes: string[] = [];
  readonly physBaseSource = 'vmcoreinfo';
  readonly pageOffsetBase: bigint;
  readonly vmallocBase?: bigint;
  readonly vmemmapBase?: bigint;
  private readonly pageEnd: bigint;

  constructor(
    private readonly container: DumpContainer,
    private readonly geo: Geometry,
    readonly kaslrOffset: bigint,
    /** PHYS_OFFSET: the physical address of the start of RAM, where the linear map begins. */
    readonly physBase: bigint,
    private readonly kimageVoffset: bigint,
    readonly pgdPhys: bigint,
    vmallocStart: bigint | undefined,
    vmemmapStart: bigint | undefined,
  ) {
    super(container, pgdPhys, geo);
    this.pageOffsetBase = U64(-(1n << BigInt(geo.vaBits)));
    this.pageEnd = U64(-(1n << BigInt(geo.vaBits - 1)));
    if (vmallocStart !== undefined) this.vmallocBase = vmallocStart;
    if (vmemmapStart !== undefined) this.vmemmapBase = vmemmapStart;
  }

  get levels(): 4 | 5 {
    return this.geo.levels as 4;
  }

  override translate(vaddr: bigint): bigint {
    vaddr = U64(vaddr);
    // The linear map needs no tables.
    if (vaddr >= this.pageOffsetBase && vaddr < this.pageEnd) return vaddr - this.pageOffsetBase + this.physBase;
    return super.translate(vaddr);
  }

  kernelTextToPhys(vaddr: bigint): bigint {
    return U64(vaddr - this.kimageVoffset);
  }

  physToDirect(paddr: bigint): bigint {
    return U64(paddr - this.physBase + this.pageOffsetBase);
  }

  useSymbols(): void {}

  userSpace(pgd: bigint, opts: { physical?: boolean } = {}): AddressSpace {
    const root = opts.physical ? pgd & 0x0000fffffffff000n : this.translate(pgd);
    // User space is translated through TTBR0 with the same granule; its VA size is the same on Linux.
    return new Arm64Space(this.container, root, this.geo);
  }
}

/** Builds the kernel address space of an arm64 dump. Throws InputError when VMCOREINFO lacks what the translation needs. */
export function openArm64Memory(container: DumpContainer, info: Vmcoreinfo): KernelMemory {
  const n = (k: string) => info.numbers.get(k);
  const vaBits = n('TCR_EL1_T1SZ') !== undefined ? 64 - Number(n('TCR_EL1_T1SZ')) : n('VA_BITS') !== undefined ? Number(n('VA_BITS')) : undefined;
  const kimageVoffset = n('kimage_voffset');
  const physOffset = n('PHYS_OFFSET');
  const pgd = info.symbols.get('swapper_pg_dir');
  const missing = [vaBits === undefined ? 'NUMBER(VA_BITS)' : '', kimageVoffset === undefined ? 'NUMBER(kimage_voffset)' : '', physOffset === undefined ? 'NUMBER(PHYS_OFFSET)' : '', pgd === undefined ? 'SYMBOL(swapper_pg_dir)' : ''].filter(Boolean);
  if (missing.length) throw new InputError(`arm64 dump: VMCOREINFO lacks ${missing.join(', ')}: kernel addresses cannot be translated`, container.path);
  const pageSize = info.pageSize ?? container.pageSize;
  const geo = geometry(pageSize, vaBits!);
  const mem = new Arm64KernelMemory(container, geo, info.kernelOffset, U64(physOffset!), U64(kimageVoffset!), U64(pgd! - kimageVoffset!), n('VMALLOC_START'), n('VMEMMAP_START'));
  // The tables must map the kernel image the way kimage_voffset says.
  try {
    const viaTables = (mem as unknown as { walkPage(v: bigint): bigint }).walkPage(pgd!);
    if (viaTables !== U64(pgd! - kimageVoffset!)) mem.notes.push(`swapper_pg_dir maps to 0x${viaTables.toString(16)} through the page tables but to 0x${U64(pgd! - kimageVoffset!).toString(16)} by kimage_voffset`);
  } catch (e) {
    throw new InputError(`arm64 dump: the kernel page tables at physical 0x${U64(pgd! - kimageVoffset!).toString(16)} do not map the kernel image (${(e as Error).message})`, container.path);
  }
  return mem;
}
