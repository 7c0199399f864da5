/**
 * A file with no dump signature at offset 0 that still is a dump: its header overwritten (zeros, garbage) but the
 * structures after it intact — the VMCOREINFO text, the ELF notes of the CPUs. Said as such, instead of "not a
 * kernel log (binary data)" or "not a vmcore".
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import { FLATTENED_SIGNATURE, KDUMP_SIGNATURE } from './magic.ts';

/** How far into the file to look for dump structures (the kdump sub-header, notes and VMCOREINFO come first). */
const LOOK_BYTES = 4 * 1024 * 1024;

const MARKERS: Array<{ bytes: Buffer; what: string }> = [
  { bytes: Buffer.from('VMCOREINFO\0', 'latin1'), what: 'a VMCOREINFO note' },
  { bytes: Buffer.from('OSRELEASE=', 'latin1'), what: 'VMCOREINFO text (OSRELEASE=)' },
  { bytes: Buffer.from('PAGESIZE=', 'latin1'), what: 'VMCOREINFO text (PAGESIZE=)' },
  { bytes: Buffer.from(`CORE\0\0\0\0`, 'latin1'), what: 'ELF "CORE" notes (CPU registers)' },
  { bytes: Buffer.from(KDUMP_SIGNATURE, 'latin1'), what: `a kdump signature ("${KDUMP_SIGNATURE}")` },
  { bytes: Buffer.from(FLATTENED_SIGNATURE, 'latin1'), what: 'a makedumpfile signature' },
];

const DUMP_NAME = /^(vmcore|dump)(\.|$)|\.(vmcore|kdump|elf|core)$/i;

/** Why `path` looks like a damaged dump (and where), or undefined when nothing says it is one. */
export function damagedDumpReason(path: string): string | undefined {
  let fd: number | undefined;
  let buf: Buffer;
  try {
    fd = openSync(path, 'r');
    buf = Buffer.alloc(LOOK_BYTES);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, LOOK_BYTES - n, n);
      if (r <= 0) break;
      n += r;
      if (n >= LOOK_BYTES) break;
    }
    buf = buf.subarray(0, n);
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return damagedDumpReasonOf(buf, basename(path));
}

/** The same, on the first bytes of a file and its name. */
export function damagedDumpReasonOf(buf: Buffer, name: string): string | undefined {
  const found = MARKERS.map((m) => ({ ...m, at: buf.indexOf(m.bytes) })).filter((m) => m.at > 0);
  const byName = DUMP_NAME.test(name);
  if (!found.length && !byName) return undefined;
  if (!found.length && !looksBinary(buf)) return undefined;
  let zeros = 0;
  while (zeros < buf.length && buf[zeros] === 0) zeros++;
  const start = zeros >= 16 ? `its first ${zeros} bytes are zeros` : `it starts with ${JSON.stringify(buf.toString('latin1', 0, Math.min(8, buf.length)))}`;
  const evidence = found.length
    ? `but ${found
        .sort((a, b) => a.at - b.at)
        .slice(0, 2)
        .map((m) => `${m.what} at offset 0x${m.at.toString(16)}`)
        .join(' and ')} show it is one`
    : `but its name (${name}) says it is one`;
  return `looks like a damaged vmcore: no dump signature at offset 0 (${start}), ${evidence}; expected an ELF core ("\\x7fELF"), kdump-compressed ("${KDUMP_SIGNATURE}") or makedumpfile flattened ("${FLATTENED_SIGNATURE}") there — the header was overwritten or the copy is corrupt`;
}

function looksBinary(buf: Buffer): boolean {
  const n = Math.min(buf.length, 65536);
  let nul = 0;
  for (let i = 0; i < n; i++) if (buf[i] === 0) nul++;
  return nul > n * 0.01 + 2;
}
