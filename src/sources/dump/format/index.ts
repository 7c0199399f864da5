/** Dump containers: ELF core, kdump-compressed, makedumpfile flattened; VMCOREINFO. */
export { openDumpContainer, openContainerOn } from './open.ts';
export { parseVmcoreinfo, type Vmcoreinfo } from './vmcoreinfo.ts';
export { KdumpContainer, type KdumpHeader } from './kdump.ts';
export { ElfContainer, type LoadSegment } from './elf.ts';
export { FlattenedSource } from './flattened.ts';
export { FileSource, type ByteSource } from './io.ts';
export { ExcludedPageError, MissingPageError, type CpuNote, type DumpContainer, type UtsName, type PfnRange } from './types.ts';
