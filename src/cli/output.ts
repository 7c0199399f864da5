/** Writing a command's output: to a file or stdout, with colour only on a TTY. */
import { writeFileSync } from 'node:fs';
import { InputError } from '../model/errors.ts';

export function useColor(output: string | undefined): boolean {
  return !output && !!process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
}

/** Writes `text` to `output` (a file path) or stdout, waiting for stdout to drain. */
export async function emit(text: string, output: string | undefined): Promise<void> {
  if (output) {
    try {
      writeFileSync(output, text);
    } catch (err) {
      throw new InputError(`cannot write output (${(err as NodeJS.ErrnoException).code ?? String(err)})`, output);
    }
    return;
  }
  await new Promise<void>((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
