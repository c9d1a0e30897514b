/**
 * Plain file I/O: exact reads, full writes, chunked reads through a reused
 * buffer, writes with one write in flight, and report files replaced
 * through a temp name without fsyncs (see durable.ts for what must survive a crash).
 */
import fs from 'node:fs/promises';
import { isNotFound, onFile } from '../errors.js';
import { TMP_SUFFIX } from '../layout.js';
import { borrowBuffer, returnBuffer, withBuffers } from './buffer-pool.js';

/**
 * Replaces a small report file through a temp name, so a reader never sees
 * half of it, without the fsyncs: for files (the status, the lock's holder)
 * that a crash may leave stale or missing at no cost to a backup.
 */
export async function replaceReportFile(target: string, text: string, mode: number): Promise<void> {
  const tmpPath = `${target}${TMP_SUFFIX}`;
  await onFile(tmpPath, async () => {
    await fs.writeFile(tmpPath, text, { mode });
    await fs.rename(tmpPath, target);
  });
}

export async function writeAll(handle: fs.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
}

/** Room for one 4 MiB LZ4 block and the size words around it: an upload's frame goes out a block per write. */
const WRITE_BEHIND_SIZE = 4 * 1024 * 1024 + 64 * 1024;

/**
 * Writes a stream of chunks from `position` on (to a file, a remote handle) with one write in flight while
 * the next chunks are made, so the producer's work (compressing, hashing,
 * reading) overlaps the disk instead of waiting for it. A chunk is only valid
 * until the next one is asked for, so chunks are copied into one of two
 * buffers; small ones (an LZ4 block's size word) ride along with the next
 * instead of costing a write each. `bufferSize` is each buffer's: a reader
 * that holds its memory down (restore) writes a large chunk in parts.
 * Returns the bytes written.
 */
export async function writeChunksBehind(
  write: (bytes: Uint8Array, position: number) => Promise<void>,
  chunks: AsyncIterable<Uint8Array>,
  position = 0,
  bufferSize = WRITE_BEHIND_SIZE,
): Promise<number> {
  return withBuffers([bufferSize, bufferSize], async (buffers) => {
    let turn = 0;
    let filled = 0;
    let at = position;
    let inFlight: Promise<void> = Promise.resolve();
    let failure: { error: unknown } | undefined;
    const flush = async () => {
      await inFlight;
      if (failure) throw failure.error;
      // Caught here, so a write that fails while the next chunk is being made is not an unhandled rejection.
      inFlight = write(buffers[turn]!.subarray(0, filled), at).catch((error: unknown) => {
        failure = { error };
      });
      at += filled;
      turn ^= 1;
      filled = 0;
    };
    try {
      for await (const chunk of chunks) {
        for (let taken = 0; taken < chunk.byteLength; ) {
          if (filled === bufferSize) await flush();
          const take = Math.min(chunk.byteLength - taken, bufferSize - filled);
          buffers[turn]!.set(chunk.subarray(taken, taken + take), filled);
          filled += take;
          taken += take;
        }
        // A whole block is in: write it while the next is made (a small chunk waits for more).
        if (filled >= bufferSize / 2) await flush();
      }
      if (filled > 0) await flush();
    } finally {
      // A source that fails mid-stream must not hand back a buffer a write still drains.
      await inFlight;
    }
    if (failure) throw failure.error;
    return at - position;
  });
}

/** Reads exactly `length` bytes at `position`, or fewer only at end of file. */
export async function readRange(
  handle: fs.FileHandle,
  position: number,
  length: number,
  into: Uint8Array = new Uint8Array(length),
): Promise<Uint8Array> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return into.subarray(0, done);
}

/**
 * Reads bytes [start, end) of a file in chunks through one reused buffer:
 * each chunk is valid until the next is asked for. For consumers that copy
 * or write each chunk out right away, this keeps memory flat.
 */
export async function* readFileChunks(filePath: string, start = 0, end = Infinity, chunkSize = 1024 * 1024): AsyncGenerator<Uint8Array> {
  const handle = await fs.open(filePath, 'r');
  let buffer: Uint8Array | undefined;
  try {
    // A small file (a WAL segment, read ahead eight at a time) is read through a buffer its size, not a whole chunk.
    const size = end === Infinity ? (await handle.stat()).size - start : end - start;
    buffer = borrowBuffer(Math.min(chunkSize, 2 ** Math.ceil(Math.log2(Math.max(size, 64 * 1024)))));
    for (let position = start; position < end; ) {
      const chunk = await readRange(handle, position, Math.min(buffer.byteLength, end - position), buffer);
      if (chunk.byteLength === 0) return;
      yield chunk;
      position += chunk.byteLength;
    }
  } finally {
    await handle.close();
    if (buffer) returnBuffer(buffer);
  }
}

/** Whether anything (a file, a directory, a dangling link) is at `filePath`. */
export async function pathExists(filePath: string): Promise<boolean> {
  try {
    await fs.lstat(filePath);
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}
