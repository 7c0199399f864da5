/** Errors of the kernel layer: missing types/members/symbols (version differences) and unreadable memory. */
import { ExcludedPageError, MissingPageError } from '../format/types.ts';
import { UnmappedAddressError } from '../arch/types.ts';

/** A type, member or symbol this kernel does not have (a version difference, not a bad dump). */
export class KernelLayoutError extends Error {
  constructor(
    message: string,
    readonly release?: string,
  ) {
    super(release ? `${message} (kernel ${release})` : message);
    this.name = 'KernelLayoutError';
  }
}

export type UnreadableReason = 'excluded' | 'unmapped' | 'missing' | 'corrupt';

/**
 * Memory the dump cannot give: a page filtered out by the dump level, an unmapped virtual
 * address, a physical address outside the dump, or data that fails a sanity check.
 * Callers turn it into "unknown because ...".
 */
export class UnreadableMemoryError extends Error {
  constructor(
    /** What was being read, e.g. `jiffies_seq.seqcount.sequence`. */
    readonly what: string,
    readonly address: bigint,
    readonly reason: UnreadableReason,
    readonly detail: string,
  ) {
    super(`cannot read ${what} at 0x${address.toString(16)}: ${detail}`);
    this.name = 'UnreadableMemoryError';
  }

  /** The phrase for a report: "unknown because the page holding X was excluded from the dump". */
  get because(): string {
    switch (this.reason) {
      case 'excluded':
        return `the page holding ${this.what} was excluded from the dump`;
      case 'unmapped':
        return `${this.what} (0x${this.address.toString(16)}) is not mapped`;
      case 'missing':
        return `${this.what} (0x${this.address.toString(16)}) is outside the memory the dump holds`;
      default:
        return `${this.what} looks corrupted: ${this.detail}`;
    }
  }
}

/** Whether `e` is one of the memory errors of the lower layers (or ours). */
export function isMemoryError(e: unknown): e is ExcludedPageError | MissingPageError | UnmappedAddressError | UnreadableMemoryError {
  return e instanceof ExcludedPageError || e instanceof MissingPageError || e instanceof UnmappedAddressError || e instanceof UnreadableMemoryError;
}

/** Wraps a lower-layer memory error into UnreadableMemoryError naming `what`; rethrows anything else. */
export function asUnreadable(e: unknown, what: string, address: bigint): never {
  if (e instanceof UnreadableMemoryError) throw e;
  if (e instanceof ExcludedPageError) throw new UnreadableMemoryError(what, address, 'excluded', e.message);
  if (e instanceof UnmappedAddressError) throw new UnreadableMemoryError(what, address, 'unmapped', e.message);
  if (e instanceof MissingPageError) throw new UnreadableMemoryError(what, address, 'missing', e.message);
  throw e;
}

export type Result<T> = { ok: true; value: T } | { ok: false; unknown: string; error: UnreadableMemoryError | KernelLayoutError };

/** Runs `fn`; memory and layout errors become `{ok: false, unknown: "because ..."}`. */
export function attempt<T>(fn: () => T): Result<T> {
  try {
    return { ok: true, value: fn() };
  } catch (e) {
    if (e instanceof UnreadableMemoryError) return { ok: false, unknown: e.because, error: e };
    if (e instanceof KernelLayoutError) return { ok: false, unknown: e.message, error: e };
    if (isMemoryError(e)) {
      const addr = e instanceof UnmappedAddressError ? e.vaddr : e instanceof UnreadableMemoryError ? e.address : e.paddr;
      const w = new UnreadableMemoryError('memory', addr, e instanceof ExcludedPageError ? 'excluded' : e instanceof MissingPageError ? 'missing' : 'unmapped', e.message);
      return { ok: false, unknown: w.because, error: w };
    }
    throw e;
  }
}
