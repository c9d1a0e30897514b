/**
 * Refuses what is not a SQLite database before any connection is opened, so
 * that walsync creates nothing next to a wrong path. Plain fs access to the
 * database file is safe only here, before this process holds SQLite locks on
 * it (closing any descriptor drops all of the process's POSIX locks).
 */
import fs from 'node:fs/promises';
import { WalsyncError, isNotFound, messageOf, systemErrorCode } from '../errors.js';

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const SQLITE_HEADER_SIZE = 100;

export async function assertSqliteFile(dbPath: string): Promise<void> {
  let stats;
  try {
    stats = await fs.stat(dbPath);
  } catch (error) {
    if (isNotFound(error)) throw new WalsyncError('DB_NOT_FOUND', `${dbPath}: no such database file`);
    throw new WalsyncError('DB_INVALID', `${dbPath}: cannot read: ${systemErrorCode(error) ?? messageOf(error)}`, {
      cause: error,
    });
  }
  if (stats.isDirectory()) throw new WalsyncError('DB_INVALID', `${dbPath}: is a directory, not a SQLite database`);
  if (!stats.isFile()) throw new WalsyncError('DB_INVALID', `${dbPath}: is not a regular file`);
  // SQLite treats an empty file as an empty database; so do we.
  if (stats.size === 0) return;
  const head = Buffer.alloc(SQLITE_HEADER_SIZE);
  let handle;
  try {
    handle = await fs.open(dbPath, 'r');
    const { bytesRead } = await handle.read(head, 0, SQLITE_HEADER_SIZE, 0);
    if (bytesRead < SQLITE_HEADER_SIZE || !head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) {
      throw new WalsyncError('DB_INVALID', `${dbPath}: not a SQLite database (bad file header)`);
    }
  } catch (error) {
    if (error instanceof WalsyncError) throw error;
    throw new WalsyncError('DB_INVALID', `${dbPath}: cannot read: ${systemErrorCode(error) ?? messageOf(error)}`, {
      cause: error,
    });
  } finally {
    await handle?.close();
  }
}
