/**
 * The LZ4 block codec and xxHash32, from maintained libraries, none of which
 * needs a native build: lz4-wasm-nodejs (lz4_flex compiled to WebAssembly)
 * compresses and decompresses full blocks, lz4js (the reference pure-JS LZ4
 * block coder) decompresses the rest, and xxhash-wasm hashes. Only this
 * module knows them; frame.ts builds the LZ4 frame format on top.
 *
 * Compression is the bulk of a busy `walsync run`'s CPU (every WAL byte it
 * ships goes through it), and lz4_flex compresses WAL pages about four times
 * faster than lz4js. Decompression is the bulk of a restore's CPU when the
 * blocks are compressed (Litestream compresses every block): lz4_flex
 * decodes 3-4 times faster than lz4js, but only to a size known before the
 * block, which only a full block's is.
 */
import { createRequire } from 'node:module';
import xxhash from 'xxhash-wasm';

interface Lz4Js {
  decompressBlock(src: Uint8Array, dst: Uint8Array, sIndex: number, sLength: number, dIndex: number): number;
}

interface Lz4Wasm {
  /** One LZ4 block, behind a 4-byte little-endian uncompressed size. */
  compress(input: Uint8Array): Uint8Array;
  /** The module's own exports, under the wasm-bindgen ABI of the pinned version. */
  __wasm: Lz4WasmExports;
}

/**
 * lz4_flex's `decompress` as the WebAssembly module exports it. The package's
 * wrapper copies each decoded block out into a fresh array, which a restore
 * then copies again: for a 1 GiB snapshot that is 256 fresh 4 MiB arrays the
 * kernel faults in and the collector frees, about a third of the decode
 * time. Called directly, the block is copied once, into the caller's buffer.
 */
interface Lz4WasmExports {
  readonly memory: WebAssembly.Memory;
  /** Decodes the input (size-prefixed, then freed by the callee) and writes [outputPointer, outputLength, errorHandle, failed] at `returnPointer`. */
  decompress(returnPointer: number, inputPointer: number, inputLength: number): void;
  __wbindgen_add_to_stack_pointer(delta: number): number;
  __wbindgen_malloc(size: number): number;
  __wbindgen_free(pointer: number, size: number): void;
}

const require = createRequire(import.meta.url);
const SIZE_PREFIX = 4;
const SAMPLE_SIZE = 64 * 1024;

export interface Xxh32 {
  update(bytes: Uint8Array): Xxh32;
  digest(): number;
}

export interface Lz4Codec {
  /**
   * Compresses one independent block into a fresh array (frames of different
   * databases are encoded at once, and a block is still being written out
   * while the next is compressed); undefined when it would not be smaller.
   */
  compressBlock(block: Uint8Array): Uint8Array | undefined;
  /**
   * Decompresses one block into `into`; returns the decompressed length.
   * `likelyFull`: the block is expected to fill `into` (a frame's writer
   * fills every block but the last).
   */
  decompressBlock(compressed: Uint8Array, into: Uint8Array, likelyFull: boolean): number;
  xxh32(bytes: Uint8Array): number;
  createXxh32(): Xxh32;
}

/** Decodes the block into all of `into` with lz4_flex; false when it does not decode to exactly that size (lz4js then decodes it, or finds it damaged). */
function decompressFull(wasm: Lz4WasmExports, compressed: Uint8Array, into: Uint8Array): boolean {
  const inputLength = SIZE_PREFIX + compressed.byteLength;
  const returnPointer = wasm.__wbindgen_add_to_stack_pointer(-16);
  try {
    const inputPointer = wasm.__wbindgen_malloc(inputLength);
    new DataView(wasm.memory.buffer).setUint32(inputPointer, into.byteLength, true);
    new Uint8Array(wasm.memory.buffer).set(compressed, inputPointer + SIZE_PREFIX);
    try {
      wasm.decompress(returnPointer, inputPointer, inputLength);
    } catch {
      // A trap in the decoder is a block it could not decode, as its error result is.
      return false;
    }
    // Read after the call: decoding may have grown the memory, which detaches the views taken before.
    const [outputPointer, outputLength, , failed] = new Int32Array(wasm.memory.buffer, returnPointer, 4);
    // A failure's error string stays in the wrapper's handle table: one per damaged block, and a damaged block ends the restore.
    if (failed) return false;
    try {
      if (outputLength !== into.byteLength) return false;
      into.set(new Uint8Array(wasm.memory.buffer, outputPointer!, outputLength));
      return true;
    } finally {
      wasm.__wbindgen_free(outputPointer!, outputLength!);
    }
  } finally {
    wasm.__wbindgen_add_to_stack_pointer(16);
  }
}

let codec: Promise<Lz4Codec> | undefined;

export function loadLz4Codec(): Promise<Lz4Codec> {
  codec ??= xxhash().then((hasher) => {
    // Loaded here, not at import: instantiating the WebAssembly module is start-up time a sync with nothing to ship does not need.
    const lz4js = require('lz4js') as Lz4Js;
    const lz4wasm = require('lz4-wasm-nodejs') as Lz4Wasm;
    const compressedSize = (data: Uint8Array): number => lz4wasm.compress(data).byteLength - SIZE_PREFIX;
    return {
      compressBlock(block) {
        // A sample that does not shrink says the block is random (encrypted, already
        // compressed): store it as is rather than spend the whole block's time on it.
        if (block.byteLength > 2 * SAMPLE_SIZE && compressedSize(block.subarray(0, SAMPLE_SIZE)) > SAMPLE_SIZE * 0.97) return undefined;
        const compressed = lz4wasm.compress(block).subarray(SIZE_PREFIX);
        return compressed.byteLength < block.byteLength ? compressed : undefined;
      },
      decompressBlock(compressed, into, likelyFull) {
        // lz4_flex decodes three to four times faster than lz4js, but only to an exact size, given before the block; a full block's is `into`'s.
        if (likelyFull && decompressFull(lz4wasm.__wasm, compressed, into)) return into.byteLength;
        return lz4js.decompressBlock(compressed, into, 0, compressed.byteLength, 0);
      },
      xxh32: (bytes) => hasher.h32Raw(bytes, 0) >>> 0,
      createXxh32: () => hasher.create32(0) as Xxh32,
    };
  });
  return codec;
}
