/** Page decompression for kdump-compressed dumps: zlib (node:zlib), lzo (ours), snappy (snappyjs), zstd (zstddec, WASM). */
import { inflateSync } from 'node:zlib';
import snappy from 'snappyjs';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { lzo1xDecompress } from './lzo.ts';

export type Compression = 'zlib' | 'lzo' | 'snappy' | 'zstd' | 'none';

/**
 * zstd: the WASM build of libzstd's decoder that the zstddec package ships. zstddec's own API only
 * initialises asynchronously, while page reads are synchronous, so we compile its module synchronously
 * on first use (WebAssembly.Module is synchronous in Node) and call ZSTD_decompress ourselves.
 */
interface ZstdExports {
  memory: { buffer: ArrayBuffer };
  malloc(n: number): number;
  free(p: number): void;
  ZSTD_decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number;
  ZSTD_isError(code: number): number;
}
let zstdExports: ZstdExports | undefined;
// The project's lib setting (ES2022) has no WebAssembly typings; describe the two constructors we use.
const Wasm = (globalThis as unknown as {
  WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (m: object, imports: object) => { exports: unknown } };
}).WebAssembly;

function zstdWasm(): ZstdExports {
  if (zstdExports) return zstdExports;
  const require = createRequire(import.meta.url);
  const file = require.resolve('zstddec');
  const m = /const wasm = "([A-Za-z0-9+/=]+)"/.exec(readFileSync(file, 'utf8'));
  if (!m) throw new Error(`zstd: cannot find the WASM module in ${file} (zstddec version changed?)`);
  const mod = new Wasm.Module(Buffer.from(m[1], 'base64'));
  const inst = new Wasm.Instance(mod, { env: { emscripten_notify_memory_growth: () => {} } });
  zstdExports = inst.exports as unknown as ZstdExports;
  return zstdExports;
}

/** Decompresses one page; throws Error if the data is corrupt or does not give exactly `pageSize` bytes. */
export function decompressPage(kind: Compression, data: Buffer, pageSize: number): Buffer {
  let out: Uint8Array;
  switch (kind) {
    case 'none':
      out = data;
      break;
    case 'zlib':
      // A chunk larger than the page: with exactly a page, zlib asks for a second output buffer after the last byte.
      out = inflateSync(data, { maxOutputLength: pageSize, chunkSize: pageSize + 512 });
      break;
    case 'lzo':
      out = lzo1xDecompress(data, pageSize);
      break;
    case 'snappy':
      out = snappyUncompress(data, pageSize);
      break;
    case 'zstd':
      out = zstdUncompress(data, pageSize);
      break;
  }
  if (out.length !== pageSize) throw new Error(`${kind} page decompressed to ${out.length} bytes, expected ${pageSize}`);
  return Buffer.isBuffer(out) ? out : Buffer.from(out.buffer, out.byteOffset, out.length);
}

function snappyUncompress(data: Buffer, pageSize: number): Uint8Array {
  // The preamble is the uncompressed length (varint); check it before letting the library allocate.
  let len = 0;
  let shift = 0;
  for (let i = 0; i < 5 && i < data.length; i++) {
    len |= (data[i] & 0x7f) << shift;
    if ((data[i] & 0x80) === 0) break;
    shift += 7;
  }
  if (len !== pageSize) throw new Error(`snappy page announces ${len} bytes, expected ${pageSize}`);
  const u8 = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return snappy.uncompress(u8);
}

function zstdUncompress(data: Buffer, pageSize: number): Uint8Array {
  const z = zstdWasm();
  const src = z.malloc(data.length);
  const dst = z.malloc(pageSize);
  try {
    if (!src || !dst) throw new Error('zstd: out of WASM memory');
    new Uint8Array(z.memory.buffer).set(data, src);
    const n = z.ZSTD_decompress(dst, pageSize, src, data.length) >>> 0;
    if (z.ZSTD_isError(n)) throw new Error(`zstd: corrupt frame (error ${-n >>> 0})`);
    return Buffer.from(new Uint8Array(z.memory.buffer, dst, n));
  } finally {
    if (src) z.free(src);
    if (dst) z.free(dst);
  }
}
