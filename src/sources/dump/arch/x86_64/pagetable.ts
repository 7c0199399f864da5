/** x86_64 page-table walks (4- and 5-level, 1 GiB / 2 MiB pages) over the physical memory of a dump. */
import { UnmappedAddressError } from '../types.ts';
import { ExcludedPageError, MissingPageError } from '../../format/types.ts';

export const PTE_PRESENT = 1n;
export const PTE_PSE = 1n << 7n;
/** Physical address bits 12..51 of an entry. */
export const PTE_ADDR_MASK = 0x000ffffffffff000n;
const MASK_1G = 0x000fffffc0000000n;
const MASK_2M = 0x000fffffffe00000n;

import type { PhysReader } from '../space.ts';

export type { PhysReader };

/** Whether `vaddr` is canonical for the paging depth (sign-extended from bit 47 or 56). */
export function isCanonical(vaddr: bigint, levels: 4 | 5): boolean {
  const top = levels === 5 ? 56n : 47n;
  const high = vaddr >> top;
  return high === 0n || high === (1n << (64n - top)) - 1n;
}

export interface Translation {
  paddr: bigint;
  /** Size of the mapping page: 4 KiB, 2 MiB or 1 GiB. */
  pageSize: bigint;
}

/**
 * Walks the tables under `root` (physical address of the top level) for `vaddr`. A walk reads at most
 * `levels` entries, so garbage or cyclic tables end in UnmappedAddressError, never a loop.
 */
export function walk(mem: PhysReader, root: bigint, levels: 4 | 5, vaddr: bigint, encryptionMask = 0n): Translation {
  vaddr = BigInt.asUintN(64, vaddr);
  if (!isCanonical(vaddr, levels)) throw new UnmappedAddressError(vaddr, `not canonical for ${levels}-level paging`);
  const addrMask = PTE_ADDR_MASK & ~encryptionMask;
  let table = root & addrMask;
  const seen: bigint[] = [];
  for (let level: number = levels; level >= 1; level--) {
    // Linux never maps a table into itself: a repeated table is garbage (or a loop) in the dump.
    if (seen.includes(table)) throw new UnmappedAddressError(vaddr, `page-table cycle at physical 0x${table.toString(16)}`);
    seen.push(table);
    const shift = BigInt(12 + 9 * (level - 1));
    const index = (vaddr >> shift) & 511n;
    const entryAddr = table + index * 8n;
    let entry: bigint;
    try {
      entry = mem.readPhys(entryAddr, 8).readBigUInt64LE(0);
    } catch (e) {
      if (e instanceof ExcludedPageError || e instanceof MissingPageError) {
        throw new UnmappedAddressError(vaddr, `level-${level} page table at physical 0x${entryAddr.toString(16)} is not in the dump`);
      }
      throw e;
    }
    if ((entry & PTE_PRESENT) === 0n) throw new UnmappedAddressError(vaddr, `level-${level} entry not present`);
    if (level === 3 && (entry & PTE_PSE) !== 0n) {
      return { paddr: (entry & MASK_1G & ~encryptionMask) | (vaddr & 0x3fffffffn), pageSize: 1n << 30n };
    }
    if (level === 2 && (entry & PTE_PSE) !== 0n) {
      return { paddr: (entry & MASK_2M & ~encryptionMask) | (vaddr & 0x1fffffn), pageSize: 1n << 21n };
    }
    if (level === 1) return { paddr: (entry & addrMask) | (vaddr & 0xfffn), pageSize: 4096n };
    table = entry & addrMask;
  }
  throw new UnmappedAddressError(vaddr);
}
