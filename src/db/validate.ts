/**
 * Refuses what is not a database file before any connection is opened, so
 * that walsync creates nothing next to a wrong path. Only stat is used here:
 * opening and closing the database file with plain fs calls would drop every
 * POSIX lock this process holds on it (an app embedding walsync holds some);
 * whether the file is SQLite is left to SQLite itself.
 */
import fs from 'node:fs/promises';
import { WalsyncError, isNotFound, messageOf, systemErrorCode } from '../errors.js';

export async function assertDatabaseFile(dbPath: string): Promise<void> {
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
}
