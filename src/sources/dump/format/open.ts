/** Opens a dump file of any supported container format, detected by its magic. */
import { InputError } from '../../../model/errors.ts';
import { ElfContainer } from './elf.ts';
import { FlattenedSource } from './flattened.ts';
import { FileSource, type ByteSource } from './io.ts';
import { KdumpContainer } from './kdump.ts';
import { withSplitSiblings } from './split.ts';
import { damagedDumpReason } from './damaged.ts';
import { containerKindOf, foreignDumpOf } from './magic.ts';
import type { DumpContainer } from './types.ts';

/** Opens a container over an already opened byte source; `outer` names the wrapping format (flattened). */
export function openContainerOn(src: ByteSource, outer?: string): DumpContainer {
  const head = src.readAt(0n, 16);
  const kind = containerKindOf(head);
  if (kind === 'kdump-compressed') {
    const k = new KdumpContainer(src, outer ?? 'kdump-compressed');
    // One file of a makedumpfile --split set: read the set together.
    return outer ? k : withSplitSiblings(k);
  }
  if (kind === 'elf') return new ElfContainer(src, outer ?? 'elf');
  if (!outer && kind === 'flattened') {
    const flat = new FlattenedSource(src);
    const c = openContainerOn(flat, 'flattened');
    (c.incomplete as string[]).unshift(...flat.problems);
    return c;
  }
  const foreign = foreignDumpOf(head);
  if (foreign) throw new InputError(`${foreign.name}: this format is not supported; ${foreign.hint}`, src.path, 0);
  const shown = JSON.stringify(head.toString('latin1', 0, Math.min(head.length, 12)));
  const damaged = !outer && head.length ? damagedDumpReason(src.path) : undefined;
  if (damaged) throw new InputError(damaged, src.path, 0);
  throw new InputError(
    head.length === 0
      ? `empty file: expected a vmcore (ELF core, kdump-compressed "KDUMP   ", or makedumpfile flattened)`
      : `not a vmcore: starts with ${shown}; expected an ELF core (\\x7fELF), kdump-compressed ("KDUMP   ") or makedumpfile flattened ("makedumpfile")${outer ? ` inside the ${outer} stream` : ''}`,
    src.path,
    0,
  );
}

/** Opens a vmcore: ELF core, kdump-compressed or makedumpfile flattened. Throws InputError for anything else. */
export function openDumpContainer(path: string): DumpContainer {
  const src = new FileSource(path);
  try {
    return openContainerOn(src);
  } catch (e) {
    src.close();
    if (e instanceof InputError) throw e;
    // Any other failure while parsing headers is still a problem of the input, not of the program.
    if (e instanceof RangeError || e instanceof TypeError) throw new InputError(`malformed dump: ${e.message}`, path);
    throw e;
  }
}
