/**
 * Plain reads of the live database file, through one descriptor per file,
 * opened once and never closed. POSIX locks belong to the process, not to a
 * descriptor: closing any descriptor on the database file releases every
 * lock the process holds on it, those of walsync's own SQLite connections and
 * of an app that embeds walsync (sqlite.org/howtocorrupt.html §2.2).
 * Litestream keeps its descriptor open for the same reason.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { WalsyncError, messageOf, systemErrorCode } from '../errors.js';

const heldDescriptors = new Map<string, number>();
const read = promisify(fs.read);

function heldDescriptor(dbPath: string): number {
  let fd = heldDescriptors.get(dbPath);
  if (fd === undefined) {
    fd = fs.openSync(dbPath, 'r');
    heldDescriptors.set(dbPath, fd);
  }
  return fd;
}

export function databaseFileSize(dbPath: string): number {
  try {
    return fs.fstatSync(heldDescriptor(dbPath)).size;
  } catch (error) {
    throw failure(dbPath, error);
  }
}

/** Fills `into` from `position`; returns how many bytes the file had there (fewer only at its end). */
export async function readDatabaseFile(dbPath: string, into: Uint8Array, position: number): Promise<number> {
  try {
    const fd = heldDescriptor(dbPath);
    let done = 0;
    while (done < into.byteLength) {
      const { bytesRead } = await read(fd, into, done, into.byteLength - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  } catch (error) {
    throw failure(dbPath, error);
  }
}

function failure(dbPath: string, error: unknown): WalsyncError {
  return new WalsyncError('IO', `${dbPath}: cannot read the database file: ${systemErrorCode(error) ?? messageOf(error)}`, { cause: error });
}
