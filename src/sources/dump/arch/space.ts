/** Kernel and user address spaces of any architecture: reads through a per-page translation, with typed readers. */
import { LruCache } from '../format/io.ts';
import { UnmappedAddressError, type VirtualMemory } from './types.ts';

/** Reads physical memory (a dump container). */
export interface PhysReader {
  readPhys(paddr: bigint, length: number): Buffer;
}

const U64 = (x: bigint) => BigInt.asUintN(64, x);

/** Typed reads over a VirtualMemory. */
export interface MemoryReaders {
  readU8(vaddr: bigint): number;
  readU16(vaddr: bigint): number;
  readU32(vaddr: bigint): number;
  readS32(vaddr: bigint): number;
  readU64(vaddr: bigint): bigint;
  readS64(vaddr: bigint): bigint;
  /** A pointer (u64). */
  readPointer(vaddr: bigint): bigint;
  /** A NUL-terminated string of at most `max` bytes (stops at an unmapped page after the first). */
  readCString(vaddr: bigint, max?: number): string;
  /** Whether `vaddr` translates (does not say whether the page is in the dump). */
  isMapped(vaddr: bigint): boolean;
}

export type AddressSpace = VirtualMemory & MemoryReaders;

/** An address space translated page by page (by a page-table walk the architecture supplies), with a small TLB. */
export abstract class TranslatedSpace implements AddressSpace {
  private readonly tlb = new LruCache<number, bigint>(8192);

  constructor(protected readonly phys: PhysReader) {}

  /** The physical address of `vaddr` (throws UnmappedAddressError). */
  protected abstract walkPage(vaddr: bigint): bigint;

  translate(vaddr: bigint): bigint {
    vaddr = U64(vaddr);
    // A page number (52 bits) is exact as a Number, and a Number key hashes faster than a BigInt.
    const vpage = Number(vaddr >> 12n);
    const hit = this.tlb.get(vpage);
    if (hit !== undefined) return hit | (vaddr & 0xfffn);
    const paddr = this.walkPage(vaddr);
    this.tlb.set(vpage, paddr & ~0xfffn);
    return paddr;
  }

  read(vaddr: bigint, length: number): Buffer {
    if (length < 0) throw new RangeError(`negative length ${length}`);
    vaddr = U64(vaddr);
    const within = Number(vaddr & 0xfffn);
    if (within + length <= 4096) return this.phys.readPhys(this.translate(vaddr), length);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      // Pages that follow each other in physical memory too are read at once (the kernel image, BTF, kallsyms).
      const start = this.translate(U64(vaddr + BigInt(done)));
      let n = Math.min(4096 - Number(start & 0xfffn), length - done);
      while (done + n < length && n < 1 << 20) {
        let next: bigint;
        try {
          next = this.translate(U64(vaddr + BigInt(done + n)));
        } catch {
          break;
        }
        if (next !== start + BigInt(n)) break;
        n += Math.min(4096, length - done - n);
      }
      this.phys.readPhys(start, n).copy(out, done);
      done += n;
    }
    return out;
  }

  readU8(v: bigint): number {
    return this.read(v, 1)[0];
  }
  readU16(v: bigint): number {
    return this.read(v, 2).readUInt16LE(0);
  }
  readU32(v: bigint): number {
    return this.read(v, 4).readUInt32LE(0);
  }
  readS32(v: bigint): number {
    return this.read(v, 4).readInt32LE(0);
  }
  readU64(v: bigint): bigint {
    return this.read(v, 8).readBigUInt64LE(0);
  }
  readS64(v: bigint): bigint {
    return this.read(v, 8).readBigInt64LE(0);
  }
  readPointer(v: bigint): bigint {
    return this.readU64(v);
  }
  readCString(vaddr: bigint, max = 4096): string {
    const parts: Buffer[] = [];
    let got = 0;
    let at = U64(vaddr);
    while (got < max) {
      const n = Math.min(4096 - Number(at & 0xfffn), max - got);
      let chunk: Buffer;
      try {
        chunk = this.read(at, n);
      } catch (e) {
        if (got === 0) throw e;
        break;
      }
      const z = chunk.indexOf(0);
      if (z >= 0) {
        parts.push(chunk.subarray(0, z));
        break;
      }
      parts.push(chunk);
      got += n;
      at = U64(at + BigInt(n));
    }
    return Buffer.concat(parts).toString('latin1');
  }
  isMapped(vaddr: bigint): boolean {
    try {
      this.translate(vaddr);
      return true;
    } catch (e) {
      if (e instanceof UnmappedAddressError) return false;
      throw e;
    }
  }
}

