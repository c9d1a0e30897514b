/**
 * Following a `dir:` entry with `watch: true`: a database created under the
 * directory is started within moments, one deleted or renamed away is let
 * go of (its replica stays as it is).
 *
 * The kernel says when to look: fs.watch (inotify) on each directory of the
 * entry, not recursive (Node 20 walks and watches each subdirectory in
 * JavaScript for a recursive watch on Linux anyway, and reports no more).
 * A maintained watcher library such as chokidar keeps a stat of every file
 * it sees, which at thousands of databases (and their -wal and -shm files)
 * costs memory for nothing walsync needs: a name that changed is enough,
 * the header check decides. A slow full rescan catches what the kernel does
 * not report (network filesystems, an overflowed event queue).
 */
import type { FSWatcher } from 'node:fs';
import { watch } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DbConfig, DirConfig } from '../config/config.js';
import { messageOf } from '../errors.js';
import { isMetaDirName } from '../layout.js';
import type { Logger } from '../log.js';
import type { DirScan } from './discovery.js';
import { dbConfigFor, isSqliteSideFile, matcherFor, scanDirEntry, whyNotADatabase } from './discovery.js';

/** What the runner does for a followed entry. */
export interface FollowedDatabases {
  isRunning(dbPath: string): boolean;
  /** Starts a database, logging why when it cannot. */
  start(db: DbConfig): Promise<void>;
  letGo(dbPath: string, reason: string): Promise<void>;
  /** The databases running under a directory. */
  runningUnder(dir: string): string[];
}

/** Events about one name come in bursts (create, write the header, open the WAL): looked at once they settle. */
const SETTLE_MS = 300;
const RESCAN_MS = 60_000;

/** Starts following; `scan` is the entry's scan at start, whose databases the runner started. The function returned stops. */
export function followDirEntry(entry: DirConfig, scan: DirScan, dbs: FollowedDatabases, log: Logger): () => Promise<void> {
  const matches = matcherFor(entry);
  const watchers = new Map<string, FSWatcher>();
  const settling = new Map<string, NodeJS.Timeout>();
  const skipReasons = new Map<string, string>(scan.skipped.map((skip) => [skip.path, skip.reason]));
  let stopped = false;
  let work = Promise.resolve();

  const later = (step: () => Promise<void>) => {
    work = work.then(() => (stopped ? undefined : step())).catch((error) => log.error('directory watch failed', { dir: entry.dir, error: messageOf(error) }));
  };
  const lookAtSoon = (name: string) => {
    clearTimeout(settling.get(name));
    settling.set(
      name,
      setTimeout(() => {
        settling.delete(name);
        later(() => lookAt(name));
      }, SETTLE_MS),
    );
  };
  const watchDir = (dir: string) => {
    if (watchers.has(dir)) return;
    try {
      const watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null) lookAtSoon(dir);
        else if (!isMetaDirName(name) && !isSqliteSideFile(name)) lookAtSoon(path.join(dir, name));
      });
      watcher.on('error', () => unwatch(dir));
      watchers.set(dir, watcher);
    } catch (error) {
      skip(dir, `cannot be watched (${messageOf(error)})`);
    }
  };
  const unwatch = (dir: string) => {
    for (const [watched, watcher] of watchers) {
      if (watched === dir || watched.startsWith(dir + path.sep)) {
        watcher.close();
        watchers.delete(watched);
      }
    }
  };
  const skip = (file: string, reason: string) => {
    if (skipReasons.get(file) === reason) return;
    skipReasons.set(file, reason);
    log.warn('database skipped', { db: file, entry: entry.key, reason });
  };
  const startIfDatabase = async (file: string) => {
    if (dbs.isRunning(file)) return;
    const problem = await whyNotADatabase(file);
    if (problem) return skip(file, problem);
    skipReasons.delete(file);
    await dbs.start(dbConfigFor(entry, file));
  };
  /** Starts what a (sub)directory holds now and lets go of what it no longer does. */
  const rescan = async (dir: string) => {
    const found = await scanDirEntry(entry, dir, (file) => dbs.isRunning(file));
    for (const visited of found.dirs) watchDir(visited);
    for (const { path: file, reason } of found.skipped) skip(file, reason);
    const present = new Set(found.found);
    for (const running of dbs.runningUnder(dir)) if (!present.has(running)) await dbs.letGo(running, 'deleted or renamed away');
    for (const file of found.found) await startIfDatabase(file);
  };
  const lookAt = async (name: string) => {
    const stat = await fs.lstat(name).catch(() => undefined);
    if (!stat) {
      unwatch(name);
      for (const running of [name, ...dbs.runningUnder(name)]) if (dbs.isRunning(running)) await dbs.letGo(running, 'deleted or renamed away');
      return;
    }
    if (stat.isDirectory()) {
      if (name === entry.dir || (entry.recursive && !isMetaDirName(path.basename(name)))) await rescan(name);
    } else if (stat.isFile() && matches(path.basename(name))) {
      await startIfDatabase(name);
    }
  };

  for (const dir of scan.dirs) watchDir(dir);
  const rescanTimer = setInterval(() => later(() => rescan(entry.dir)), RESCAN_MS);
  rescanTimer.unref();
  return async () => {
    stopped = true;
    clearInterval(rescanTimer);
    for (const timer of settling.values()) clearTimeout(timer);
    unwatch(entry.dir);
    await work;
  };
}
