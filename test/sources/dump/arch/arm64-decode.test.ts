/** arm64 decoding (capstone): what the loop and lock detectors read of each instruction. */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { decodeArm64, loadArm64Decoder } from '../../../../src/sources/dump/arch/arm64/decode.ts';
import { decodeArm64One } from '../../../../src/sources/live/code.ts';

const words = (...w: number[]) => {
  const b = Buffer.alloc(w.length * 4);
  w.forEach((x, i) => b.writeUInt32LE(x >>> 0, i * 4));
  return b;
};
const at = 0xffffd512ed378d00n;

describe('arm64 decoder', () => {
  before(() => loadArm64Decoder());

  it('the seqcount read loop: yield; ldr w2, [x3]; tbnz w2, #0, <yield>', () => {
    // Bytes of tick_nohz_next_event+64..+72 on Debian's 6.1 arm64 kernel.
    const [y, ldr, tbnz] = decodeArm64(words(0xd503203f, 0xb9400062, 0x3707ffc2), at);
    assert.equal(y.mnemonic, 'yield');
    assert.equal(ldr.text, 'ldr w2, [x3]');
    assert.deepEqual(ldr.memory, { scale: 1, displacement: 0n, size: 4, base: 'x3' });
    assert.equal(ldr.writes, 'x2');
    assert.equal(tbnz.flow, 'conditional-branch');
    assert.equal(tbnz.target, at);
    assert.deepEqual(tbnz.testsBit, { reg: 'x2', bit: 0 });
  });

  it('adrp + add give the address, and a load through it is absolute', () => {
    // adrp x0, <page>; add x0, x0, #0x3c0; ldr w1, [x0, #8]; bl <self>
    const page = at & ~0xfffn;
    const [adrp, add, ldr, bl] = decodeArm64(words(0x90000000, 0x910f0000, 0xb9400801, 0x94000000), at);
    assert.equal(adrp.value, page);
    assert.equal(add.value, page + 0x3c0n);
    assert.equal(add.writes, 'x0');
    assert.equal(ldr.memory?.ripRelative, page + 0x3c0n + 8n);
    assert.equal(bl.flow, 'call');
    assert.equal(bl.target, at + 12n);
  });

  it('register copies, exclusive stores, LSE atomics, writeback and pairs', () => {
    const [mov, stxr, ldadd, post, ldp, ret] = decodeArm64(words(0xaa1303e0, 0x8803fe61, 0xb8200040, 0xf8408420, 0xa8c17bfd, 0xd65f03c0), at);
    assert.equal(mov.text, 'mov x0, x19');
    assert.equal(mov.copies, 'x19');
    assert.equal(stxr.writes, 'x3', 'the status register');
    assert.equal(stxr.memory?.base, 'x19');
    assert.equal(ldadd.writes, 'x0');
    assert.equal(ldadd.memory?.size, 4);
    assert.equal(post.text, 'ldr x0, [x1], #8');
    assert.deepEqual(post.writesAlso, ['x1']);
    assert.equal(ldp.memory?.size, 16);
    assert.equal(ldp.writes, 'x29');
    assert.equal(ret.flow, 'return');
  });

  it('an undecodable word is (bad) and decoding goes on', () => {
    const out = decodeArm64(words(0xffffffff, 0xd503201f), at);
    assert.equal(out.length, 2);
    assert.equal(out[1].mnemonic, 'nop');
  });

  it('live: `b .` branches to itself', async () => {
    const d = await decodeArm64One(words(0x14000000), 0x400800n);
    assert.equal(d.branchesToItself, true);
    assert.equal(d.text, 'b 0x400800');
    const n = await decodeArm64One(words(0x14000002), 0x400800n);
    assert.equal(n.branchesToItself, false);
  });
});
