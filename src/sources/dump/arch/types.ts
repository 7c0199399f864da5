/** Kernel virtual memory of a dump: what the kernel/ and walk/ layers read through. */

/** A virtual address with no valid translation (page-table entry not present). */
export class UnmappedAddressError extends Error {
  constructor(readonly vaddr: bigint, detail = '') {
    super(`virtual address 0x${vaddr.toString(16)} is not mapped${detail ? ` (${detail})` : ''}`);
    this.name = 'UnmappedAddressError';
  }
}

export interface VirtualMemory {
  /** Reads `length` bytes at kernel virtual address `vaddr` (may cross pages). Throws UnmappedAddressError, ExcludedPageError, MissingPageError. */
  read(vaddr: bigint, length: number): Buffer;
  /** Kernel virtual -> physical. Throws UnmappedAddressError. */
  translate(vaddr: bigint): bigint;
}
