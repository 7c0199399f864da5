/** BTF reader: every kind from a hand-built blob, and the host's /sys/kernel/btf/vmlinux when present. */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Btf, BtfFormatError, BtfKind } from '../../../../src/sources/dump/kernel/btf.ts';
import { KernelTypes } from '../../../../src/sources/dump/kernel/value.ts';

/** Builds a BTF blob: types are [kind, name, kindFlag, vlen, sizeOrType, extra u32s]. */
class BtfBuilder {
  private strs: string[] = [''];
  private strOff = new Map<string, number>([['', 0]]);
  private strLen = 1;
  private types: number[][] = [];

  str(s: string): number {
    if (!this.strOff.has(s)) {
      this.strOff.set(s, this.strLen);
      this.strs.push(s);
      this.strLen += Buffer.byteLength(s) + 1;
    }
    return this.strOff.get(s)!;
  }
  /** Adds a type, returns its id. */
  add(kind: BtfKind, name: string, sizeOrType: number, extra: number[] = [], vlen = 0, kflag = false): number {
    const info = ((kflag ? 1 : 0) << 31) | (kind << 24) | vlen;
    this.types.push([this.str(name), info >>> 0, sizeOrType, ...extra]);
    return this.types.length;
  }
  build(): Buffer {
    const typeWords = this.types.flat();
    const typeLen = typeWords.length * 4;
    const strBuf = Buffer.from(this.strs.map((s) => s + '\0').join(''), 'latin1');
    const b = Buffer.alloc(24 + typeLen + strBuf.length);
    b.writeUInt16LE(0xeb9f, 0);
    b.writeUInt8(1, 2);
    b.writeUInt32LE(24, 4);
    b.writeUInt32LE(0, 8);
    b.writeUInt32LE(typeLen, 12);
    b.writeUInt32LE(typeLen, 16);
    b.writeUInt32LE(strBuf.length, 20);
    typeWords.forEach((w, i) => b.writeUInt32LE(w >>> 0, 24 + i * 4));
    strBuf.copy(b, 24 + typeLen);
    return b;
  }
}

function sample(): { blob: Buffer; ids: Record<string, number> } {
  const B = new BtfBuilder();
  const ids: Record<string, number> = {};
  ids.int = B.add(BtfKind.INT, 'int', 4, [(1 << 24) | 32]);
  ids.uint = B.add(BtfKind.INT, 'unsigned int', 4, [32]);
  ids.char = B.add(BtfKind.INT, 'char', 1, [(2 << 24) | 8]);
  ids.ulong = B.add(BtfKind.INT, 'long unsigned int', 8, [64]);
  ids.ptrChar = B.add(BtfKind.PTR, '', ids.char);
  ids.arr = B.add(BtfKind.ARRAY, '', 0, [ids.char, ids.int, 16]);
  ids.atomic = B.add(BtfKind.STRUCT, '', 4, [B.str('counter'), ids.int, 0], 1);
  ids.atomic_t = B.add(BtfKind.TYPEDEF, 'atomic_t', ids.atomic);
  ids.my_atomic = B.add(BtfKind.TYPEDEF, 'my_atomic_t', ids.atomic_t);
  ids.vol = B.add(BtfKind.VOLATILE, '', ids.int);
  ids.cst = B.add(BtfKind.CONST, '', ids.vol);
  ids.restrict = B.add(BtfKind.RESTRICT, '', ids.ptrChar);
  ids.tag = B.add(BtfKind.TYPE_TAG, 'rcu', ids.ptrChar);
  ids.float = B.add(BtfKind.FLOAT, 'double', 8);
  ids.fwd = B.add(BtfKind.FWD, 'opaque', 0, [], 0, true);
  // struct inner { unsigned int a:3, b:5; }  (bitfields: kind_flag, size in high 8 bits of offset)
  ids.inner = B.add(BtfKind.STRUCT, '', 4, [B.str('a'), ids.uint, (3 << 24) | 0, B.str('b'), ids.uint, (5 << 24) | 3], 2, true);
  // union { long x; char *y; } (anonymous)
  ids.anonUnion = B.add(BtfKind.UNION, '', 8, [B.str('x'), ids.ulong, 0, B.str('y'), ids.ptrChar, 0], 2);
  // struct task { int pid; <anon struct inner> ; <anon union> ; char comm[16]; atomic_t usage; const volatile int cv; }
  ids.task = B.add(
    BtfKind.STRUCT,
    'task',
    48,
    [
      B.str('pid'), ids.int, 0,
      0, ids.inner, 32,
      0, ids.anonUnion, 64,
      B.str('comm'), ids.arr, 128,
      B.str('usage'), ids.my_atomic, 256,
      B.str('cv'), ids.cst, 288,
    ],
    6,
  );
  ids.enum = B.add(BtfKind.ENUM, 'state', 4, [B.str('RUNNING'), 0, B.str('DEAD'), 0xffffffff], 2, true);
  ids.enum64 = B.add(BtfKind.ENUM64, 'big', 8, [B.str('HUGE'), 0, 1, B.str('NEG'), 0xffffffff, 0xffffffff], 2, true);
  ids.proto = B.add(BtfKind.FUNC_PROTO, '', ids.int, [B.str('t'), ids.ptrChar, 0, ids.int], 2);
  ids.func = B.add(BtfKind.FUNC, 'do_thing', ids.proto, [], 1);
  ids.var = B.add(BtfKind.VAR, 'runqueues', ids.task, [1]);
  ids.datasec = B.add(BtfKind.DATASEC, '.data..percpu', 48, [ids.var, 0x100, 48], 1);
  ids.declTag = B.add(BtfKind.DECL_TAG, 'user', ids.task, [0xffffffff]);
  return { blob: B.build(), ids };
}

describe('BTF from a hand-built blob', () => {
  const { blob, ids } = sample();
  const btf = new Btf(blob);

  test('counts and decodes every kind', () => {
    assert.equal(btf.count, Object.keys(ids).length);
    const kinds = new Set([...btf.ids()].map((id) => btf.kindOf(id)));
    for (let k = 1; k <= 19; k++) assert.ok(kinds.has(k), `kind ${BtfKind[k]} present`);
    assert.equal(btf.get(ids.int).intEncoding, 1);
    assert.equal(btf.get(ids.int).intBits, 32);
    assert.deepEqual(btf.get(ids.arr).array, { type: ids.char, indexType: ids.int, nelems: 16 });
    assert.equal(btf.get(ids.enum).enumValues![1].value, -1n);
    assert.equal(btf.get(ids.enum64).enumValues![0].value, 1n << 32n);
    assert.equal(btf.get(ids.enum64).enumValues![1].value, -1n);
    assert.deepEqual(btf.get(ids.proto).params, [
      { name: 't', type: ids.ptrChar },
      { name: '', type: ids.int },
    ]);
    assert.equal(btf.get(ids.func).linkage, 1);
    assert.equal(btf.get(ids.var).linkage, 1);
    assert.deepEqual(btf.get(ids.datasec).datasecVars, [{ type: ids.var, offset: 0x100, size: 48 }]);
    assert.equal(btf.get(ids.declTag).componentIdx, -1);
    assert.equal(btf.get(ids.tag).name, 'rcu');
    assert.equal(btf.get(ids.fwd).kindFlag, true);
    assert.equal(btf.sizeof(ids.float), 8);
  });

  test('members: bitfields, anonymous struct/union descent, typedef chains', () => {
    assert.deepEqual(btf.member(ids.task, 'b'), { name: 'b', type: ids.uint, bitOffset: 35, bitSize: 5 });
    assert.equal(btf.member(ids.task, 'y')!.bitOffset, 64);
    assert.equal(btf.member(ids.task, 'nope'), undefined);
    assert.equal(btf.resolve(ids.my_atomic), ids.atomic);
    assert.equal(btf.resolve(ids.cst), ids.int);
    assert.equal(btf.sizeof(ids.my_atomic), 4);
    assert.equal(btf.sizeof(ids.arr), 16);
    assert.equal(btf.typeName(ids.cst), 'const volatile int');
    assert.equal(btf.typeName(ids.arr), 'char [16]');
    assert.equal(btf.typeName(ids.ptrChar), 'char *');
    assert.equal(btf.variable('runqueues'), ids.var);
  });

  test('typed API over the blob: type strings, offsetOf, errors naming the kernel', () => {
    const t = new KernelTypes(btf, '9.9.9-test');
    const task = t.type('struct task');
    assert.equal(task.sizeof, 48);
    assert.equal(task.offsetOf('comm'), 16);
    assert.equal(task.offsetOf('usage.counter'), 32);
    assert.equal(t.type('struct task *').sizeof, 8);
    assert.equal(t.type('struct task *').target().name, 'struct task');
    assert.equal(t.type('unsigned long [3]').sizeof, 24);
    assert.equal(t.type('atomic_t').sizeof, 4);
    assert.equal(t.type('enum state').isSigned, true);
    assert.throws(() => task.offsetOf('b'), /bitfield/);
    assert.throws(() => task.offsetOf('state'), { message: "struct task has no member 'state' (kernel 9.9.9-test)" });
    assert.throws(() => t.type('struct nosuch'), { message: "no type 'struct nosuch' in the kernel's BTF (kernel 9.9.9-test)" });
  });

  test('malformed blobs are refused with offsets', () => {
    const bad = Buffer.from(blob);
    bad.writeUInt16LE(0x1234, 0);
    assert.throws(() => new Btf(bad), (e: unknown) => e instanceof BtfFormatError && e.offset === 0 && /magic/.test(e.message));
    const trunc = Buffer.from(blob);
    trunc.writeUInt32LE(blob.readUInt32LE(12) + 8, 12); // type_len beyond
    assert.throws(() => new Btf(trunc), BtfFormatError);
    const unknownKind = Buffer.from(blob);
    unknownKind.writeUInt32LE((31 << 24) >>> 0, 24 + 4);
    assert.throws(() => new Btf(unknownKind), /unknown BTF kind 31/);
    assert.throws(() => new Btf(Buffer.alloc(10)), /shorter than its header/);
  });
});

const HOST = '/sys/kernel/btf/vmlinux';
test('host vmlinux BTF: task_struct and friends', { skip: !existsSync(HOST) && 'no /sys/kernel/btf/vmlinux' }, () => {
  const btf = new Btf(readFileSync(HOST));
  assert.ok(btf.count > 10_000);
  const t = new KernelTypes(btf, 'host');
  const ts = t.type('struct task_struct');
  assert.ok(ts.sizeof > 1000);
  assert.ok(ts.hasMember('__state'));
  assert.equal(ts.member('pid').type.sizeof, 4);
  assert.equal(t.type('struct list_head').sizeof, 16);
  assert.equal(t.type('spinlock_t').offsetOf('rlock'), 0);
  // Per-CPU variables carry VAR records in .data..percpu.
  assert.ok(btf.variable('runqueues') !== undefined);
});
