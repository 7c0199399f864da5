/**
 * A kernel value printed as crash's `p` prints it (gdb's notation): structs and unions as `{ name = value, ... }`
 * over indented lines, anonymous members as bare braces, integers in decimal (or hex with `-x`), one-byte char types
 * as `65 'A'`, booleans as true/false, enums by name, pointers in hex with the symbol they point at, arrays in braces.
 */
import { BtfKind } from '../sources/dump/kernel/btf.ts';
import type { Symbols } from '../sources/dump/kernel/symbols.ts';
import type { KType, Value } from '../sources/dump/kernel/value.ts';

const ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 9: '\\t', 10: '\\n', 11: '\\v', 12: '\\f', 13: '\\r', 39: "\\'", 92: '\\\\' };

function charText(n: number): string {
  if (ESCAPES[n]) return ESCAPES[n];
  if (n >= 0x20 && n < 0x7f) return String.fromCharCode(n);
  return `\\${n.toString(8).padStart(3, '0')}`;
}

export function printValue(v: Value, symbols: Symbols, opts: { hex?: boolean } = {}, indent = ''): string {
  const t: KType = v.type;
  const k = t.kind;
  if (k === BtfKind.STRUCT || k === BtfKind.UNION) {
    const inner = indent + '  ';
    const members = t.resolved?.members ?? [];
    const lines = members.map((m) => {
      const mv = v.memberAt(m.name, m.type, m.bitOffset, m.bitSize);
      const text = printValue(mv, symbols, opts, inner);
      return m.name ? `${inner}${m.name} = ${text}` : `${inner}${text}`;
    });
    return lines.length ? `{\n${lines.join(',\n')}\n${indent}}` : '{}';
  }
  if (k === BtfKind.ARRAY) {
    const n = t.length ?? 0;
    const el = t.target();
    if (el.kind === BtfKind.INT && el.sizeof === 1 && /char/.test(el.resolved?.name ?? '')) {
      // gdb: every byte but the terminating NUL, escaped (`"swapper/0\000\000"`); an all-NUL array is `"\000..."`.
      const bytes = [...v.bytes(n)];
      if (bytes.length && bytes[bytes.length - 1] === 0) bytes.pop();
      return `"${bytes.map((b) => (b === 34 ? '\\"' : charText(b))).join('')}"`;
    }
    const items: string[] = [];
    for (let i = 0; i < Math.min(n, 200); i++) items.push(printValue(v.index(i), symbols, opts, indent));
    return `{${items.join(', ')}${n > 200 ? '...' : ''}}`;
  }
  if (k === BtfKind.PTR) {
    const p = v.pointer();
    if (p === 0n) return '0x0';
    const s = symbols.lookup(p);
    const text = `0x${p.toString(16)}${s && s.offset < s.size ? ` <${s.name}${s.offset ? `+${s.offset}` : ''}>` : ''}`;
    // As gdb prints a char pointer: the string it points to (200 characters at most), or why it cannot be read.
    const el = t.target();
    if (el.kind === BtfKind.INT && el.sizeof === 1 && /char/.test(el.resolved?.name ?? '')) {
      try {
        const str = v.kernel.readString(p, 201, 'string');
        const shown = [...Buffer.from(str.slice(0, 200), 'latin1')].map((b) => (b === 34 ? '\\"' : charText(b))).join('');
        return `${text} "${shown}"${str.length > 200 ? '...' : ''}`;
      } catch {
        return `${text} <error: Cannot access memory at address 0x${p.toString(16)}>`;
      }
    }
    return text;
  }
  if (k === BtfKind.ENUM || k === BtfKind.ENUM64) {
    const n = v.int();
    return v.enumName() ?? n.toString();
  }
  if (k === BtfKind.INT) {
    const r = t.resolved!;
    const n = v.int();
    if (r.name === '_Bool') return n ? 'true' : 'false';
    if (t.sizeof === 1 && /char/.test(r.name)) return `${n} '${charText(Number(BigInt.asUintN(8, n)))}'`;
    return opts.hex ? `0x${BigInt.asUintN(t.sizeof * 8, n).toString(16)}` : n.toString();
  }
  return `<${t.name}>`;
}
