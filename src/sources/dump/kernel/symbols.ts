/**
 * Kernel symbol tables: core kernel symbols (kallsyms from the dump, or System.map with the
 * KASLR offset applied) plus module symbols, with `lookup(addr)` and `address(name)`.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../../model/errors.ts';
import type { RawSymbol } from './kallsyms.ts';

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

/** A sorted, immutable table of (address, name, type). */
export class SymbolTable {
  private readonly addrs: BigUint64Array;
  private readonly names: string[];
  private readonly types: string[];
  private byName?: Map<string, number>;

  constructor(symbols: RawSymbol[]) {
    // Stable sort by address keeps the original order of aliases (the kernel reports the first).
    const order = symbols.map((_, i) => i);
    let sorted = true;
    for (let i = 1; i < symbols.length; i++) if (symbols[i].address < symbols[i - 1].address) sorted = false;
    if (!sorted) order.sort((a, b) => (symbols[a].address < symbols[b].address ? -1 : symbols[a].address > symbols[b].address ? 1 : a - b));
    this.addrs = new BigUint64Array(symbols.length);
    this.names = new Array(symbols.length);
    this.types = new Array(symbols.length);
    order.forEach((src, i) => {
      this.addrs[i] = symbols[src].address;
      this.names[i] = symbols[src].name;
      this.types[i] = symbols[src].type;
    });
  }

  get length(): number {
    return this.addrs.length;
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
    return lo;
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
    return { name: this.names[i], offset: Number(addr - start), size: Number(end - start), address: start, type: this.types[i] };
  }

  /** Address of `name` (the first symbol with that name; global symbols win over local duplicates). */
  address(name: string): bigint | undefined {
    if (!this.byName) {
      const m = new Map<string, number>();
      for (let i = 0; i < this.names.length; i++) {
        const prev = m.get(this.names[i]);
        if (prev === undefined) m.set(this.names[i], i);
        else if (isLocal(this.types[prev]) && !isLocal(this.types[i])) m.set(this.names[i], i);
      }
      this.byName = m;
    }
    const i = this.byName.get(name);
    return i === undefined ? undefined : this.addrs[i];
  }

  typeOf(name: string): string | undefined {
    this.address(name);
    const i = this.byName!.get(name);
    return i === undefined ? undefined : this.types[i];
  }

  *entries(): IterableIterator<RawSymbol> {
    for (let i = 0; i < this.addrs.length; i++) yield { name: this.names[i], type: this.types[i], address: this.addrs[i] };
  }
}

function isLocal(type: string): boolean {
  return type >= 'a' && type <= 'z';
}

/**
 * Parses a System.map ("ffffffff81000000 T _text" lines). `kaslrOffset` is added to
 * kernel-image addresses (>= 0xffffffff80000000, not type 'A'); per-CPU and absolute symbols stay.
 */
export function parseSystemMap(text: string, file: string, kaslrOffset = 0n): RawSymbol[] {
  const out: RawSymbol[] = [];
  let lineNo = 0;
  let offset = 0;
  for (const line of text.split('\n')) {
    lineNo++;
    const lineStart = offset;
    offset += line.length + 1;
    if (line.trim() === '') continue;
    const m = /^([0-9a-fA-F]{1,16})\s+(\S)\s+(\S+)/.exec(line);
    if (!m) {
      throw new InputError(`line ${lineNo}: expected "ADDRESS TYPE NAME" as in a System.map, found "${line.slice(0, 60)}"`, file, lineStart);
    }
    let address = BigInt('0x' + m[1]);
    const type = m[2];
    if (kaslrOffset !== 0n && address >= START_KERNEL_MAP && type !== 'A' && type !== 'a') {
      address = BigInt.asUintN(64, address + kaslrOffset);
    }
    out.push({ address, type, name: m[3] });
  }
  if (out.length === 0) throw new InputError('no symbols found: not a System.map', file, 0);
  return out;
}

export function readSystemMap(file: string, kaslrOffset = 0n): RawSymbol[] {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (e) {
    throw new InputError(`cannot read System.map: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file);
  }
  return parseSystemMap(text, file, kaslrOffset);
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
