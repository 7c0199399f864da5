/** An error in the user's input (a file, an argument): the CLI prints its message on one line and exits 2. */
export class InputError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly offset?: number | bigint,
  ) {
    super(message);
    this.name = 'InputError';
  }

  /** `file: at offset 0x1234: message` — the one line the CLI prints. */
  describe(): string {
    const parts: string[] = [];
    if (this.file) parts.push(this.file);
    if (this.offset !== undefined) parts.push(`at offset 0x${this.offset.toString(16)}`);
    parts.push(this.message);
    return parts.join(': ');
  }
}

export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;
/** A bug in Coroner itself (never an input problem). */
export const EXIT_INTERNAL = 3;
