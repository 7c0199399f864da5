/**
 * Kernel symbol tables: core kernel symbols (kallsyms from the dump, or System.map with the
 * KASLR offset applied) plus module symbols, with `lookup(addr)` and `address(name)`.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../../model/errors.ts';
import type { RawSymbol, SymbolColumns } from './kallsyms.ts';
import { ByteNameIndex } from './name-index.ts';
import { LITTLE_ENDIAN } from '../format/io.ts';

export interface SymbolInfo {
  name: string;
  /** addr - symbol address. */
  offset: number;
  /** Distance to the next symbol with a higher address (the kernel's notion of size), or the ELF size for modules. */
  size: number;
  /** Module name for module symbols. */
  module?: string;
  /** Symbol start address. */
  address: bigint;
  /** kallsyms / System.map type letter ('T', 't', 'D', ...). */
  type: string;
}

/** Where x86_64 kernel-image addresses start; KASLR shifts symbols at and above it. */
export const START_KERNEL_MAP = 0xffffffff80000000n;

/** Linker markers of text sections, which alias the first function of their section. */
const SECTION_MARKER = /^__\w+_text_(start|end)$/;

/** A sorted, immutable table of (address, name, type), names kept as bytes until asked for. */
export class SymbolTable {
  private readonly addrs: BigUint64Array;
  private readonly bytes: Buffer;
  private readonly starts: Uint32Array;
  private readonly ends: Uint32Array;
  private readonly types: Uint8Array;
  private byName?: ByteNameIndex;

  constructor(symbols: RawSymbol[] | SymbolColumns) {
    const c = Array.isArray(symbols) ? columnsOf(symbols) : symbols;
    this.bytes = c.bytes;
    if (isSorted(c.addrs)) {
      this.addrs = c.addrs;
      this.starts = c.starts;
      this.ends = c.ends;
      this.types = c.types;
      return;
    }
    // Stable sort by address keeps the original order of aliases (the kernel reports the first).
    const order = Array.from(c.addrs.keys()).sort((a, b) => (c.addrs[a] < c.addrs[b] ? -1 : c.addrs[a] > c.addrs[b] ? 1 : a - b));
    const n = order.length;
    this.addrs = new BigUint64Array(n);
    this.starts = new Uint32Array(n);
    this.ends = new Uint32Array(n);
    this.types = new Uint8Array(n);
    order.forEach((src, i) => {
      this.addrs[i] = c.addrs[src];
      this.starts[i] = c.starts[src];
      this.ends[i] = c.ends[src];
      this.types[i] = c.types[src];
    });
  }

  get length(): number {
    return this.addrs.length;
  }

  private nameAt(i: number): string {
    return this.bytes.toString('latin1', this.starts[i], this.ends[i]);
  }

  private typeAt(i: number): string {
    return String.fromCharCode(this.types[i]);
  }

  /** Index of the last symbol with address <= addr, moved back to the first alias; -1 if none. */
  private floor(addr: bigint): number {
    let lo = 0;
    let hi = this.addrs.length - 1;
    if (hi < 0 || addr < this.addrs[0]) return -1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.addrs[mid] <= addr) lo = mid;
      else hi = mid - 1;
    }
    while (lo > 0 && this.addrs[lo - 1] === this.addrs[lo]) lo--;
    // A section marker (`__sched_text_start`) sharing the address of a function is not its name.
    let k = lo;
    while (k + 1 < this.addrs.length && this.addrs[k + 1] === this.addrs[lo] && SECTION_MARKER.test(this.nameAt(k))) k++;
    return SECTION_MARKER.test(this.nameAt(k)) ? lo : k;
  }

  /** The symbol containing `addr` (nearest preceding), sized up to the next higher address. */
  lookup(addr: bigint, maxDistance = 1n << 24n): SymbolInfo | undefined {
    const i = this.floor(addr);
    if (i < 0) return undefined;
    const start = this.addrs[i];
    if (addr - start > maxDistance) return undefined;
    let j = i + 1;
    while (j < this.addrs.length && this.addrs[j] === start) j++;
    const end = j < this.addrs.length ? this.addrs[j] : start;
    if (end !== start && addr >= end) return undefined;
    return { name: this.nameAt(i), offset: Number(addr - start), size: Number(end - start), address: start, type: this.typeAt(i) };
  }

  /** Which entry `name` means: the first symbol with that name, a global one over local duplicates. */
  private indexOf(name: string): number | undefined {
    this.byName ??= new ByteNameIndex(this.bytes, this.starts, this.ends);
    const all = this.byName.all(name);
    return all.find((i) => !isLocal(this.types[i])) ?? all[0];
  }

  /** Address of `name` (the first symbol with that name; global symbols win over local duplicates). */
  address(name: string): bigint | undefined {
    const i = this.indexOf(name);
    return i === undefined ? undefined : this.addrs[i];
  }

  typeOf(name: string): string | undefined {
    const i = this.indexOf(name);
    return i === undefined ? undefined : this.typeAt(i);
  }

  *entries(): IterableIterator<RawSymbol> {
    for (let i = 0; i < this.addrs.length; i++) yield { name: this.nameAt(i), type: this.typeAt(i), address: this.addrs[i] };
  }
}

/** Symbols as columns, names encoded latin1 into one buffer. */
function columnsOf(symbols: RawSymbol[]): SymbolColumns {
  const n = symbols.length;
  const starts = new Uint32Array(n);
  const ends = new Uint32Array(n);
  const types = new Uint8Array(n);
  const addrs = new BigUint64Array(n);
  let total = 0;
  for (const s of symbols) total += s.name.length;
  const bytes = Buffer.allocUnsafe(total);
  let at = 0;
  symbols.forEach((s, i) => {
    starts[i] = at;
    at += bytes.write(s.name, at, 'latin1');
    ends[i] = at;
    types[i] = s.type.charCodeAt(0);
    addrs[i] = s.address;
  });
  return { addrs, bytes, starts, ends, types };
}

/** Whether 64-bit addresses ascend, compared on 32-bit halves (no BigInt per element). */
function isSorted(addrs: BigUint64Array): boolean {
  if (!LITTLE_ENDIAN) {
    for (let i = 1; i < addrs.length; i++) if (addrs[i] < addrs[i - 1]) return false;
    return true;
  }
  const h = new Uint32Array(addrs.buffer, addrs.byteOffset, addrs.length * 2);
  for (let i = 1; i < addrs.length; i++) {
    const hi = h[2 * i + 1];
    const prevHi = h[2 * i - 1];
    if (hi < prevHi || (hi === prevHi && h[2 * i] < h[2 * i - 2])) return false;
  }
  return true;
}

function isLocal(type: number): boolean {
  return type >= 0x61 && type <= 0x7a;
}

/**
 * Parses a System.map ("ffffffff81000000 T _text" lines) into symbol columns: names stay in the file's bytes, addresses
 * are read as two 32-bit halves (no BigInt per line). `kaslrOffset` is added to kernel-image addresses (>= imageStart,
 * not type 'A'); per-CPU and absolute symbols stay.
 */
export function systemMapColumns(buf: Buffer, file: string, kaslrOffset = 0n, imageStart = START_KERNEL_MAP): SymbolColumns {
  // Upper bound on lines: one symbol per newline (+1 without a final newline).
  let lines = 1;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) lines++;
  const starts = new Uint32Array(lines);
  const ends = new Uint32Array(lines);
  const types = new Uint8Array(lines);
  const halves = new Uint32Array(lines * 2);
  const kHi = Number((kaslrOffset >> 32n) & 0xffffffffn);
  const kLo = Number(kaslrOffset & 0xffffffffn);
  const iHi = Number((imageStart >> 32n) & 0xffffffffn);
  const iLo = Number(imageStart & 0xffffffffn);
  const bad = (lineNo: number, at: number, end: number) =>
    new InputError(`line ${lineNo}: expected "ADDRESS TYPE NAME" as in a System.map, found "${buf.toString('latin1', at, Math.min(end, at + 60))}"`, file, at);
  let n = 0;
  let lineNo = 0;
  let at = 0;
  while (at < buf.length) {
    lineNo++;
    let nl = buf.indexOf(10, at);
    if (nl < 0) nl = buf.length;
    const lineStart = at;
    at = nl + 1;
    let p = lineStart;
    while (p < nl && (buf[p] === 0x20 || buf[p] === 0x09 || buf[p] === 0x0d)) p++;
    if (p === nl) continue;
    // Address: 1-16 hex digits.
    let hi = 0;
    let lo = 0;
    let digits = 0;
    for (; p < nl; p++) {
      const c = buf[p];
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
      if (d < 0) break;
      hi = ((hi << 4) | (lo >>> 28)) >>> 0;
      lo = ((lo << 4) | d) >>> 0;
      digits++;
    }
    if (digits === 0 || digits > 16 || (buf[p] !== 0x20 && buf[p] !== 0x09)) throw bad(lineNo, lineStart, nl);
    while (p < nl && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
    const type = buf[p++];
    if (p >= nl || type === undefined || (buf[p] !== 0x20 && buf[p] !== 0x09)) throw bad(lineNo, lineStart, nl);
    while (p < nl && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
    const nameStart = p;
    while (p < nl && buf[p] !== 0x20 && buf[p] !== 0x09 && buf[p] !== 0x0d) p++;
    if (p === nameStart) throw bad(lineNo, lineStart, nl);
    if ((kHi !== 0 || kLo !== 0) && type !== 0x41 && type !== 0x61 && (hi > iHi || (hi === iHi && lo >= iLo))) {
      const sum = lo + kLo;
      lo = sum >>> 0;
      hi = (hi + kHi + (sum > 0xffffffff ? 1 : 0)) >>> 0;
    }
    starts[n] = nameStart;
    ends[n] = p;
    types[n] = type;
    halves[2 * n] = LITTLE_ENDIAN ? lo : hi;
    halves[2 * n + 1] = LITTLE_ENDIAN ? hi : lo;
    n++;
  }
  if (n === 0) throw new InputError('no symbols found: not a System.map', file, 0);
  const addrs = new BigUint64Array(halves.buffer, 0, n);
  return { addrs, bytes: buf, starts: starts.subarray(0, n), ends: ends.subarray(0, n), types: types.subarray(0, n) };
}

/** parseSystemMap's symbols as objects (tests, small maps). */
export function parseSystemMap(text: string, file: string, kaslrOffset = 0n, imageStart = START_KERNEL_MAP): RawSymbol[] {
  const c = systemMapColumns(Buffer.from(text, 'latin1'), file, kaslrOffset, imageStart);
  const out: RawSymbol[] = [];
  for (let i = 0; i < c.addrs.length; i++) out.push({ address: c.addrs[i], type: String.fromCharCode(c.types[i]), name: c.bytes.toString('latin1', c.starts[i], c.ends[i]) });
  return out;
}

export function readSystemMap(file: string, kaslrOffset = 0n, imageStart = START_KERNEL_MAP): SymbolColumns {
  let buf: Buffer;
  try {
    buf = readFileSync(file);
  } catch (e) {
    throw new InputError(`cannot read System.map: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  return systemMapColumns(buf, file, kaslrOffset, imageStart);
}

/** One loaded module's symbols and memory regions. */
export interface ModuleSymbols {
  name: string;
  /** Address of its struct module. */
  address: bigint;
  /** Memory regions (core text/data, init...) as [start, end). */
  regions: { start: bigint; end: bigint; kind: string }[];
  symbols: { name: string; address: bigint; size: number; type: string }[];
}

/** Core kernel symbols plus module symbols; the API walkers and the CLI use. */
export class Symbols {
  private modules: ModuleSymbols[] = [];
  /** Module symbols sorted by address across all modules. */
  private modAddrs: bigint[] = [];
  private modRefs: { m: ModuleSymbols; i: number }[] = [];

  constructor(
    readonly core: SymbolTable,
    /** 'kallsyms-in-dump' or the System.map path. */
    readonly source: string,
  ) {}

  setModules(modules: ModuleSymbols[]): void {
    this.modules = modules;
    const refs: { m: ModuleSymbols; i: number }[] = [];
    for (const m of modules) {
      m.symbols.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
      m.symbols.forEach((_, i) => refs.push({ m, i }));
    }
    refs.sort((a, b) => {
      const x = a.m.symbols[a.i].address;
      const y = b.m.symbols[b.i].address;
      return x < y ? -1 : x > y ? 1 : 0;
    });
    this.modRefs = refs;
    this.modAddrs = refs.map((r) => r.m.symbols[r.i].address);
  }

  get moduleList(): readonly ModuleSymbols[] {
    return this.modules;
  }

  /** Which module's memory holds `addr`. */
  moduleAt(addr: bigint): ModuleSymbols | undefined {
    for (const m of this.modules) for (const r of m.regions) if (addr >= r.start && addr < r.end) return m;
    return undefined;
  }

  /** `addr` -> {name, offset, size, module?}; undefined when no symbol covers it. */
  lookup(addr: bigint): SymbolInfo | undefined {
    const mod = this.moduleAt(addr);
    if (mod) return lookupModule(mod, addr);
    return this.core.lookup(addr);
  }

  /** Address of a core kernel symbol, or `module:name` / a module symbol name. */
  address(name: string): bigint | undefined {
    const core = this.core.address(name);
    if (core !== undefined) return core;
    const colon = name.indexOf(':');
    for (const m of this.modules) {
      if (colon >= 0 && m.name !== name.slice(0, colon)) continue;
      const want = colon >= 0 ? name.slice(colon + 1) : name;
      const s = m.symbols.find((x) => x.name === want);
      if (s) return s.address;
    }
    return undefined;
  }

  /** `func+0x1a/0x40 [mod]` as the kernel prints it, or the hex address when unknown. */
  format(addr: bigint): string {
    const s = this.lookup(addr);
    if (!s) return `0x${addr.toString(16)}`;
    return `${s.name}+0x${s.offset.toString(16)}/0x${s.size.toString(16)}${s.module ? ` [${s.module}]` : ''}`;
  }
}

/** Kernel-style module lookup: nearest preceding symbol inside the region; size from the ELF size or next symbol. */
function lookupModule(m: ModuleSymbols, addr: bigint): SymbolInfo | undefined {
  const region = m.regions.find((r) => addr >= r.start && addr < r.end);
  let best = -1;
  for (let i = 0; i < m.symbols.length; i++) {
    const s = m.symbols[i];
    if (s.address > addr) break;
    if (region && s.address < region.start) continue;
    if (best < 0 || s.address > m.symbols[best].address || (s.address === m.symbols[best].address && preferSym(s, m.symbols[best]))) best = i;
  }
  if (best < 0) return undefined;
  const s = m.symbols[best];
  let next = region ? region.end : s.address + BigInt(s.size);
  for (let i = best + 1; i < m.symbols.length; i++) {
    if (m.symbols[i].address > s.address) {
      if (m.symbols[i].address < next) next = m.symbols[i].address;
      break;
    }
  }
  return { name: s.name, offset: Number(addr - s.address), size: Number(next - s.address), module: m.name, address: s.address, type: s.type };
}

function preferSym(a: { type: string; size: number }, b: { type: string; size: number }): boolean {
  // Prefer a sized function over section/none-sized aliases.
  return b.size === 0 && a.size > 0;
}
