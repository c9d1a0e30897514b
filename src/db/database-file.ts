/**
 * Plain reads of the live database file, through one descriptor per file
 * (device and inode, not path), opened once. POSIX locks belong to the
 * process, not to a descriptor: closing any descriptor on the database file
 * releases every lock the process holds on it, those of walsync's own SQLite
 * connections and of an app that embeds walsync (sqlite.org/howtocorrupt.html
 * §2.2). Litestream keeps its descriptor open for the same reason. Keyed by
 * file, a database replaced at its path is never read through the old file's
 * descriptor; that one is closed only once walsync's connections to the old
 * file are (releaseDatabaseFile).
 */
import fs from 'node:fs';
import { promisify } from 'node:util';
import { WalsyncError, messageOf, systemErrorCode } from '../errors.js';
import type { FileIdentity } from './file-identity.js';
import { describeChange, fileKey, identityOf, sameFile } from './file-identity.js';

/** The file a read must come from: the one walsync's connections have open. */
export interface DatabaseFile {
  readonly dbPath: string;
  readonly identity: FileIdentity;
}

/** By file: the first descriptor serves reads; a second one opened by path meanwhile is kept too, never closed alone. */
const heldDescriptors = new Map<string, number[]>();
const read = promisify(fs.read);

function heldDescriptor(file: DatabaseFile): number {
  const key = fileKey(file.identity);
  const held = heldDescriptors.get(key);
  if (held !== undefined) return held[0]!;
  const fd = fs.openSync(file.dbPath, 'r');
  const opened = identityOf(fs.fstatSync(fd));
  // Whatever file this is, closing the descriptor could drop locks on it: it is kept as that file's.
  const openedKey = fileKey(opened);
  heldDescriptors.set(openedKey, [...(heldDescriptors.get(openedKey) ?? []), fd]);
  if (!sameFile(opened, file.identity) || openedKey !== key) {
    throw new WalsyncError('DB_REPLACED', `${file.dbPath}: the database file was replaced at its path (${describeChange(file.identity, opened)})`);
  }
  return fd;
}

/**
 * Closes the descriptor held for a file walsync no longer has any
 * connection to (a database replaced at its path): no lock of this process
 * on that file is left to drop.
 */
export function releaseDatabaseFile(identity: FileIdentity): void {
  const key = fileKey(identity);
  const fds = heldDescriptors.get(key) ?? [];
  heldDescriptors.delete(key);
  for (const fd of fds) fs.closeSync(fd);
}

export function databaseFileSize(file: DatabaseFile): number {
  try {
    return fs.fstatSync(heldDescriptor(file)).size;
  } catch (error) {
    throw failure(file.dbPath, error);
  }
}

/** Fills `into` from `position`; returns how many bytes the file had there (fewer only at its end). */
export async function readDatabaseFile(file: DatabaseFile, into: Uint8Array, position: number): Promise<number> {
  try {
    const fd = heldDescriptor(file);
    let done = 0;
    while (done < into.byteLength) {
      const { bytesRead } = await read(fd, into, done, into.byteLength - done, position + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done;
  } catch (error) {
    throw failure(file.dbPath, error);
  }
}

function failure(dbPath: string, error: unknown): WalsyncError {
  if (error instanceof WalsyncError) return error;
  return new WalsyncError('IO', `${dbPath}: cannot read the database file: ${systemErrorCode(error) ?? messageOf(error)}`, { cause: error });
}
