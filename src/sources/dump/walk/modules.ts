/**
 * Loaded modules and their symbols, from the `modules` list and each `struct module`
 * (layouts read from BTF): name, memory regions (6.4+: `mem[]` of struct module_memory;
 * before: `core_layout`/`init_layout`), and `kallsyms` (struct mod_kallsyms: symtab,
 * num_symtab, strtab, typetab) so module text resolves to `func+off/size [module]`.
 */
import { UnreadableMemoryError, KernelLayoutError } from '../kernel/errors.ts';
import type { ModuleSymbols } from '../kernel/symbols.ts';
import type { Kernel, Value } from '../kernel/value.ts';
import { listEntries, type WalkNotes } from './list.ts';

const ELF64_SYM_SIZE = 24;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const MAX_MODULES = 10_000;
const MAX_MODULE_SYMS = 1_000_000;

/** Module names and struct module addresses, in list order. */
export function* modulesOf(kernel: Kernel, out?: WalkNotes): Generator<Value> {
  const head = kernel.variable('modules', 'struct list_head');
  yield* listEntries(kernel, head, 'struct module', 'list', out, MAX_MODULES);
}

/** Memory regions of one module as [start, end) with a kind (text first, so lookups bound function sizes by text). */
function regionsOf(kernel: Kernel, mod: Value): ModuleSymbols['regions'] {
  const regions: ModuleSymbols['regions'] = [];
  if (mod.hasMember('mem')) {
    const mem = mod.member('mem');
    const enumT = (() => {
      try {
        return kernel.type('enum mod_mem_type');
      } catch {
        return undefined;
      }
    })();
    const n = mem.type.length ?? 0;
    for (let i = 0; i < n; i++) {
      const m = mem.index(i);
      const base = m.member('base').pointer();
      const size = BigInt(m.member('size').u32());
      if (base === 0n || size === 0n) continue;
      const kind = enumT?.enumName(BigInt(i))?.replace(/^MOD_/, '').toLowerCase() ?? `mem${i}`;
      regions.push({ start: base, end: base + size, kind });
    }
  } else {
    for (const [layout, prefix] of [
      ['core_layout', ''],
      ['init_layout', 'init_'],
    ] as const) {
      if (!mod.hasMember(layout)) continue;
      const l = mod.member(layout);
      const base = l.member('base').pointer();
      const size = BigInt(l.member('size').u32());
      const text = l.hasMember('text_size') ? BigInt(l.member('text_size').u32()) : size;
      if (base === 0n || size === 0n) continue;
      if (text > 0n) regions.push({ start: base, end: base + text, kind: `${prefix}text` });
      if (size > text) regions.push({ start: base + text, end: base + size, kind: `${prefix}data` });
    }
  }
  // Text regions first: a text address must be bounded by the end of text, as the kernel does.
  regions.sort((a, b) => Number(b.kind.endsWith('text')) - Number(a.kind.endsWith('text')));
  return regions;
}

/** Symbols of one module from its mod_kallsyms (ELF symtab + strtab, typetab when present). */
function symbolsOf(kernel: Kernel, mod: Value, name: string, notes: string[]): ModuleSymbols['symbols'] {
  const ks = mod.member('kallsyms');
  if (ks.isNull()) return [];
  const k = ks.deref();
  const num = k.member('num_symtab').u32();
  if (num === 0) return [];
  if (num > MAX_MODULE_SYMS) {
    notes.push(`module ${name}: num_symtab ${num} is not plausible; its symbols are skipped`);
    return [];
  }
  const symtab = k.member('symtab').pointer();
  const strtab = k.member('strtab').pointer();
  const typetab = k.hasMember('typetab') ? k.member('typetab').pointer() : 0n;
  const raw = kernel.read(symtab, num * ELF64_SYM_SIZE, `${name} symtab`);
  let maxName = 0;
  for (let i = 0; i < num; i++) maxName = Math.max(maxName, raw.readUInt32LE(i * ELF64_SYM_SIZE));
  // Read to the end of the page holding the last name's start (the next page may be a guard page), more only if needed.
  let end = ((strtab + BigInt(maxName) + 4096n) & ~4095n) - strtab;
  let strs = kernel.read(strtab, Number(end), `${name} strtab`);
  for (let more = 0; more < 4 && strs.indexOf(0, maxName) < 0; more++) {
    end += 4096n;
    strs = kernel.read(strtab, Number(end), `${name} strtab`);
  }
  const types = typetab !== 0n ? kernel.read(typetab, num, `${name} typetab`) : undefined;
  const out: ModuleSymbols['symbols'] = [];
  for (let i = 0; i < num; i++) {
    const o = i * ELF64_SYM_SIZE;
    const stName = raw.readUInt32LE(o);
    const info = raw[o + 4];
    const shndx = raw.readUInt16LE(o + 6);
    const value = raw.readBigUInt64LE(o + 8);
    const size = Number(raw.readBigUInt64LE(o + 16));
    if (shndx === SHN_UNDEF || shndx >= SHN_LORESERVE || stName === 0 || stName >= strs.length) continue;
    let e = stName;
    while (e < strs.length && strs[e] !== 0) e++;
    const sym = strs.toString('latin1', stName, e);
    if (!sym || sym.startsWith('$') || sym.startsWith('.L')) continue;
    const type = types ? String.fromCharCode(types[i]) : elfTypeChar(info);
    out.push({ name: sym, address: value, size, type });
  }
  return out;
}

function elfTypeChar(info: number): string {
  const bind = info >> 4;
  const type = info & 0xf;
  const c = type === 2 ? 't' : type === 1 ? 'd' : '?';
  return bind === 1 ? c.toUpperCase() : c;
}

/** Reads every module's name, regions and symbols; problems become notes, never exceptions. */
export function readModules(kernel: Kernel, notes: string[]): ModuleSymbols[] {
  const out: ModuleSymbols[] = [];
  const walk: WalkNotes = { notes };
  let iter: Generator<Value>;
  try {
    iter = modulesOf(kernel, walk);
  } catch (e) {
    if (e instanceof KernelLayoutError) {
      notes.push(`modules: ${e.message}`);
      return out;
    }
    throw e;
  }
  try {
    for (const mod of iter) {
      let name = `module@${mod.address.toString(16)}`;
      try {
        name = mod.member('name').string(64);
        const regions = regionsOf(kernel, mod);
        const symbols = symbolsOf(kernel, mod, name, notes);
        out.push({ name, address: mod.address, regions, symbols });
      } catch (e) {
        if (e instanceof UnreadableMemoryError) notes.push(`module ${name}: ${e.because}`);
        else if (e instanceof KernelLayoutError) notes.push(`module ${name}: ${e.message}`);
        else throw e;
      }
    }
  } catch (e) {
    if (e instanceof UnreadableMemoryError) notes.push(`modules: ${e.because}`);
    else if (e instanceof KernelLayoutError) notes.push(`modules: ${e.message}`);
    else throw e;
  }
  return out;
}
