/**
 * LZO1X decompressor (the format liblzo2's lzo1x_1 and the kernel's lzo1x produce), written from the
 * published bitstream description. DESIGN.md: npm LZO decoders are native, GPL or broken, so we keep a
 * small one of our own. Every read and write is bounds-checked: bad input throws LzoError, never loops.
 */

export class LzoError extends Error {
  constructor(message: string, readonly position: number) {
    super(`LZO: ${message} at input byte ${position}`);
    this.name = 'LzoError';
  }
}

/** Decompresses `src` into a buffer of at most `maxOutput` bytes; returns the bytes produced. */
export function lzo1xDecompress(src: Uint8Array, maxOutput: number): Buffer {
  const out = Buffer.alloc(maxOutput);
  let ip = 0;
  let op = 0;
  const n = src.length;

  const byte = (): number => {
    if (ip >= n) throw new LzoError('input overrun', ip);
    return src[ip++];
  };
  // A length continued by zero bytes (each worth 255) and a final non-zero byte.
  const extLength = (base: number): number => {
    let len = 0;
    for (;;) {
      const b = byte();
      if (b !== 0) return len + base + b;
      len += 255;
      if (len > maxOutput + 255) throw new LzoError('length overrun', ip);
    }
  };
  const literals = (count: number): void => {
    if (ip + count > n) throw new LzoError('input overrun in literal run', ip);
    if (op + count > maxOutput) throw new LzoError('output overrun in literal run', ip);
    for (let i = 0; i < count; i++) out[op++] = src[ip++];
  };
  const match = (distance: number, length: number): void => {
    if (distance > op || distance <= 0) throw new LzoError(`match distance ${distance} before output start`, ip);
    if (op + length > maxOutput) throw new LzoError('output overrun in match', ip);
    let from = op - distance;
    for (let i = 0; i < length; i++) out[op++] = out[from++];
  };

  // state: how many literals the previous instruction copied (0..3), 4 for a run of 4 or more.
  let state = 0;
  if (n === 0) throw new LzoError('empty input', 0);
  if (src[0] > 17) {
    const count = src[0] - 17;
    ip = 1;
    literals(count);
    state = count >= 4 ? 4 : count;
  }

  for (;;) {
    const t = byte();
    let trailing: number;
    if (t < 16) {
      if (state === 0) {
        const len = 3 + (t !== 0 ? t : extLength(15));
        literals(len);
        state = 4;
        continue;
      }
      const h = byte();
      if (state === 4) match((h << 2) + ((t >> 2) & 3) + 2049, 3);
      else match((h << 2) + ((t >> 2) & 3) + 1, 2);
      trailing = t & 3;
    } else if (t < 32) {
      const len = 2 + ((t & 7) !== 0 ? t & 7 : extLength(7));
      const lo = byte();
      const hi = byte();
      const d = (hi << 6) | (lo >> 2);
      const distance = 16384 + ((t & 8) << 11) + d;
      if (distance === 16384) {
        // End of stream marker (0x11 0x00 0x00).
        if (len !== 3) throw new LzoError('bad end-of-stream marker', ip);
        break;
      }
      match(distance, len);
      trailing = lo & 3;
    } else if (t < 64) {
      const len = 2 + ((t & 31) !== 0 ? t & 31 : extLength(31));
      const lo = byte();
      const hi = byte();
      match(((hi << 6) | (lo >> 2)) + 1, len);
      trailing = lo & 3;
    } else {
      const h = byte();
      const len = t < 128 ? 3 + ((t >> 5) & 1) : 5 + ((t >> 5) & 3);
      match((h << 3) + ((t >> 2) & 7) + 1, len);
      trailing = t & 3;
    }
    literals(trailing);
    state = trailing;
  }
  return out.subarray(0, op);
}
