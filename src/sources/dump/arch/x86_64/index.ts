/** x86_64: page tables, kernel and user address spaces, registers. */
export { openKernelMemory, START_KERNEL_MAP, type AddressSpace, type KernelMemory, type MemoryReaders, type OpenKernelMemoryOptions } from './memory.ts';
export { isCanonical, walk, type Translation } from './pagetable.ts';
export { registerSetFromNote, noteHasRegisters, EFLAGS_IF } from './registers.ts';
