/**
 * BTF (BPF Type Format) reader: the kernel's own type information, as found between
 * `__start_BTF` and `__stop_BTF` in a dump or in /sys/kernel/btf/vmlinux.
 *
 * Format facts (include/uapi/linux/btf.h): a header (magic 0xeB9F, version, flags, hdr_len,
 * type_off/len, str_off/len, offsets relative to the header end), then `struct btf_type`
 * records (name_off, info = vlen | kind << 24 | kind_flag << 31, size-or-type) each followed
 * by kind-specific data, and a string section. Type id 0 is void; ids count from 1.
 */
import { ByteNameIndex, cStringEnd } from './name-index.ts';

export enum BtfKind {
  UNKN = 0,
  INT = 1,
  PTR = 2,
  ARRAY = 3,
  STRUCT = 4,
  UNION = 5,
  ENUM = 6,
  FWD = 7,
  TYPEDEF = 8,
  VOLATILE = 9,
  CONST = 10,
  RESTRICT = 11,
  FUNC = 12,
  FUNC_PROTO = 13,
  VAR = 14,
  DATASEC = 15,
  FLOAT = 16,
  DECL_TAG = 17,
  TYPE_TAG = 18,
  ENUM64 = 19,
}

export const BTF_MAGIC = 0xeb9f;

/** Thrown when the BTF blob is malformed; `offset` is the byte offset inside the blob. */
export class BtfFormatError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'BtfFormatError';
  }
}

export interface BtfMember {
  /** '' for anonymous struct/union members. */
  name: string;
  type: number;
  /** Offset from the start of the enclosing struct, in bits. */
  bitOffset: number;
  /** Bitfield width in bits; 0 when the member is not a bitfield. */
  bitSize: number;
}

export interface BtfEnumValue {
  name: string;
  value: bigint;
}

export interface BtfParam {
  name: string;
  type: number;
}

export interface BtfDatasecVar {
  type: number;
  offset: number;
  size: number;
}

/** One decoded type record. Fields beyond `kind`/`name` are set according to the kind. */
export interface BtfType {
  id: number;
  kind: BtfKind;
  name: string;
  kindFlag: boolean;
  vlen: number;
  /** STRUCT, UNION, ENUM, ENUM64, INT, FLOAT, DATASEC: byte size. */
  size?: number;
  /** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG, FUNC, VAR, DECL_TAG: referenced type; FUNC_PROTO: return type. */
  type?: number;
  /** INT: encoding bits (1 signed, 2 char, 4 bool), bit offset, bit count. */
  intEncoding?: number;
  intOffset?: number;
  intBits?: number;
  /** ARRAY. */
  array?: { type: number; indexType: number; nelems: number };
  members?: BtfMember[];
  enumValues?: BtfEnumValue[];
  params?: BtfParam[];
  /** VAR: 0 static, 1 global, 2 extern. FUNC: linkage from vlen. */
  linkage?: number;
  datasecVars?: BtfDatasecVar[];
  /** DECL_TAG: -1 for the whole declaration, else member/param index. */
  componentIdx?: number;
}

const INFO_KIND = (info: number) => (info >>> 24) & 0x1f;
const INFO_VLEN = (info: number) => info & 0xffff;
const INFO_KFLAG = (info: number) => info >>> 31 === 1;

/** Bytes of kind-specific data after the 12-byte common header. */
function extraSize(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.INT:
      return 4;
    case BtfKind.ARRAY:
      return 12;
    case BtfKind.STRUCT:
    case BtfKind.UNION:
      return 12 * vlen;
    case BtfKind.ENUM:
      return 8 * vlen;
    case BtfKind.ENUM64:
      return 12 * vlen;
    case BtfKind.FUNC_PROTO:
      return 8 * vlen;
    case BtfKind.VAR:
      return 4;
    case BtfKind.DATASEC:
      return 12 * vlen;
    case BtfKind.DECL_TAG:
      return 4;
    case BtfKind.PTR:
    case BtfKind.FWD:
    case BtfKind.TYPEDEF:
    case BtfKind.VOLATILE:
    case BtfKind.CONST:
    case BtfKind.RESTRICT:
    case BtfKind.FUNC:
    case BtfKind.FLOAT:
    case BtfKind.TYPE_TAG:
      return 0;
    default:
      return -1;
  }
}

/** Kinds that are transparent qualifiers or aliases: resolved through when looking at the underlying type. */
const MODIFIERS = new Set<BtfKind>([BtfKind.TYPEDEF, BtfKind.VOLATILE, BtfKind.CONST, BtfKind.RESTRICT, BtfKind.TYPE_TAG]);

export interface BtfOptions {
  /** For split BTF (modules): the base BTF whose ids precede this one's. */
  base?: Btf;
}

/** A parsed BTF blob: lazy per-type decoding, name index built on first lookup. */
export class Btf {
  readonly data: Buffer;
  readonly version: number;
  readonly flags: number;
  /** Number of types in this blob (not counting the base). */
  readonly count: number;
  /** First id of this blob (1 for vmlinux, base.nextId for split BTF). */
  readonly firstId: number;
  readonly base?: Btf;
  private readonly typeStart: number;
  private readonly strStart: number;
  private readonly strLen: number;
  /** Byte offset (inside the type section) of each type record, indexed by id - firstId. */
  private readonly offsets: Uint32Array;
  private readonly cache = new Map<number, BtfType>();
  private nameIndex?: (name: string) => number[];

  constructor(data: Buffer, opts: BtfOptions = {}) {
    this.data = data;
    this.base = opts.base;
    if (data.length < 24) throw new BtfFormatError(`BTF blob is ${data.length} bytes, shorter than its header`, 0);
    const magic = data.readUInt16LE(0);
    if (magic !== BTF_MAGIC) {
      const hint = data.readUInt16BE(0) === BTF_MAGIC ? ' (big-endian BTF is not supported)' : '';
      throw new BtfFormatError(`expected BTF magic 0xeb9f, found 0x${magic.toString(16)}${hint}`, 0);
    }
    this.version = data.readUInt8(2);
    this.flags = data.readUInt8(3);
    const hdrLen = data.readUInt32LE(4);
    const typeOff = data.readUInt32LE(8);
    const typeLen = data.readUInt32LE(12);
    const strOff = data.readUInt32LE(16);
    const strLen = data.readUInt32LE(20);
    if (hdrLen < 24 || hdrLen > data.length) throw new BtfFormatError(`BTF header length ${hdrLen} is invalid`, 4);
    this.typeStart = hdrLen + typeOff;
    this.strStart = hdrLen + strOff;
    this.strLen = strLen;
    if (this.typeStart + typeLen > data.length) throw new BtfFormatError(`BTF type section (${typeLen} bytes at ${this.typeStart}) runs past the blob end (${data.length})`, 12);
    if (this.strStart + strLen > data.length) throw new BtfFormatError(`BTF string section (${strLen} bytes at ${this.strStart}) runs past the blob end (${data.length})`, 20);
    this.firstId = opts.base ? opts.base.firstId + opts.base.count : 1;

    // One pass over the records to find where each starts.
    let offs = new Uint32Array(Math.max(16, Math.floor(typeLen / 16)));
    let n = 0;
    let p = 0;
    while (p < typeLen) {
      if (p + 12 > typeLen) throw new BtfFormatError(`truncated BTF type record`, this.typeStart + p);
      const info = data.readUInt32LE(this.typeStart + p + 4);
      const kind = INFO_KIND(info);
      const extra = extraSize(kind, INFO_VLEN(info));
      if (extra < 0) throw new BtfFormatError(`unknown BTF kind ${kind} for type id ${this.firstId + n}`, this.typeStart + p);
      if (n === offs.length) {
        const bigger = new Uint32Array(offs.length * 2);
        bigger.set(offs);
        offs = bigger;
      }
      offs[n++] = p;
      p += 12 + extra;
    }
    if (p !== typeLen) throw new BtfFormatError(`BTF type section ends inside a record`, this.typeStart + typeLen);
    this.offsets = offs.subarray(0, n);
    this.count = n;
  }

  /** Highest valid type id. */
  get maxId(): number {
    return this.firstId + this.count - 1;
  }

  /** The string at `off` in the string section ('' for 0). */
  str(off: number): string {
    if (off === 0) return '';
    if (this.base && off < this.base.strLen) return this.base.str(off);
    const local = this.base ? off - this.base.strLen : off;
    if (local >= this.strLen) throw new BtfFormatError(`string offset ${off} is outside the string section`, this.strStart);
    const start = this.strStart + local;
    let end = start;
    const stop = this.strStart + this.strLen;
    while (end < stop && this.data[end] !== 0) end++;
    return this.data.toString('latin1', start, end);
  }

  /** Decodes type `id`. id 0 (void) returns a pseudo type of kind UNKN named 'void'. */
  get(id: number): BtfType {
    if (id === 0) return { id: 0, kind: BtfKind.UNKN, name: 'void', kindFlag: false, vlen: 0, size: 0 };
    if (id < this.firstId) {
      if (!this.base) throw new RangeError(`BTF type id ${id} does not exist`);
      return this.base.get(id);
    }
    const cached = this.cache.get(id);
    if (cached) return cached;
    const idx = id - this.firstId;
    if (idx >= this.count) throw new RangeError(`BTF type id ${id} does not exist (max ${this.maxId})`);
    const t = this.decode(id, this.typeStart + this.offsets[idx]);
    this.cache.set(id, t);
    return t;
  }

  private decode(id: number, at: number): BtfType {
    const d = this.data;
    const nameOff = d.readUInt32LE(at);
    const info = d.readUInt32LE(at + 4);
    const sizeOrType = d.readUInt32LE(at + 8);
    const kind = INFO_KIND(info) as BtfKind;
    const vlen = INFO_VLEN(info);
    const kindFlag = INFO_KFLAG(info);
    const t: BtfType = { id, kind, name: this.str(nameOff), kindFlag, vlen };
    const x = at + 12;
    switch (kind) {
      case BtfKind.INT: {
        const enc = d.readUInt32LE(x);
        t.size = sizeOrType;
        t.intEncoding = (enc >>> 24) & 0x0f;
        t.intOffset = (enc >>> 16) & 0xff;
        t.intBits = enc & 0xff;
        break;
      }
      case BtfKind.FLOAT:
        t.size = sizeOrType;
        break;
      case BtfKind.ARRAY:
        t.array = { type: d.readUInt32LE(x), indexType: d.readUInt32LE(x + 4), nelems: d.readUInt32LE(x + 8) };
        break;
      case BtfKind.STRUCT:
      case BtfKind.UNION: {
        t.size = sizeOrType;
        const members: BtfMember[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = x + 12 * i;
          const off = d.readUInt32LE(m + 8);
          members.push({
            name: this.str(d.readUInt32LE(m)),
            type: d.readUInt32LE(m + 4),
            bitOffset: kindFlag ? off & 0xffffff : off,
            bitSize: kindFlag ? off >>> 24 : 0,
          });
        }
        t.members = members;
        break;
      }
      case BtfKind.ENUM: {
        t.size = sizeOrType;
        const vals: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = x + 8 * i;
          const v = kindFlag ? BigInt(d.readInt32LE(m + 4)) : BigInt(d.readUInt32LE(m + 4));
          vals.push({ name: this.str(d.readUInt32LE(m)), value: v });
        }
        t.enumValues = vals;
        break;
      }
      case BtfKind.ENUM64: {
        t.size = sizeOrType;
        const vals: BtfEnumValue[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = x + 12 * i;
          let v = (BigInt(d.readUInt32LE(m + 8)) << 32n) | BigInt(d.readUInt32LE(m + 4));
          if (kindFlag) v = BigInt.asIntN(64, v);
          vals.push({ name: this.str(d.readUInt32LE(m)), value: v });
        }
        t.enumValues = vals;
        break;
      }
      case BtfKind.FUNC_PROTO: {
        t.type = sizeOrType;
        const params: BtfParam[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = x + 8 * i;
          params.push({ name: this.str(d.readUInt32LE(m)), type: d.readUInt32LE(m + 4) });
        }
        t.params = params;
        break;
      }
      case BtfKind.VAR:
        t.type = sizeOrType;
        t.linkage = d.readUInt32LE(x);
        break;
      case BtfKind.DATASEC: {
        t.size = sizeOrType;
        const vars: BtfDatasecVar[] = [];
        for (let i = 0; i < vlen; i++) {
          const m = x + 12 * i;
          vars.push({ type: d.readUInt32LE(m), offset: d.readUInt32LE(m + 4), size: d.readUInt32LE(m + 8) });
        }
        t.datasecVars = vars;
        break;
      }
      case BtfKind.DECL_TAG:
        t.type = sizeOrType;
        t.componentIdx = d.readInt32LE(x);
        break;
      case BtfKind.FUNC:
        t.type = sizeOrType;
        t.linkage = vlen;
        break;
      case BtfKind.FWD:
        // kind_flag: 0 struct, 1 union
        break;
      default:
        t.type = sizeOrType;
    }
    return t;
  }

  /** Kind of type `id` without decoding its members. */
  kindOf(id: number): BtfKind {
    if (id === 0) return BtfKind.UNKN;
    if (id < this.firstId && this.base) return this.base.kindOf(id);
    const at = this.typeStart + this.offsets[id - this.firstId];
    return INFO_KIND(this.data.readUInt32LE(at + 4)) as BtfKind;
  }

  private nameOf(id: number): string {
    const at = this.typeStart + this.offsets[id - this.firstId];
    return this.str(this.data.readUInt32LE(at));
  }

  /** Ids of this blob named `name`, ascending. */
  private ownIds(name: string): number[] {
    if (!this.nameIndex) {
      // Index type names where they lie in the string section; a split blob's names may lie in its base's section.
      const n = this.count;
      const starts = new Uint32Array(n);
      const ends = new Uint32Array(n);
      const baseLen = this.base ? this.base.strLen : 0;
      const split = this.base ? [] as number[] : undefined;
      const stop = this.strStart + this.strLen;
      for (let i = 0; i < n; i++) {
        const off = this.data.readUInt32LE(this.typeStart + this.offsets[i]);
        if (off === 0) continue;
        if (off < baseLen) {
          split!.push(i);
          continue;
        }
        const start = this.strStart + off - baseLen;
        if (start >= stop) continue;
        starts[i] = start;
        ends[i] = cStringEnd(this.data, start, stop);
      }
      const index = new ByteNameIndex(this.data, starts, ends);
      const inBase = new Map<string, number[]>();
      for (const i of split ?? []) {
        const name = this.nameOf(this.firstId + i);
        const l = inBase.get(name);
        if (l) l.push(i);
        else inBase.set(name, [i]);
      }
      this.nameIndex = (name) => [...index.all(name), ...(inBase.get(name) ?? [])].sort((x, y) => x - y);
    }
    return this.nameIndex(name).map((i) => this.firstId + i);
  }

  /** All ids (this blob, then base) carrying `name`, optionally of one kind. */
  findAll(name: string, kind?: BtfKind): number[] {
    const own = this.ownIds(name).filter((id) => kind === undefined || this.kindOf(id) === kind);
    const inBase = this.base ? this.base.findAll(name, kind) : [];
    return [...own, ...inBase];
  }

  /** The first id named `name` of `kind` (a complete definition is preferred over a FWD). */
  find(name: string, kind?: BtfKind): number | undefined {
    const ids = this.findAll(name, kind);
    if (ids.length === 0) return undefined;
    if (kind === BtfKind.STRUCT || kind === BtfKind.UNION) {
      // Prefer a definition with members (there may be several identical copies; pick the largest).
      let best = ids[0];
      for (const id of ids) if ((this.get(id).vlen ?? 0) > (this.get(best).vlen ?? 0)) best = id;
      return best;
    }
    return ids[0];
  }

  /** Follows typedefs and qualifiers to the underlying type id. Guarded against cycles. */
  resolve(id: number): number {
    for (let guard = 0; guard < 64; guard++) {
      if (id === 0) return 0;
      const k = this.kindOf(id);
      if (!MODIFIERS.has(k)) return id;
      id = this.get(id).type ?? 0;
    }
    throw new BtfFormatError(`typedef/qualifier chain for type ${id} does not end`, 0);
  }

  /** Size in bytes of type `id` (pointers are 8 bytes; functions and void are 0). */
  sizeof(id: number): number {
    for (let guard = 0; guard < 64; guard++) {
      const t = this.get(this.resolve(id));
      switch (t.kind) {
        case BtfKind.INT:
        case BtfKind.STRUCT:
        case BtfKind.UNION:
        case BtfKind.ENUM:
        case BtfKind.ENUM64:
        case BtfKind.FLOAT:
        case BtfKind.DATASEC:
          return t.size ?? 0;
        case BtfKind.PTR:
          return 8;
        case BtfKind.ARRAY:
          return t.array!.nelems * this.sizeof(t.array!.type);
        case BtfKind.VAR:
          id = t.type!;
          continue;
        default:
          return 0;
      }
    }
    throw new BtfFormatError(`size of type ${id} cannot be computed (cycle)`, 0);
  }

  /** C-like spelling of a type, e.g. `struct task_struct *`, `unsigned int [4]`, `atomic_t`. */
  typeName(id: number, depth = 0): string {
    if (depth > 32) return '...';
    const t = this.get(id);
    switch (t.kind) {
      case BtfKind.UNKN:
        return 'void';
      case BtfKind.STRUCT:
        return `struct ${t.name || '(anon)'}`;
      case BtfKind.UNION:
        return `union ${t.name || '(anon)'}`;
      case BtfKind.ENUM:
      case BtfKind.ENUM64:
        return `enum ${t.name || '(anon)'}`;
      case BtfKind.FWD:
        return `${t.kindFlag ? 'union' : 'struct'} ${t.name}`;
      case BtfKind.PTR: {
        const target = this.get(t.type!);
        if (target.kind === BtfKind.FUNC_PROTO) return `${this.typeName(target.type!, depth + 1)} (*)()`;
        return `${this.typeName(t.type!, depth + 1)} *`;
      }
      case BtfKind.ARRAY:
        return `${this.typeName(t.array!.type, depth + 1)} [${t.array!.nelems}]`;
      case BtfKind.CONST:
        return `const ${this.typeName(t.type!, depth + 1)}`;
      case BtfKind.VOLATILE:
        return `volatile ${this.typeName(t.type!, depth + 1)}`;
      case BtfKind.RESTRICT:
        return `${this.typeName(t.type!, depth + 1)} restrict`;
      case BtfKind.TYPE_TAG:
        return this.typeName(t.type!, depth + 1);
      case BtfKind.FUNC_PROTO:
        return `${this.typeName(t.type!, depth + 1)} ()`;
      default:
        return t.name || `(anon ${BtfKind[t.kind]})`;
    }
  }

  /**
   * Finds member `name` of struct/union `id`, descending into anonymous struct/union members.
   * Returns the member with `bitOffset` relative to `id`, or undefined.
   */
  member(id: number, name: string): BtfMember | undefined {
    return this.memberIn(this.resolve(id), name, 0);
  }

  private memberIn(id: number, name: string, depth: number): BtfMember | undefined {
    if (depth > 16) return undefined;
    const t = this.get(id);
    if (!t.members) return undefined;
    for (const m of t.members) if (m.name === name) return m;
    for (const m of t.members) {
      if (m.name !== '') continue;
      const inner = this.resolve(m.type);
      const k = this.kindOf(inner);
      if (k !== BtfKind.STRUCT && k !== BtfKind.UNION) continue;
      const found = this.memberIn(inner, name, depth + 1);
      if (found) return { ...found, bitOffset: found.bitOffset + m.bitOffset };
    }
    return undefined;
  }

  /** The VAR type id of a variable named `name` (BTF carries per-CPU variables, and all globals with newer pahole). */
  variable(name: string): number | undefined {
    return this.find(name, BtfKind.VAR);
  }

  /** Iterates every type id (for statistics and tests). */
  *ids(): IterableIterator<number> {
    for (let i = 0; i < this.count; i++) yield this.firstId + i;
  }
}
