/**
 * Crash-safe file primitives: a file appears whole or not at all (tmp, fsync,
 * rename, fsync the directory), and a file that only grows is appended to
 * and fsynced before anyone is told about the new bytes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { TMP_SUFFIX } from '../layout.js';

const TMP_NAME = /\.tmp(-wal|-shm)?$/;
import { isNotFound } from '../errors.js';

export async function fsyncDir(dirPath: string): Promise<void> {
  const handle = await fs.open(dirPath, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `dirPath` and any missing parents with `mode`, fsyncing each parent it added to. */
export async function makeDirDurable(dirPath: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let dir = dirPath; ; dir = path.dirname(dir)) {
    try {
      await fs.stat(dir);
      break;
    } catch (error) {
      if (!isNotFound(error) || dir === path.dirname(dir)) throw error;
      missing.unshift(dir);
    }
  }
  for (const dir of missing) {
    await fs.mkdir(dir, { mode });
    await fsyncDir(path.dirname(dir));
  }
}

/**
 * Writes `target` through `<target>.tmp`: the callback fills the temp file
 * (positioned writes on its handle), then it is fsynced and renamed over the
 * target, and the directory fsynced. A crash leaves either the old target or
 * the new one, plus at most a `.tmp` that the next job removes.
 */
export async function writeFileAtomic<T>(
  target: string,
  mode: number,
  fill: (handle: fs.FileHandle) => Promise<T>,
): Promise<T> {
  const tmpPath = target + TMP_SUFFIX;
  const handle = await fs.open(tmpPath, 'w', mode);
  let result: T;
  try {
    result = await fill(handle);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await fs.rm(tmpPath, { force: true });
    throw error;
  }
  await handle.close();
  await fs.rename(tmpPath, target);
  await fsyncDir(path.dirname(target));
  return result;
}

export async function writeBytesAtomic(target: string, mode: number, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(target, mode, (handle) => writeAll(handle, bytes, 0));
}

export async function writeAll(handle: fs.FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done);
    done += bytesWritten;
  }
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

/** Removes `*.tmp` debris of killed jobs (and the -wal/-shm of a temp database) anywhere under `dirPath`; returns how many. */
export async function removeTmpFiles(dirPath: string): Promise<number> {
  let entries;
  try {
    entries = await fs.readdir(dirPath, { withFileTypes: true, recursive: true });
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw error;
  }
  let removed = 0;
  for (const entry of entries) {
    if (entry.isFile() && TMP_NAME.test(entry.name)) {
      await fs.rm(path.join(entry.parentPath ?? entry.path, entry.name), { force: true });
      removed++;
    }
  }
  return removed;
}

/**
 * Reads bytes [start, end) of a file in chunks through one reused buffer:
 * each chunk is valid until the next is asked for. For consumers that copy
 * or write each chunk out right away, this keeps memory flat.
 */
export async function* readFileChunks(filePath: string, start = 0, end = Infinity, chunkSize = 1024 * 1024): AsyncGenerator<Uint8Array> {
  const handle = await fs.open(filePath, 'r');
  try {
    const buffer = new Uint8Array(chunkSize);
    for (let position = start; position < end; ) {
      const chunk = await readRange(handle, position, Math.min(chunkSize, end - position), buffer);
      if (chunk.byteLength === 0) return;
      yield chunk;
      position += chunk.byteLength;
    }
  } finally {
    await handle.close();
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
