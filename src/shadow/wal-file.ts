/**
 * Reading a WAL file (the real one or a shadow) in chunks: its header, and a
 * checksum-chained walk from a chain point to the last valid commit. The
 * `-wal` file carries no SQLite locks, so plain fs access to it is safe.
 */
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { isNotFound } from '../errors.js';
import { readRange, writeAll } from '../fsx/file-io.js';
import { withBuffers } from '../fsx/buffer-pool.js';
import type { WalHeader } from '../wal/format.js';
import { WAL_HEADER_SIZE, frameSizeFor } from '../wal/format.js';
import type { ChainPoint, WalkState } from '../wal/frames.js';
import { startWalk, walkFrames } from '../wal/frames.js';
import { parseWalHeader } from '../wal/header.js';

/** About 4 MiB of whole frames per read: large enough for full-speed I/O, small enough to keep memory flat. */
const CHUNK_TARGET_SIZE = 4 * 1024 * 1024;

export function chunkSizeFor(pageSize: number): number {
  const frameSize = frameSizeFor(pageSize);
  return Math.max(1, Math.floor(CHUNK_TARGET_SIZE / frameSize)) * frameSize;
}

export type WalFileHeader =
  | { kind: 'ok'; header: WalHeader; fileSize: number }
  | { kind: 'missing' }
  | { kind: 'invalid'; reason: string; fileSize: number };

export async function readWalFileHeader(handle: FileHandle): Promise<WalFileHeader> {
  const { size } = await handle.stat();
  if (size < WAL_HEADER_SIZE) return { kind: 'invalid', reason: `only ${size} bytes, no WAL header`, fileSize: size };
  const parsed = parseWalHeader(await readRange(handle, 0, WAL_HEADER_SIZE));
  if (!parsed.ok) return { kind: 'invalid', reason: parsed.reason, fileSize: size };
  return { kind: 'ok', header: parsed.header, fileSize: size };
}

export async function readWalHeaderAt(walPath: string): Promise<WalFileHeader> {
  let handle;
  try {
    handle = await fs.open(walPath, 'r');
  } catch (error) {
    if (isNotFound(error)) return { kind: 'missing' };
    throw error;
  }
  try {
    return await readWalFileHeader(handle);
  } finally {
    await handle.close();
  }
}

/**
 * Walks the frames of `handle` from `from` to the end of the file or the
 * first frame that breaks the chain, reading one chunk at a time.
 */
export async function walkWalFile(handle: FileHandle, header: WalHeader, from: ChainPoint): Promise<WalkState> {
  return withBuffers([chunkSizeFor(header.pageSize)], async ([buffer]) => {
    let state = startWalk(from);
    for (;;) {
      const chunk = await readRange(handle, state.validEnd.offset, buffer!.byteLength, buffer);
      if (chunk.byteLength === 0) return state;
      state = walkFrames(chunk, header, state);
      if (state.stop !== 'end' || chunk.byteLength < buffer!.byteLength) return state;
    }
  });
}

/**
 * Whether a frame of this WAL cycle follows `from`, committed or not: one
 * frame read. Most syncs of a long-running process find nothing new there
 * (the end of the file, or a stale frame of an older cycle), and this tells
 * so without opening the shadow or allocating chunk buffers.
 */
export async function hasFrameAfter(handle: FileHandle, header: WalHeader, from: ChainPoint): Promise<boolean> {
  const frame = await readRange(handle, from.offset, frameSizeFor(header.pageSize));
  return walkFrames(frame, header, startWalk(from)).frameCount > 0;
}

/** Copies bytes [from, to) of `source` to the same offsets of `target`, through `buffer`. */
async function copyWalRange(source: FileHandle, target: FileHandle, from: number, to: number, buffer: Uint8Array): Promise<void> {
  for (let offset = from; offset < to; ) {
    const length = Math.min(buffer.byteLength, to - offset);
    const chunk = await readRange(source, offset, length, buffer);
    if (chunk.byteLength < length) {
      throw new Error(`WAL ended at ${offset + chunk.byteLength} while copying up to ${to}`);
    }
    await writeAll(target, chunk, offset);
    offset += length;
  }
}

/**
 * Walks `source` from `from` and writes its committed bytes to the same
 * offsets of `target` in one pass: each chunk's bytes go out as soon as a
 * commit frame covers them (the write overlapping the next read), and only a
 * transaction spanning chunks is read a second time. Nothing after the last
 * commit is ever written.
 */
export async function copyCommitted(
  source: FileHandle,
  target: FileHandle,
  header: WalHeader,
  from: ChainPoint,
): Promise<WalkState> {
  const chunkSize = chunkSizeFor(header.pageSize);
  // One buffer being walked, one being read ahead, one being written.
  return withBuffers([chunkSize, chunkSize, chunkSize], async (buffers) => {
    let state = startWalk(from);
    let written = from.offset;
    let writing: Promise<void> = Promise.resolve();
    let writingBuffer: Uint8Array | undefined;
    let readStart = from.offset;
    let reading = readRange(source, readStart, chunkSize, buffers[0]);
    try {
      for (let round = 0; ; round++) {
        const chunk = await reading;
        const chunkStart = readStart;
        if (chunk.byteLength === 0) break;
        const buffer = buffers[round % buffers.length]!;
        const nextBuffer = buffers[(round + 1) % buffers.length]!;
        if (writingBuffer === nextBuffer) await writing;
        readStart = chunkStart + chunk.byteLength;
        reading = chunk.byteLength === chunkSize ? readRange(source, readStart, chunkSize, nextBuffer) : Promise.resolve(new Uint8Array(0));
        state = walkFrames(chunk, header, state);
        const commitEnd = state.commitEnd.offset;
        if (commitEnd > written) {
          await writing;
          // A transaction that began in an earlier chunk: its start is read again through the
          // previous round's buffer, free now that no write uses it.
          if (written < chunkStart) await copyWalRange(source, target, written, chunkStart, buffers[(round + 2) % buffers.length]!);
          const start = Math.max(written, chunkStart);
          writing = writeAll(target, chunk.subarray(start - chunkStart, commitEnd - chunkStart), start);
          writingBuffer = buffer;
          written = commitEnd;
        }
        if (state.stop !== 'end' || chunk.byteLength < chunkSize) break;
      }
    } finally {
      // The buffers go back to the pool: no read or write may still be filling or draining one.
      await Promise.allSettled([reading, writing]);
    }
    await writing;
    return state;
  });
}
