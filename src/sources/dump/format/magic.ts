/** The signatures that open each dump container format, and which one a file's first bytes show. */

export const KDUMP_SIGNATURE = 'KDUMP   ';
export const DISKDUMP_SIGNATURE = 'DISKDUMP';
export const FLATTENED_SIGNATURE = 'makedumpfile';
export const ELF_MAGIC = '\x7fELF';

export type ContainerKind = 'kdump-compressed' | 'elf' | 'flattened';

/** The container format the first 16 bytes of a file show, or undefined for anything else. */
export function containerKindOf(head: Buffer): ContainerKind | undefined {
  const sig8 = head.toString('latin1', 0, 8);
  if (sig8 === KDUMP_SIGNATURE || sig8 === DISKDUMP_SIGNATURE) return 'kdump-compressed';
  if (head.toString('latin1', 0, 4) === ELF_MAGIC) return 'elf';
  if (head.toString('latin1', 0, FLATTENED_SIGNATURE.length) === FLATTENED_SIGNATURE) return 'flattened';
  return undefined;
}
