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

/** Dump formats we recognise but do not read, with the tool that turns each into one we do. */
const FOREIGN: Array<{ test: (head: Buffer) => boolean; name: string; hint: string }> = [
  {
    // sadump (Fujitsu): the partition header opens with "sadump\0\0"
    test: (h) => h.toString('latin1', 0, 6) === 'sadump',
    name: 'a sadump dump',
    hint: 'makedumpfile reads sadump: `makedumpfile -c -d 31 <file> vmcore` writes a kdump-compressed file Coroner reads',
  },
  {
    // s390 stand-alone / VM dump: 0xa8190173618f23fd (big-endian)
    test: (h) => h.length >= 8 && h.readBigUInt64BE(0) === 0xa8190173618f23fdn,
    name: 'an s390 dump',
    hint: 'zgetdump (s390-tools) converts it to an ELF core: `zgetdump <file> > vmcore.elf`',
  },
  {
    // LKCD: 0xa8190173618f23ed
    test: (h) => h.length >= 8 && (h.readBigUInt64LE(0) === 0xa8190173618f23edn || h.readBigUInt64BE(0) === 0xa8190173618f23edn),
    name: 'an LKCD dump',
    hint: 'only ELF, kdump-compressed and flattened vmcores are read; LKCD (kernels before kdump) is not',
  },
  {
    // VMware suspend / snapshot state (.vmss, .vmsn)
    test: (h) => h.length >= 4 && [0xbed2bed0, 0xbed2bed2, 0xbed3bed3, 0xbad1bad1].includes(h.readUInt32LE(0)),
    name: 'a VMware suspend or snapshot file',
    hint: 'vmss2core converts it to an ELF core: `vmss2core -N <file.vmss>`',
  },
  {
    // QEMU migration / savevm stream
    test: (h) => h.toString('latin1', 0, 4) === 'QEVM',
    name: 'a QEMU migration stream (savevm)',
    hint: 'take the dump with QMP `dump-guest-memory` (or `virsh dump --memory-only`) instead',
  },
];

/** A dump format recognised by its signature but not read: its name and how to convert it. */
export function foreignDumpOf(head: Buffer): { name: string; hint: string } | undefined {
  const f = FOREIGN.find((x) => x.test(head));
  return f && { name: f.name, hint: f.hint };
}
