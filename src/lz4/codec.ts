/**
 * The LZ4 block codec and xxHash32, from maintained libraries: lz4js (the
 * reference pure-JS LZ4 block coder, no native build) and xxhash-wasm.
 * Only this module knows them; frame.ts builds the LZ4 frame format on top.
 */
import { createRequire } from 'node:module';
import xxhash from 'xxhash-wasm';

interface Lz4Js {
  compressBound(size: number): number;
  compressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, hashTable: Uint32Array): number;
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}

const lz4js = createRequire(import.meta.url)('lz4js') as Lz4Js;
const HASH_TABLE_SIZE = 1 << 16;
const SAMPLE_SIZE = 64 * 1024;

export interface Xxh32 {
  update(bytes: Uint8Array): Xxh32;
  digest(): number;
}

/**
 * Compresses one independent block; returns the compressed bytes (in a
 * buffer reused by this compressor's next call), or undefined when they would
 * not be smaller.
 */
export type BlockCompressor = (block: Uint8Array) => Uint8Array | undefined;

export interface Lz4Codec {
  /**
   * One per frame being encoded: frames of different databases are encoded
   * concurrently in one process, and a compressed block is still being written
   * out while another frame compresses its next one.
   */
  createBlockCompressor(): BlockCompressor;
  /** Decompresses one block into `into`; returns the decompressed length. */
  decompressBlock(compressed: Uint8Array, into: Uint8Array): number;
  xxh32(bytes: Uint8Array): number;
  createXxh32(): Xxh32;
}

let codec: Promise<Lz4Codec> | undefined;

export function loadLz4Codec(): Promise<Lz4Codec> {
  codec ??= xxhash().then((hasher) => {
    // Shared: it is only used inside one synchronous compression.
    const hashTable = new Uint32Array(HASH_TABLE_SIZE);
    const compressedSize = (data: Uint8Array, out: Uint8Array): number => {
      // Positions in the table are per block: every block is independent.
      hashTable.fill(0);
      return lz4js.compressBlock(data, out, 0, data.byteLength, hashTable);
    };
    return {
      createBlockCompressor() {
        let out = new Uint8Array(0);
        return (block) => {
          const bound = lz4js.compressBound(block.byteLength);
          if (out.byteLength < bound) out = new Uint8Array(bound);
          // A sample that does not shrink says the block is random (encrypted, already
          // compressed): store it as is rather than spend the whole block's time on it.
          if (block.byteLength > 2 * SAMPLE_SIZE && compressedSize(block.subarray(0, SAMPLE_SIZE), out) > SAMPLE_SIZE * 0.97) return undefined;
          const size = compressedSize(block, out);
          return size > 0 && size < block.byteLength ? out.subarray(0, size) : undefined;
        };
      },
      decompressBlock(compressed, into) {
        return lz4js.decompressBlock(compressed, into, 0, compressed.byteLength, 0);
      },
      xxh32: (bytes) => hasher.h32Raw(bytes, 0) >>> 0,
      createXxh32: () => hasher.create32(0) as Xxh32,
    };
  });
  return codec;
}
