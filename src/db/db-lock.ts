/**
 * One walsync process at a time works on a database: `walsync run`, a
 * continuous `sync --interval`, or a one-shot (`sync --once`, `snapshot`,
 * `verify`, the library's `syncOnce` and `verify`). Two at once would race
 * their writes to the shadow and the replicas: two processes shipping the
 * same segment to a file replica write through one temp name, and either
 * one's debris clean-up removes the other's temp files. Overlapping cron
 * runs are the everyday way to get there.
 *
 * The lock is SQLite's exclusive lock on an empty database file in the
 * shadow directory, through the same better-sqlite3 as the live database.
 * The kernel drops it when its process ends, however it ends, so a crash
 * leaves no stale lock (a pid file's pid can belong to an unrelated process
 * by then), and SQLite also refuses a second holder inside one process.
 * Who holds it is written beside it, for the refusal's message.
 *
 * Nothing may open and close the lock file through fs: closing any
 * descriptor of a file drops every POSIX lock the process holds on it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { WalsyncError, isNotFound, messageOf } from '../errors.js';
import { replaceReportFile } from '../fsx/file-io.js';
import type { Logger } from '../log.js';
import { readShadowModes } from '../shadow/permissions.js';
import { prepareMetaDir } from '../shadow/meta-dir.js';

export const LOCK_FILE_NAME = 'lock';
export const HOLDER_FILE_NAME = 'lock-holder.json';

/**
 * `daemon`: a long-running process (`run`, `sync --interval`), which waits
 * for a one-shot to finish. `one-shot`: refused while anything holds the lock.
 * `one-shot-if-synced`: a one-shot that only reads the shadow (`verify`):
 * without a shadow directory there is nothing to lock, and none is made.
 */
export type LockRole = 'daemon' | 'one-shot' | 'one-shot-if-synced';

export interface DbLock {
  release(): Promise<void>;
}

interface Holder {
  readonly pid: number;
  /** What the holder is doing, in the user's words: `walsync run`, `sync --once`. */
  readonly what: string;
  readonly role: LockRole;
}

const WAIT_STEP_MS = 250;
const UNNAMED_HOLDER_TRIES = 5;
const NO_LOCK: DbLock = { release: () => Promise.resolve() };

export async function acquireDbLock(metaDir: string, dbPath: string, role: LockRole, what: string, log: Logger): Promise<DbLock> {
  const lockPath = path.join(metaDir, LOCK_FILE_NAME);
  if (role === 'one-shot-if-synced' && !(await isDirectory(metaDir))) return NO_LOCK;
  const modes = await readShadowModes(dbPath);
  await prepareMetaDir(metaDir, modes);
  let waitSaid = false;
  let unnamedTries = 0;
  for (;;) {
    const lock = tryLock(lockPath);
    if (lock) {
      try {
        // The lock file's mode follows the shadow's (group access); chmod opens no descriptor.
        await fs.chmod(lockPath, modes.fileMode).catch(() => undefined);
        await writeHolder(metaDir, { pid: process.pid, what, role }, modes.fileMode);
      } catch (error) {
        lock.close();
        throw error;
      }
      return {
        async release() {
          // Removed while the lock still holds, so a newer holder's file is never the one removed.
          await fs.rm(path.join(metaDir, HOLDER_FILE_NAME), { force: true }).catch(() => undefined);
          lock.close();
        },
      };
    }
    const holder = await readHolder(metaDir);
    if (!holder && unnamedTries++ < UNNAMED_HOLDER_TRIES) {
      // A holder names itself just after taking the lock: ask again before saying "a walsync process".
      await sleep(WAIT_STEP_MS / 5);
      continue;
    }
    if (role !== 'daemon' || holder?.role === 'daemon') throw refusal(dbPath, lockPath, holder);
    if (!waitSaid) {
      log.info('waiting for another walsync process to finish with this database', { db: dbPath, pid: holder?.pid, holder: holder?.what });
      waitSaid = true;
    }
    await sleep(WAIT_STEP_MS);
  }
}

/** An open connection holding the exclusive lock, or undefined when another holds it. */
function tryLock(lockPath: string): Database.Database | undefined {
  let connection: Database.Database;
  try {
    connection = new Database(lockPath, { timeout: 0 });
  } catch (error) {
    throw new WalsyncError('META_UNWRITABLE', `${lockPath}: cannot open the lock file: ${messageOf(error)}`, { cause: error });
  }
  try {
    // It holds a lock and reads nothing: no page cache (see live-db.ts).
    connection.pragma('cache_size = 0');
    connection.pragma('locking_mode = EXCLUSIVE');
    connection.exec('BEGIN EXCLUSIVE');
    return connection;
  } catch (error) {
    connection.close();
    if (error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY')) return undefined;
    throw new WalsyncError('IO', `${lockPath}: cannot take the lock: ${messageOf(error)}`, { cause: error });
  }
}

function refusal(dbPath: string, lockPath: string, holder: Holder | undefined): WalsyncError {
  if (holder?.role === 'daemon' && holder.pid === process.pid) {
    return new WalsyncError(
      'LOCKED',
      `${dbPath}: a walsync runner in this process (pid ${holder.pid}, the app's own: createRunner) already syncs this database (${lockPath}); stop it first, or let its jobs do this`,
    );
  }
  if (holder?.role === 'daemon') {
    return new WalsyncError(
      'LOCKED',
      `${dbPath}: another walsync ${holder.what} (pid ${holder.pid}) already syncs this database (${lockPath}); stop it first, or let its jobs do this (verify-interval for scheduled verifies)`,
    );
  }
  const who = holder ? `walsync ${holder.what} (pid ${holder.pid})` : 'walsync process';
  return new WalsyncError('LOCKED', `${dbPath}: another ${who} is working on this database (${lockPath}); run this again once it has finished`);
}

/** Not fsynced: it only names the holder in a refusal, and a crash ends the hold anyway. */
async function writeHolder(metaDir: string, holder: Holder, mode: number): Promise<void> {
  await replaceReportFile(path.join(metaDir, HOLDER_FILE_NAME), `${JSON.stringify(holder)}\n`, mode);
}

async function readHolder(metaDir: string): Promise<Holder | undefined> {
  try {
    const holder = JSON.parse(await fs.readFile(path.join(metaDir, HOLDER_FILE_NAME), 'utf8')) as Holder;
    return Number.isSafeInteger(holder.pid) && typeof holder.what === 'string' ? holder : undefined;
  } catch {
    return undefined;
  }
}

async function isDirectory(dirPath: string): Promise<boolean> {
  try {
    return (await fs.stat(dirPath)).isDirectory();
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}
