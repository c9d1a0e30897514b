/**
 * The databases of the config's `dir:` entries: every file under `dir`
 * (and, with `recursive`, its subdirectories) whose name matches `pattern`
 * and that starts with SQLite's header. What cannot be a database (another
 * kind of file, an empty one, a directory walsync cannot read) is skipped
 * with its reason, never an error for the run. Shadow directories and
 * symbolic links are not followed, as Litestream does not follow them.
 */
import fs from 'node:fs/promises';
import path, { posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import picomatch from 'picomatch';
import type { Config, DbConfig, DirConfig, ReplicaConfig } from '../config/config.js';
import { messageOf, systemErrorCode } from '../errors.js';
import { isMetaDirName } from '../layout.js';
import type { Logger } from '../log.js';
import { formatS3Url } from '../replica/s3/settings.js';
import { formatSftpUrl } from '../replica/sftp/settings.js';

const SQLITE_HEADER = Buffer.from('SQLite format 3\0', 'latin1');

export interface Skipped {
  readonly path: string;
  readonly reason: string;
}

export interface DirScan {
  readonly found: readonly string[];
  readonly skipped: readonly Skipped[];
  /** The directories read, `from` first. */
  readonly dirs: readonly string[];
}

/** Whether a file name is one the entry's pattern takes, never SQLite's own files beside a database. */
export function matcherFor(entry: DirConfig): (name: string) => boolean {
  const matches = picomatch(entry.pattern, { dot: true });
  return (name) => !isSqliteSideFile(name) && matches(name);
}

/** SQLite's own files beside a database: its WAL, shared memory and rollback journal. */
export function isSqliteSideFile(name: string): boolean {
  return /-(wal|shm|journal)$/.test(name);
}

/** Scans the entry's directory, or one of its subdirectories (`from`). */
/**
 * `isRunning`: databases this process already has open, whose header is not
 * read again: opening and closing a database file through fs would drop
 * every POSIX lock the process holds on it, the pin's among them, and then
 * the app's last connection to close would checkpoint and delete the WAL
 * (src/db/validate.ts).
 */
export async function scanDirEntry(entry: DirConfig, from: string = entry.dir, isRunning: (file: string) => boolean = () => false): Promise<DirScan> {
  const matches = matcherFor(entry);
  const found: string[] = [];
  const skipped: Skipped[] = [];
  const dirs: string[] = [];
  const pending = [from];
  for (let dir = pending.shift(); dir !== undefined; dir = pending.shift()) {
    let names;
    try {
      names = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      skipped.push({ path: dir, reason: `cannot read the directory (${systemErrorCode(error) ?? messageOf(error)})` });
      continue;
    }
    dirs.push(dir);
    for (const dirent of names.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const full = path.join(dir, dirent.name);
      if (dirent.isDirectory()) {
        if (entry.recursive && !isMetaDirName(dirent.name)) pending.push(full);
      } else if (dirent.isFile() && matches(dirent.name)) {
        const problem = isRunning(full) ? undefined : await whyNotADatabase(full);
        if (problem) skipped.push({ path: full, reason: problem });
        else found.push(full);
      }
    }
  }
  return { found, skipped, dirs };
}

/** Undefined for a file that starts with SQLite's header; else why it is not a database. */
export async function whyNotADatabase(file: string): Promise<string | undefined> {
  let handle;
  try {
    handle = await fs.open(file, 'r');
    const head = Buffer.alloc(SQLITE_HEADER.byteLength);
    const { bytesRead } = await handle.read(head, 0, head.byteLength, 0);
    if (bytesRead === 0) return 'empty: not a SQLite database (yet)';
    return head.subarray(0, bytesRead).equals(SQLITE_HEADER) ? undefined : 'not a SQLite database (no SQLite header)';
  } catch (error) {
    return `cannot be read (${systemErrorCode(error) ?? messageOf(error)})`;
  } finally {
    await handle?.close();
  }
}

/** A database found under a directory entry, as if the config had listed it: each replica location gains its path relative to `dir`. */
export function dbConfigFor(entry: DirConfig, dbPath: string): DbConfig {
  const relative = path.relative(entry.dir, dbPath);
  return { ...entry.template, path: dbPath, restoreIfDbNotExists: false, replicas: entry.template.replicas.map((replica) => replicaFor(replica, relative)) };
}

function replicaFor(replica: ReplicaConfig, relative: string): ReplicaConfig {
  if (typeof replica.location !== 'string') {
    const remote = relative.split(path.sep).join('/');
    if ('host' in replica.location) {
      const location = { ...replica.location, path: replica.location.path ? posix.join(replica.location.path, remote) : remote };
      return { ...replica, location, url: formatSftpUrl(location) };
    }
    const location = { ...replica.location, path: [replica.location.path, remote].filter(Boolean).join('/') };
    return { ...replica, location, url: formatS3Url(location) };
  }
  const base = replica.location.startsWith('file://') ? fileURLToPath(replica.location) : replica.location;
  const joined = path.join(base, relative);
  return { ...replica, location: joined, url: joined };
}

/**
 * The config of the database at `dbPath` (absolute), whether it exists or
 * not: listed by path, else under a directory entry whose pattern takes its
 * name (a restore recreates a tenant's database that is gone).
 */
export function dbConfigNamed(config: Config, dbPath: string): DbConfig | undefined {
  const listed = config.dbs.find((db) => db.path === dbPath);
  if (listed) return listed;
  for (const entry of config.dirs) {
    const relative = path.relative(entry.dir, dbPath);
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) continue;
    if (!entry.recursive && relative.includes(path.sep)) continue;
    if (matcherFor(entry)(path.basename(dbPath))) return dbConfigFor(entry, dbPath);
  }
  return undefined;
}

/**
 * Every database the config names: those listed by path, then those its
 * directory entries hold now, each skipped one logged in one line. A file
 * a directory entry finds that is also listed by path is the listed one.
 */
export async function discoverDatabases(config: Config, log: Logger): Promise<DbConfig[]> {
  const dbs = [...config.dbs];
  const listed = new Set(config.dbs.map((db) => db.path));
  for (const entry of config.dirs) {
    const scan = await scanDirEntry(entry);
    for (const skip of scan.skipped) log.warn('database skipped', { db: skip.path, entry: entry.key, reason: skip.reason });
    for (const dbPath of scan.found) if (!listed.has(dbPath)) dbs.push(dbConfigFor(entry, dbPath));
  }
  return dbs;
}
