/**
 * The LZ4 frame format (github.com/lz4/lz4, doc/lz4_Frame_format.md), streamed
 * so memory stays flat whatever the object size: every replica object is one
 * frame with independent 4 MiB blocks and a content checksum, which
 * `lz4 -d`, Litestream and any LZ4-frame codec read.
 */
import { WalsyncError } from '../errors.js';
import type { Lz4Codec } from './codec.js';
import { loadLz4Codec } from './codec.js';
import { borrowBuffer, returnBuffer } from '../fsx/buffer-pool.js';
import { identityNeeded } from '../replica/age/keys.js';

export const LZ4_FRAME_MAGIC = 0x184d2204;
/** Skippable frames use magics 0x184D2A50 to 0x184D2A5F; readers skip them. */
const SKIPPABLE_MAGIC = 0x184d2a50;
/** A skippable frame this large is damage, not a label. */
const SKIPPABLE_MAX_SIZE = 64 * 1024;
const AGE_MAGIC = new TextEncoder().encode('age-');
const FLG_VERSION = 0x40;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_DICT_ID = 0x01;
const BLOCK_SIZE_CODE_4MB = 7;
const UNCOMPRESSED_BIT = 0x80000000;
const BLOCK_MAX_SIZES: Record<number, number> = { 4: 64 * 1024, 5: 256 * 1024, 6: 1024 * 1024, 7: 4 * 1024 * 1024 };
export const LZ4_BLOCK_SIZE = BLOCK_MAX_SIZES[BLOCK_SIZE_CODE_4MB]!;

export interface Lz4FrameDescriptor {
  readonly blockMaxSize: number;
  readonly blockChecksum: boolean;
  readonly contentChecksum: boolean;
  /** The decompressed size, when the writer put it in the header. */
  readonly contentSize?: number;
  /** Bytes from the magic number to the end of the header checksum. */
  readonly headerSize: number;
}

/** A frame header; with `contentSize`, a reader learns the decompressed size from the header alone. */
export function formatLz4FrameHeader(codec: Lz4Codec, contentSize?: number): Uint8Array {
  const header = new Uint8Array(contentSize === undefined ? 7 : 15);
  const view = new DataView(header.buffer);
  view.setUint32(0, LZ4_FRAME_MAGIC, true);
  header[4] = FLG_VERSION | FLG_BLOCK_INDEPENDENT | FLG_CONTENT_CHECKSUM | (contentSize === undefined ? 0 : FLG_CONTENT_SIZE);
  header[5] = BLOCK_SIZE_CODE_4MB << 4;
  if (contentSize !== undefined) view.setBigUint64(6, BigInt(contentSize), true);
  header[header.byteLength - 1] = (codec.xxh32(header.subarray(4, header.byteLength - 1)) >>> 8) & 0xff;
  return header;
}

/** Parses a frame header from its first bytes; `needed` asks for more when they are too few. */
export function parseLz4FrameHeader(
  bytes: Uint8Array,
  codec: Lz4Codec,
): { ok: true; descriptor: Lz4FrameDescriptor } | { ok: false; needed: number } | { ok: false; reason: string } {
  if (bytes.byteLength < 7) return { ok: false, needed: 7 };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, true);
  if (magic !== LZ4_FRAME_MAGIC) return { ok: false, reason: `not an LZ4 frame (magic 0x${magic.toString(16)})` };
  const flg = bytes[4]!;
  if ((flg & 0xc0) !== FLG_VERSION) return { ok: false, reason: `unsupported LZ4 frame version in flags 0x${flg.toString(16)}` };
  const headerSize = 7 + (flg & FLG_CONTENT_SIZE ? 8 : 0) + (flg & FLG_DICT_ID ? 4 : 0);
  if (bytes.byteLength < headerSize) return { ok: false, needed: headerSize };
  const blockMaxSize = BLOCK_MAX_SIZES[(bytes[5]! >> 4) & 0x7];
  if (blockMaxSize === undefined) return { ok: false, reason: `bad LZ4 block size code in 0x${bytes[5]!.toString(16)}` };
  const checksum = (codec.xxh32(bytes.subarray(4, headerSize - 1)) >>> 8) & 0xff;
  if (checksum !== bytes[headerSize - 1]) return { ok: false, reason: 'LZ4 frame header checksum mismatch' };
  return {
    ok: true,
    descriptor: {
      blockMaxSize,
      contentSize: flg & FLG_CONTENT_SIZE ? Number(view.getBigUint64(6, true)) : undefined,
      blockChecksum: (flg & FLG_BLOCK_CHECKSUM) !== 0,
      contentChecksum: (flg & FLG_CONTENT_CHECKSUM) !== 0,
      headerSize,
    },
  };
}

function u32le(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
  return bytes;
}

/** A skippable frame carrying `payload`, which every frame reader passes over. */
export function formatSkippableFrame(payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(8 + payload.byteLength);
  const view = new DataView(frame.buffer);
  view.setUint32(0, SKIPPABLE_MAGIC, true);
  view.setUint32(4, payload.byteLength, true);
  frame.set(payload, 8);
  return frame;
}

/**
 * Compresses a byte stream into one LZ4 frame, one 4 MiB block at a time.
 * Each yielded chunk is valid until the next one is asked for: buffers are
 * reused so memory stays flat. A `contentSize` goes into the header, and a
 * source that turns out longer or shorter fails the frame. A `label` goes
 * before the frame, in a skippable frame.
 */
export async function* encodeLz4Frame(source: AsyncIterable<Uint8Array>, contentSize?: number, label?: Uint8Array): AsyncGenerator<Uint8Array> {
  if (label) yield formatSkippableFrame(label);
  const codec = await loadLz4Codec();
  const content = codec.createXxh32();
  const block = borrowBuffer(LZ4_BLOCK_SIZE);
  try {
    let filled = 0;
    let total = 0;
    yield formatLz4FrameHeader(codec, contentSize);
    const flush = function* (data: Uint8Array): Generator<Uint8Array> {
      content.update(data);
      const compressed = codec.compressBlock(data);
      if (compressed) {
        yield u32le(compressed.byteLength);
        yield compressed;
      } else {
        yield u32le(UNCOMPRESSED_BIT | data.byteLength);
        yield data;
      }
    };
    for await (const chunk of source) {
      total += chunk.byteLength;
      for (let at = 0; at < chunk.byteLength; ) {
        if (filled === 0 && chunk.byteLength - at >= LZ4_BLOCK_SIZE) {
          // A whole block in the source: no copy (the source's chunk stays valid while it is yielded).
          yield* flush(chunk.subarray(at, at + LZ4_BLOCK_SIZE));
          at += LZ4_BLOCK_SIZE;
          continue;
        }
        const take = Math.min(chunk.byteLength - at, LZ4_BLOCK_SIZE - filled);
        block.set(chunk.subarray(at, at + take), filled);
        filled += take;
        at += take;
        if (filled === LZ4_BLOCK_SIZE) {
          yield* flush(block);
          filled = 0;
        }
      }
    }
    if (filled > 0) yield* flush(block.subarray(0, filled));
    if (contentSize !== undefined && total !== contentSize) {
      throw new WalsyncError('IO', `LZ4 frame content is ${total} bytes, not the ${contentSize} its header announces`);
    }
  } finally {
    returnBuffer(block);
  }
  yield u32le(0);
  yield u32le(content.digest());
}

/**
 * Decompresses one LZ4 frame from a byte stream, checking the header, block
 * and content checksums. `name` (the object) starts every error message.
 * Each yielded chunk is valid until the next one is asked for: buffers are
 * reused so memory stays flat. Skippable frames before it are handed to
 * `onSkippable` (which may throw) before any content is yielded.
 */
export async function* decodeLz4Frame(
  source: AsyncIterable<Uint8Array>,
  name: string,
  onSkippable?: (payload: Uint8Array) => void,
): AsyncGenerator<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]();
  const reader = new ByteReader(chunks);
  try {
    yield* decodeFrom(reader, name, onSkippable);
  } finally {
    reader.close();
    // Stopped early (an error here or in the consumer): let the source close its file.
    await chunks.return?.();
  }
}

/** The decompressed size a frame's header announces, read from the header alone; undefined when it has none. */
export async function readLz4ContentSize(
  source: AsyncIterable<Uint8Array>,
  name: string,
  onSkippable?: (payload: Uint8Array) => void,
): Promise<number | undefined> {
  const chunks = source[Symbol.asyncIterator]();
  const reader = new ByteReader(chunks);
  try {
    return (await readFrameHeader(reader, await loadLz4Codec(), name, onSkippable)).contentSize;
  } finally {
    reader.close();
    await chunks.return?.();
  }
}

function corrupt(name: string, reason: string): WalsyncError {
  return new WalsyncError('REPLICA_CORRUPT', `${name}: ${reason}`);
}

async function readFrameHeader(reader: ByteReader, codec: Lz4Codec, name: string, onSkippable?: (payload: Uint8Array) => void): Promise<Lz4FrameDescriptor> {
  let magic = Uint8Array.from(await reader.read(4));
  while (magic.byteLength === 4 && (new DataView(magic.buffer).getUint32(0, true) & 0xfffffff0) === SKIPPABLE_MAGIC) {
    const sizeBytes = await reader.read(4);
    const size = sizeBytes.byteLength === 4 ? new DataView(sizeBytes.buffer, sizeBytes.byteOffset, 4).getUint32(0, true) : -1;
    if (size < 0 || size > SKIPPABLE_MAX_SIZE) throw corrupt(name, 'damaged LZ4 skippable frame');
    const payload = await reader.read(size);
    if (payload.byteLength < size) throw corrupt(name, 'truncated LZ4 skippable frame');
    onSkippable?.(Uint8Array.from(payload));
    magic = Uint8Array.from(await reader.read(4));
  }
  if (AGE_MAGIC.every((byte, i) => magic[i] === byte)) {
    // A replica encrypted with age (age-encryption.org/v1), opened without its keys.
    throw identityNeeded(name);
  }
  let head = concat(magic, await reader.read(3));
  let parsed = parseLz4FrameHeader(head, codec);
  if (!parsed.ok && 'needed' in parsed && head.byteLength === 7) {
    head = concat(head, await reader.read(parsed.needed - 7));
    parsed = parseLz4FrameHeader(head, codec);
  }
  if (!parsed.ok) throw corrupt(name, 'needed' in parsed ? 'truncated LZ4 frame header' : parsed.reason);
  return parsed.descriptor;
}

async function* decodeFrom(reader: ByteReader, name: string, onSkippable?: (payload: Uint8Array) => void): AsyncGenerator<Uint8Array> {
  const codec = await loadLz4Codec();
  const fail = (reason: string) => corrupt(name, reason);
  const descriptor = await readFrameHeader(reader, codec, name, onSkippable);
  let total = 0;
  const content = codec.createXxh32();
  const output = borrowBuffer(descriptor.blockMaxSize);
  try {
    const checksumSize = descriptor.blockChecksum ? 4 : 0;
    // Room for the largest read up front: one gathering buffer for the whole frame, not one per size it grows through.
    reader.reserve(descriptor.blockMaxSize + checksumSize + 4);
    let sizeBytes = await reader.read(4);
    for (;;) {
      if (sizeBytes.byteLength < 4) throw fail('truncated LZ4 frame (no end mark)');
      const word = wordAt(sizeBytes, 0);
      if (word === 0) break;
      const size = word & ~UNCOMPRESSED_BIT;
      if (size > descriptor.blockMaxSize) throw fail(`LZ4 block of ${size} bytes exceeds the frame's ${descriptor.blockMaxSize}`);
      // One read for the block, its checksum and the next size word (a view is only valid until the next read): whether this block is the last says whether it is likely full.
      const framed = await reader.read(size + checksumSize + 4);
      if (framed.byteLength < size + checksumSize) throw fail('truncated LZ4 block');
      const data = framed.subarray(0, size);
      if (descriptor.blockChecksum && wordAt(framed, size) !== codec.xxh32(data)) throw fail('LZ4 block checksum mismatch');
      sizeBytes = framed.subarray(size + checksumSize);
      const last = sizeBytes.byteLength === 4 && wordAt(sizeBytes, 0) === 0;
      const block = word & UNCOMPRESSED_BIT ? data : output.subarray(0, codec.decompressBlock(data, output, !last));
      content.update(block);
      total += block.byteLength;
      yield block;
    }
    if (descriptor.contentSize !== undefined && total !== descriptor.contentSize) {
      throw fail(`LZ4 frame holds ${total} bytes, not the ${descriptor.contentSize} its header announces`);
    }
    if (descriptor.contentChecksum) {
      const stored = await reader.read(4);
      if (stored.byteLength < 4) throw fail('truncated LZ4 frame (no content checksum)');
      if (new DataView(stored.buffer, stored.byteOffset, 4).getUint32(0, true) !== content.digest() >>> 0) {
        throw fail('LZ4 content checksum mismatch');
      }
    }
  } finally {
    returnBuffer(output);
  }
  if (!(await reader.atEnd())) throw fail('unexpected bytes after the LZ4 frame');
}

/**
 * Powers of two, so readers of different objects share pooled sizes; past
 * 1 MiB, multiples of 64 KiB, so a 4 MiB block read with the words around it
 * does not take 8 MiB.
 */
function spillSizeFor(length: number): number {
  const step = 64 * 1024;
  if (length > 1024 * 1024) return Math.ceil(length / step) * step;
  return 2 ** Math.ceil(Math.log2(Math.max(length, step)));
}

function wordAt(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

/**
 * Exact-length reads over a stream of chunks. A read inside the current
 * chunk is a view of it, without a copy; only a read that spans chunks is
 * gathered, into a pooled buffer. Either way the view is valid until the
 * next read: the source may reuse its buffer for the next chunk.
 */
class ByteReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private at = 0;
  private spill: Uint8Array | undefined;
  private done = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  /** Reads `length` bytes, or fewer only at the end of the stream. */
  async read(length: number): Promise<Uint8Array> {
    if (this.chunk.byteLength - this.at >= length) {
      const view = this.chunk.subarray(this.at, this.at + length);
      this.at += length;
      return view;
    }
    const spill = this.spillOf(length);
    let filled = 0;
    for (;;) {
      const take = Math.min(length - filled, this.chunk.byteLength - this.at);
      spill.set(this.chunk.subarray(this.at, this.at + take), filled);
      filled += take;
      this.at += take;
      if (filled === length || this.done) break;
      const next = await this.source.next();
      this.at = 0;
      if (next.done) {
        this.done = true;
        this.chunk = new Uint8Array(0);
        break;
      }
      this.chunk = next.value;
    }
    return spill.subarray(0, filled);
  }

  /** Makes sure reads of up to `length` bytes that span chunks need no larger buffer. */
  reserve(length: number): void {
    this.spillOf(length);
  }

  async atEnd(): Promise<boolean> {
    return (await this.read(1)).byteLength === 0;
  }

  /** Hands the gathering buffer back to the pool. */
  close(): void {
    if (this.spill) returnBuffer(this.spill);
    this.spill = undefined;
  }

  private spillOf(length: number): Uint8Array {
    if (this.spill && this.spill.byteLength >= length) return this.spill;
    this.close();
    this.spill = borrowBuffer(spillSizeFor(length));
    return this.spill;
  }
}
