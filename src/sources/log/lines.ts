/** Bytes -> lines: splitting on LF, CRLF handled, long lines capped, non-UTF-8 decoded as Latin-1. Constant memory. */

/** Longest line kept (bytes); the rest of a longer line is dropped with a note. */
export const MAX_LINE = 16 * 1024;

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface LineSink {
  line(text: string, lineNo: number): void;
}

export interface DecodeStats {
  latin1Lines: number;
  firstLatin1Line?: number;
  longLines: number;
  firstLongLine?: number;
}

/** Decodes bytes [start, end) of one line (without the LF); strips a trailing CR. */
export function decodeLine(buf: Uint8Array, start: number, end: number, lineNo: number, stats: DecodeStats): string {
  if (end > start && buf[end - 1] === 0x0d) end--;
  let high = false;
  for (let i = start; i < end; i++) {
    if (buf[i] >= 0x80) {
      high = true;
      break;
    }
  }
  const b = Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
  if (!high) return b.toString('latin1');
  try {
    return utf8.decode(b);
  } catch {
    stats.latin1Lines++;
    stats.firstLatin1Line ??= lineNo;
    return b.toString('latin1');
  }
}

/** Feeds chunks, emits whole lines. Keeps at most MAX_LINE bytes of a partial line. */
export class LineSplitter {
  private carry: Buffer = Buffer.alloc(0);
  private carryLen = 0;
  private overflow = false;
  lineNo = 0;
  readonly stats: DecodeStats = { latin1Lines: 0, longLines: 0 };

  constructor(private readonly sink: LineSink) {}

  push(chunk: Uint8Array): void {
    let pos = 0;
    const n = chunk.length;
    while (pos < n) {
      const nl = chunk.indexOf(0x0a, pos);
      if (nl < 0) {
        this.keep(chunk, pos, n);
        return;
      }
      if (this.carryLen > 0 || this.overflow) {
        this.keep(chunk, pos, nl);
        this.emitCarry();
      } else {
        this.lineNo++;
        let end = nl;
        if (end - pos > MAX_LINE) {
          this.noteLong();
          end = pos + MAX_LINE;
        }
        this.sink.line(decodeLine(chunk, pos, end, this.lineNo, this.stats), this.lineNo);
      }
      pos = nl + 1;
    }
  }

  /** Flushes a last line without LF. */
  end(): void {
    if (this.carryLen > 0 || this.overflow) this.emitCarry();
  }

  private keep(chunk: Uint8Array, from: number, to: number): void {
    const room = MAX_LINE - this.carryLen;
    const take = Math.min(room, to - from);
    if (take < to - from) this.overflow = true;
    if (take <= 0) return;
    if (this.carry.length < this.carryLen + take) {
      const next = Buffer.alloc(Math.min(MAX_LINE, Math.max(this.carry.length * 2, this.carryLen + take, 256)));
      this.carry.copy(next, 0, 0, this.carryLen);
      this.carry = next;
    }
    this.carry.set(chunk.subarray(from, from + take), this.carryLen);
    this.carryLen += take;
  }

  private emitCarry(): void {
    this.lineNo++;
    if (this.overflow) this.noteLong();
    const text = decodeLine(this.carry, 0, this.carryLen, this.lineNo, this.stats);
    this.carryLen = 0;
    this.overflow = false;
    if (this.carry.length > 4096) this.carry = Buffer.alloc(0);
    this.sink.line(text, this.lineNo);
  }

  private noteLong(): void {
    this.stats.longLines++;
    this.stats.firstLongLine ??= this.lineNo;
  }
}

/** Binary-file check on the first bytes: NULs or many control bytes mean "not a text log". */
export function binaryReason(head: Uint8Array): string | undefined {
  const n = Math.min(head.length, 64 * 1024);
  if (n === 0) return undefined;
  let nul = 0;
  let ctrl = 0;
  for (let i = 0; i < n; i++) {
    const c = head[i];
    if (c === 0) nul++;
    else if (c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0c && c !== 0x1b && c !== 0x08 && c !== 0x07) ctrl++;
  }
  if (nul > n * 0.01 + 2) return `binary data: ${nul} NUL bytes in the first ${n} bytes`;
  if (ctrl > n * 0.05 + 8) return `binary data: ${ctrl} control bytes in the first ${n} bytes`;
  return undefined;
}
