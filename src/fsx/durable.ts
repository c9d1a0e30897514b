/**
 * Durable writes: a file appears whole or not at all (tmp, fsync, rename,
 * fsync the directory), directories are made with their parents fsynced, and
 * the `.tmp` debris a killed job leaves is removed by the next.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileError, isNotFound, onFile, systemErrorCode } from '../errors.js';
import { TMP_SUFFIX } from '../layout.js';
import { writeAll } from './file-io.js';

const TMP_NAME = /\.tmp(-wal|-shm)?$/;

/** Flushes a file or a directory to disk. */
export async function fsyncPath(filePath: string): Promise<void> {
  await onFile(filePath, async () => {
    const handle = await fs.open(filePath, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/** Creates `dirPath` and any missing parents with `mode`, fsyncing each parent it added to. */
export async function makeDirDurable(dirPath: string, mode: number): Promise<void> {
  const missing: string[] = [];
  for (let dir = dirPath; ; dir = path.dirname(dir)) {
    try {
      await fs.stat(dir);
      break;
    } catch (error) {
      if (!isNotFound(error) || dir === path.dirname(dir)) throw fileError(dir, error);
      missing.unshift(dir);
    }
  }
  for (const dir of missing) {
    try {
      await fs.mkdir(dir, { mode });
    } catch (error) {
      // Another walsync process (a one-shot started at the same moment) made it first.
      if (systemErrorCode(error) !== 'EEXIST') throw fileError(dir, error);
    }
    await fsyncPath(path.dirname(dir));
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
  const result = await onFile(tmpPath, async () => {
    const handle = await fs.open(tmpPath, 'w', mode);
    try {
      const filled = await fill(handle);
      await handle.sync();
      await handle.close();
      await fs.rename(tmpPath, target);
      return filled;
    } catch (error) {
      await handle.close().catch(() => undefined);
      await fs.rm(tmpPath, { force: true }).catch(() => undefined);
      throw error;
    }
  });
  await fsyncPath(path.dirname(target));
  return result;
}

export async function writeBytesAtomic(target: string, mode: number, bytes: Uint8Array): Promise<void> {
  await writeFileAtomic(target, mode, (handle) => writeAll(handle, bytes, 0));
}

/** Removes `*.tmp` debris of killed jobs (and the -wal/-shm of a temp database) anywhere under `dirPath`; returns how many. */
export async function removeTmpFiles(dirPath: string): Promise<number> {
  let entries;
  try {
    entries = await fs.readdir(dirPath, { withFileTypes: true, recursive: true });
  } catch (error) {
    if (isNotFound(error)) return 0;
    throw fileError(dirPath, error);
  }
  let removed = 0;
  for (const entry of entries) {
    if (entry.isFile() && TMP_NAME.test(entry.name)) {
      const tmpPath = path.join(entry.parentPath ?? entry.path, entry.name);
      await onFile(tmpPath, () => fs.rm(tmpPath, { force: true }));
      removed++;
    }
  }
  return removed;
}
