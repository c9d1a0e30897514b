/**
 * Two copies of the SQLite library in one process do not see each other's
 * POSIX locks: closing one copy's descriptor drops the other's locks
 * (sqlite.org "How To Corrupt", §2.2.1), and the pin stops protecting the WAL.
 * An app that embeds walsync must share one better-sqlite3 with it.
 */
import Database from 'better-sqlite3';
import { WalsyncError } from '../errors.js';

const ADDON = /better_sqlite3\.node$/;

/** Paths of every better-sqlite3 native addon loaded in this process. */
export function loadedSqliteAddons(): string[] {
  const report = process.report.getReport() as unknown as { sharedObjects?: string[] };
  return [...new Set((report.sharedObjects ?? []).filter((file) => ADDON.test(file)))];
}

export function assertOneSqliteCopy(): void {
  // better-sqlite3 loads its native addon with the first connection: make sure walsync's copy is in.
  new Database(':memory:').close();
  const addons = loadedSqliteAddons();
  if (addons.length > 1) {
    throw new WalsyncError(
      'SQLITE_COPIES',
      `two copies of better-sqlite3 are loaded (${addons.join(', ')}); their SQLite locks would not see each other. ` +
        'Install walsync so it shares the app\'s better-sqlite3 (npm dedupe), then start again',
    );
  }
}
