/**
 * Typed values over kernel memory, described by BTF: what walkers and detectors use.
 *
 *   kernel.variable('jiffies_seq').member('seqcount').member('sequence').u32()
 *   kernel.perCpu('runqueues', 2).member('curr').deref().member('comm').string()
 *   kernel.containerOf(ptr, 'struct task_struct', 'tasks')
 *   kernel.type('struct task_struct').offsetOf('tasks')
 */
import type { VirtualMemory } from '../arch/types.ts';
import { Btf, BtfKind, type BtfType } from './btf.ts';
import { KernelLayoutError, UnreadableMemoryError, asUnreadable } from './errors.ts';
import { GLOBAL_TYPES } from './globals.ts';
import type { Symbols } from './symbols.ts';

/** Spelling aliases for C base types (BTF keeps the DWARF spelling). */
const BASE_ALIASES: Record<string, string> = {
  'unsigned long': 'long unsigned int',
  'unsigned long int': 'long unsigned int',
  long: 'long int',
  'signed long': 'long int',
  'unsigned long long': 'long long unsigned int',
  'long long': 'long long int',
  unsigned: 'unsigned int',
  'unsigned short': 'short unsigned int',
  short: 'short int',
  'signed char': 'signed char',
  bool: '_Bool',
};

/** A type: a BTF type id, or a pointer/array built on one. */
export class KType {
  private constructor(
    readonly types: KernelTypes,
    /** BTF id (0 = void), or -1 for a synthetic pointer/array. */
    readonly id: number,
    private readonly synth?: { kind: 'ptr' | 'array'; inner: KType; nelems?: number },
  ) {}

  static of(types: KernelTypes, id: number): KType {
    return new KType(types, id);
  }
  static pointerTo(inner: KType): KType {
    return new KType(inner.types, -1, { kind: 'ptr', inner });
  }
  static arrayOf(inner: KType, nelems?: number): KType {
    return new KType(inner.types, -1, { kind: 'array', inner, nelems });
  }

  private get btf(): Btf {
    return this.types.btf;
  }

  /** The BTF record behind typedefs and qualifiers (undefined for synthetic types). */
  get resolved(): BtfType | undefined {
    if (this.synth) return undefined;
    return this.btf.get(this.btf.resolve(this.id));
  }

  /** Kind after resolving typedefs and qualifiers. */
  get kind(): BtfKind {
    if (this.synth) return this.synth.kind === 'ptr' ? BtfKind.PTR : BtfKind.ARRAY;
    return this.resolved!.kind;
  }

  /** C spelling, e.g. `struct task_struct`, `seqcount_raw_spinlock_t`, `char [16]`. */
  get name(): string {
    if (this.synth?.kind === 'ptr') return `${this.synth.inner.name} *`;
    if (this.synth?.kind === 'array') return `${this.synth.inner.name} [${this.synth.nelems ?? ''}]`;
    return this.btf.typeName(this.id);
  }

  get sizeof(): number {
    if (this.synth?.kind === 'ptr') return 8;
    if (this.synth?.kind === 'array') return (this.synth.nelems ?? 0) * this.synth.inner.sizeof;
    return this.btf.sizeof(this.id);
  }

  get isPointer(): boolean {
    return this.kind === BtfKind.PTR;
  }
  get isArray(): boolean {
    return this.kind === BtfKind.ARRAY;
  }
  get isCompound(): boolean {
    const k = this.kind;
    return k === BtfKind.STRUCT || k === BtfKind.UNION;
  }

  /** Signed integer or signed enum. */
  get isSigned(): boolean {
    const r = this.resolved;
    if (!r) return false;
    if (r.kind === BtfKind.INT) return ((r.intEncoding ?? 0) & 1) === 1;
    if (r.kind === BtfKind.ENUM || r.kind === BtfKind.ENUM64) return r.kindFlag || (r.enumValues ?? []).some((v) => v.value < 0n);
    return false;
  }

  /** Pointee (pointer) or element (array) type. */
  target(): KType {
    if (this.synth) return this.synth.inner;
    const r = this.resolved!;
    if (r.kind === BtfKind.PTR) return KType.of(this.types, r.type!);
    if (r.kind === BtfKind.ARRAY) return KType.of(this.types, r.array!.type);
    throw this.types.layoutError(`${this.name} is not a pointer or an array`);
  }

  /** Number of elements of an array type (undefined for flexible/unknown-length arrays). */
  get length(): number | undefined {
    if (this.synth) return this.synth.kind === 'array' ? this.synth.nelems : undefined;
    const r = this.resolved!;
    return r.kind === BtfKind.ARRAY ? r.array!.nelems : undefined;
  }

  /** Whether the struct/union (or anonymous sub-struct) has `name`. */
  hasMember(name: string): boolean {
    if (!this.isCompound) return false;
    return this.btf.member(this.id, name) !== undefined;
  }

  /** Member `name` (descending into anonymous structs/unions), with bit offset from the start of this type. */
  member(name: string): { name: string; type: KType; bitOffset: number; bitSize: number } {
    if (!this.isCompound) throw this.types.layoutError(`${this.name} is not a struct or union (looking for member '${name}')`);
    const m = this.btf.member(this.id, name);
    if (!m) throw this.types.layoutError(`${this.name} has no member '${name}'`);
    return { name, type: KType.of(this.types, m.type), bitOffset: m.bitOffset, bitSize: m.bitSize };
  }

  /** Byte offset of a member path such as `tasks`, `se.vruntime`, `thread.sp`. */
  offsetOf(path: string): number {
    let t: KType = this;
    let bits = 0;
    for (const part of path.split('.')) {
      const m = t.member(part);
      bits += m.bitOffset;
      t = m.type;
    }
    if (bits % 8 !== 0) throw this.types.layoutError(`${this.name}.${path} is a bitfield at bit ${bits}, not byte addressable`);
    return bits / 8;
  }

  /** Enumerator name for `value` (enum types). */
  enumName(value: bigint): string | undefined {
    const r = this.resolved;
    return r?.enumValues?.find((e) => e.value === value)?.name;
  }

  /** Enumerator value by name (enum types). */
  enumValue(name: string): bigint | undefined {
    return this.resolved?.enumValues?.find((e) => e.name === name)?.value;
  }

  /** Names of the members (anonymous ones as ''). */
  memberNames(): string[] {
    return (this.resolved?.members ?? []).map((m) => m.name);
  }
}

/** Type lookups for one kernel's BTF, with version-naming errors. */
export class KernelTypes {
  private readonly cache = new Map<string, KType>();
  /** Loaded modules' types (split BTF over this one), asked when a name is not in vmlinux's BTF; read on first use. */
  moduleTypes?: () => KernelTypes[];
  constructor(
    readonly btf: Btf,
    readonly release?: string,
    /** The module whose BTF this is (undefined for vmlinux). */
    readonly module?: string,
  ) {}

  layoutError(message: string): KernelLayoutError {
    return new KernelLayoutError(message, this.release);
  }

  /** Parses `struct task_struct`, `unsigned long [3]`, `char *`, `atomic_t`, `struct rq *[]`. */
  type(spec: string): KType {
    const hit = this.cache.get(spec);
    if (hit) return hit;
    let t: KType;
    try {
      t = this.parse(spec.trim());
    } catch (e) {
      // A module's own type (struct forge_ring): the first loaded module whose BTF has it.
      if (!(e instanceof KernelLayoutError) || !this.moduleTypes) throw e;
      const found = this.fromModules(spec);
      if (!found) throw e;
      t = found;
    }
    this.cache.set(spec, t);
    return t;
  }

  private fromModules(spec: string): KType | undefined {
    for (const m of this.moduleTypes?.() ?? []) {
      try {
        return m.type(spec);
      } catch (e) {
        if (!(e instanceof KernelLayoutError)) throw e;
      }
    }
    return undefined;
  }

  private parse(spec: string): KType {
    const arr = /^(.*?)\s*\[(\d*)\]$/.exec(spec);
    if (arr) return KType.arrayOf(this.parse(arr[1]), arr[2] === '' ? undefined : Number(arr[2]));
    if (spec.endsWith('*')) return KType.pointerTo(this.parse(spec.slice(0, -1).trim()));
    const s = spec.replace(/^(const|volatile)\s+/, '').replace(/\s+/g, ' ');
    if (s === 'void') return KType.of(this, 0);
    const tagged = /^(struct|union|enum) (\S+)$/.exec(s);
    if (tagged) {
      const kind = tagged[1] === 'struct' ? BtfKind.STRUCT : tagged[1] === 'union' ? BtfKind.UNION : BtfKind.ENUM;
      let id = this.btf.find(tagged[2], kind);
      if (id === undefined && kind === BtfKind.ENUM) id = this.btf.find(tagged[2], BtfKind.ENUM64);
      if (id === undefined) throw this.layoutError(`no type '${s}' in the kernel's BTF`);
      return KType.of(this, id);
    }
    const name = BASE_ALIASES[s] ?? s;
    for (const kind of [BtfKind.TYPEDEF, BtfKind.INT, BtfKind.FLOAT]) {
      const id = this.btf.find(name, kind);
      if (id !== undefined) return KType.of(this, id);
    }
    throw this.layoutError(`no type '${s}' in the kernel's BTF`);
  }
}

/** A typed location in kernel memory. Reads happen when a scalar/string is asked for. */
export class Value {
  constructor(
    readonly kernel: Kernel,
    readonly address: bigint,
    readonly type: KType,
    /** Human path for errors, e.g. `jiffies_seq.seqcount.sequence`. */
    readonly path: string,
    /** Bitfield position within the byte at `address`, and width (0 = not a bitfield). */
    readonly bitOffset = 0,
    readonly bitSize = 0,
  ) {}

  get sizeof(): number {
    return this.type.sizeof;
  }

  /** Member by name or dotted path; a pointer to a struct is followed first (like `->`). */
  member(path: string): Value {
    let v: Value = this;
    for (const name of path.split('.')) {
      if (v.type.isPointer) v = v.deref();
      const m = v.type.member(name);
      const bits = m.bitOffset;
      v = new Value(v.kernel, v.address + BigInt(bits >> 3), m.type, `${v.path}.${name}`, m.bitSize ? bits & 7 : 0, m.bitSize);
    }
    return v;
  }

  /** A member by its BTF record (anonymous members too, which `member(path)` cannot name). */
  memberAt(name: string, typeId: number, bitOffset: number, bitSize: number): Value {
    const type = KType.of(this.type.types, typeId);
    return new Value(this.kernel, this.address + BigInt(bitOffset >> 3), type, `${this.path}.${name || '<anon>'}`, bitSize ? bitOffset & 7 : 0, bitSize);
  }

  /** Whether the struct (or pointed-to struct) has `name`. */
  hasMember(name: string): boolean {
    const t = this.type.isPointer ? this.type.target() : this.type;
    return t.hasMember(name);
  }

  /** Follows a pointer. */
  deref(): Value {
    if (!this.type.isPointer) throw this.kernel.types.layoutError(`${this.path} (${this.type.name}) is not a pointer`);
    const p = this.pointer();
    if (p === 0n) throw new UnreadableMemoryError(`*${this.path}`, 0n, 'corrupt', 'NULL pointer');
    return new Value(this.kernel, p, this.type.target(), `(*${this.path})`);
  }

  /** Element `i` of an array, or of the memory a pointer points to. */
  index(i: number | bigint): Value {
    const idx = BigInt(i);
    if (this.type.isArray) {
      const el = this.type.target();
      const n = this.type.length;
      if (n !== undefined && n > 0 && (idx < 0n || idx >= BigInt(n))) throw new RangeError(`${this.path}[${idx}] is out of bounds (length ${n})`);
      return new Value(this.kernel, this.address + idx * BigInt(el.sizeof), el, `${this.path}[${idx}]`);
    }
    if (this.type.isPointer) {
      const el = this.type.target();
      return new Value(this.kernel, this.pointer() + idx * BigInt(el.sizeof), el, `${this.path}[${idx}]`);
    }
    throw this.kernel.types.layoutError(`${this.path} (${this.type.name}) is not an array or pointer`);
  }

  /** The same memory seen as another type. */
  cast(type: string | KType): Value {
    const t = typeof type === 'string' ? this.kernel.type(type) : type;
    return new Value(this.kernel, this.address, t, `((${t.name})${this.path})`);
  }

  /** Raw bytes of this value (or `length` bytes). */
  bytes(length = this.sizeof): Buffer {
    return this.kernel.read(this.address, length, this.path);
  }

  private scalar(size: number, signed: boolean): bigint {
    if (this.bitSize) {
      const nbytes = Math.ceil((this.bitOffset + this.bitSize) / 8);
      const b = this.kernel.read(this.address, nbytes, this.path);
      let v = 0n;
      for (let i = nbytes - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
      v = (v >> BigInt(this.bitOffset)) & ((1n << BigInt(this.bitSize)) - 1n);
      return signed ? BigInt.asIntN(this.bitSize, v) : v;
    }
    const b = this.kernel.read(this.address, size, this.path);
    let v: bigint;
    switch (size) {
      case 1:
        v = BigInt(b[0]);
        break;
      case 2:
        v = BigInt(b.readUInt16LE(0));
        break;
      case 4:
        v = BigInt(b.readUInt32LE(0));
        break;
      case 8:
        v = b.readBigUInt64LE(0);
        break;
      case 16:
        // __int128 (arm64's FP/SIMD registers in thread_struct).
        v = (b.readBigUInt64LE(8) << 64n) | b.readBigUInt64LE(0);
        break;
      default:
        throw this.kernel.types.layoutError(`${this.path} has size ${size}, not a scalar`);
    }
    return signed ? BigInt.asIntN(size * 8, v) : v;
  }

  u8(): number {
    return Number(this.scalar(1, false));
  }
  u16(): number {
    return Number(this.scalar(2, false));
  }
  u32(): number {
    return Number(this.scalar(4, false));
  }
  u64(): bigint {
    return this.scalar(8, false);
  }
  s8(): number {
    return Number(this.scalar(1, true));
  }
  s16(): number {
    return Number(this.scalar(2, true));
  }
  s32(): number {
    return Number(this.scalar(4, true));
  }
  s64(): bigint {
    return this.scalar(8, true);
  }

  /** The value as an integer of its own width and signedness (ints, enums, pointers, bitfields, bool). */
  int(): bigint {
    const t = this.type;
    if (t.isCompound) {
      // atomic_t / atomic_long_t and similar one-member wrappers read as their member.
      const r = t.resolved!;
      if (r.members && r.members.length === 1) return this.member(r.members[0].name).int();
      throw this.kernel.types.layoutError(`${this.path} is a ${t.name}, not an integer`);
    }
    const size = t.sizeof;
    return this.scalar(size, t.isSigned);
  }

  /** int() as a JS number (throws if it does not fit exactly). */
  number(): number {
    const v = this.int();
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new RangeError(`${this.path} = ${v} does not fit a number`);
    return Number(v);
  }

  bool(): boolean {
    return this.int() !== 0n;
  }

  /** The pointer value (or an unsigned long holding an address). */
  pointer(): bigint {
    return this.scalar(8, false);
  }

  isNull(): boolean {
    return this.pointer() === 0n;
  }

  /** Enumerator name of an enum value, when it has one. */
  enumName(): string | undefined {
    return this.type.enumName(this.int());
  }

  /** A C string: char arrays read up to their length, char pointers are followed. Stops at NUL. */
  string(max = 4096): string {
    if (this.type.isPointer) {
      const p = this.pointer();
      if (p === 0n) throw new UnreadableMemoryError(`*${this.path}`, 0n, 'corrupt', 'NULL string pointer');
      return this.kernel.readString(p, max, `*${this.path}`);
    }
    const n = this.type.isArray && this.type.length ? Math.min(this.type.length * this.type.target().sizeof, max) : max;
    return this.kernel.readString(this.address, n, this.path);
  }

  toString(): string {
    return `${this.path} (${this.type.name} at 0x${this.address.toString(16)})`;
  }
}

/** The kernel as a typed address space: symbols + BTF + virtual memory. */
export class Kernel {
  readonly types: KernelTypes;
  private perCpuOffsets?: bigint[];

  constructor(
    readonly memory: VirtualMemory,
    readonly btf: Btf,
    readonly symbols: Symbols,
    readonly release?: string,
  ) {
    this.types = new KernelTypes(btf, release);
  }

  /** Reads memory, turning lower-layer errors into UnreadableMemoryError naming `what`. */
  read(address: bigint, length: number, what = 'memory'): Buffer {
    try {
      return this.memory.read(address, length);
    } catch (e) {
      return asUnreadable(e, what, address);
    }
  }

  /** A NUL-terminated string of at most `max` bytes (Latin-1, so every byte is kept). */
  readString(address: bigint, max = 4096, what = 'string'): string {
    const out: Buffer[] = [];
    let got = 0;
    let at = address;
    while (got < max) {
      // Read up to the end of the page so a string ending near a page boundary does not fault on the next page.
      const room = Number(4096n - (at & 4095n));
      const n = Math.min(room, max - got);
      const b = this.read(at, n, what);
      const z = b.indexOf(0);
      if (z >= 0) {
        out.push(b.subarray(0, z));
        break;
      }
      out.push(b);
      got += n;
      at += BigInt(n);
    }
    return Buffer.concat(out).toString('latin1');
  }

  type(spec: string): KType {
    return this.types.type(spec);
  }

  /** A value of `type` at `address`. */
  value(address: bigint, type: string | KType, path?: string): Value {
    const t = typeof type === 'string' ? this.type(type) : type;
    return new Value(this, address, t, path ?? `(${t.name} *)0x${address.toString(16)}`);
  }

  /** Address of a symbol; throws KernelLayoutError naming the kernel when absent. */
  symbolAddress(name: string): bigint {
    const a = this.symbols.address(name);
    if (a === undefined) throw this.types.layoutError(`no symbol '${name}'`);
    return a;
  }

  /**
   * A global variable. Its type comes from `type`, else from BTF (VAR records), else from the
   * table of well-known globals (kernel/globals.ts).
   */
  variable(name: string, type?: string | KType): Value {
    const addr = this.symbolAddress(name);
    let t: KType | undefined = typeof type === 'string' ? this.type(type) : type;
    if (!t) {
      const varId = this.btf.variable(name);
      if (varId !== undefined) {
        if (addr < 0xffff000000000000n) {
          throw this.types.layoutError(`'${name}' is a per-CPU variable: use perCpu('${name}', cpu)`);
        }
        t = KType.of(this.types, this.btf.get(varId).type!);
      }
    }
    if (!t) {
      const known = GLOBAL_TYPES[name];
      if (!known) throw this.types.layoutError(`the type of '${name}' is not known (BTF has no VAR for it): pass it, e.g. variable('${name}', 'unsigned long')`);
      t = this.type(known);
    }
    return new Value(this, addr, t, name);
  }

  /** `__per_cpu_offset[cpu]`. */
  perCpuOffset(cpu: number): bigint {
    if (!this.perCpuOffsets) {
      const base = this.symbolAddress('__per_cpu_offset');
      let n = 8192;
      try {
        n = Number(this.variable('nr_cpu_ids', 'unsigned int').u32());
      } catch {
        /* keep NR_CPUS default bound */
      }
      if (n <= 0 || n > 8192) n = 8192;
      const b = this.read(base, n * 8, '__per_cpu_offset');
      this.perCpuOffsets = [];
      for (let i = 0; i < n; i++) this.perCpuOffsets.push(b.readBigUInt64LE(i * 8));
    }
    const off = this.perCpuOffsets[cpu];
    if (off === undefined) throw new RangeError(`CPU ${cpu} is beyond nr_cpu_ids (${this.perCpuOffsets.length})`);
    return off;
  }

  /** Number of possible CPU slots (nr_cpu_ids). */
  get nrCpuIds(): number {
    this.perCpuOffset(0);
    return this.perCpuOffsets!.length;
  }

  /** CPU `cpu`'s instance of a per-CPU variable: `__per_cpu_offset[cpu]` + the symbol address. */
  perCpu(name: string, cpu: number, type?: string | KType): Value {
    const sym = this.symbolAddress(name);
    let t: KType | undefined = typeof type === 'string' ? this.type(type) : type;
    if (!t) {
      const varId = this.btf.variable(name);
      if (varId === undefined) throw this.types.layoutError(`'${name}' has no BTF VAR record; pass its type to perCpu()`);
      t = KType.of(this.types, this.btf.get(varId).type!);
    }
    const addr = BigInt.asUintN(64, sym + this.perCpuOffset(cpu));
    return new Value(this, addr, t, `per_cpu(${name}, ${cpu})`);
  }

  /** The struct that embeds `member` at `ptr` (container_of). */
  containerOf(ptr: Value | bigint, type: string, member: string): Value {
    const t = this.type(type);
    const p = typeof ptr === 'bigint' ? ptr : ptr.type.isPointer ? ptr.pointer() : ptr.address;
    const addr = BigInt.asUintN(64, p - BigInt(t.offsetOf(member)));
    return new Value(this, addr, t, `container_of(0x${p.toString(16)}, ${type}, ${member})`);
  }
}
