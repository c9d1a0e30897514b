/**
 * The job runner behind `walsync run`: the databases the config lists and
 * those its `dir:` entries hold (followed while running with `watch`), each
 * with its jobs (db-run.ts) on one scheduler for all of them (scheduler.ts),
 * health for /healthz and the heartbeat, and a stop that syncs every
 * replica one last time.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config, DbConfig } from '../config/config.js';
import { messageOf } from '../errors.js';
import type { JobRegistry } from '../job/registry.js';
import type { Logger } from '../log.js';
import type { DbRun, Shared } from './db-run.js';
import { startDb, stopDb } from './db-run.js';
import type { FollowedDatabases } from './dir-follow.js';
import { followDirEntry } from './dir-follow.js';
import { dbConfigFor, scanDirEntry } from './discovery.js';
import { databasesAllowed, openFileCount, openFileLimit } from './fd-budget.js';
import { HealthBook, startHeartbeat } from './health.js';
import type { Metrics } from './metrics.js';
import { Scheduler } from './scheduler.js';
import { WalChangeFeed } from './wal-watch.js';

export interface Runner {
  /** Stops scheduling, lets running jobs finish, syncs every replica one last time, and releases everything. */
  stop(): Promise<void>;
}

/** The runner as this process runs it, where /healthz and the metrics read its health. */
export interface LocalRunner extends Runner {
  /** Whether each replica keeps up. */
  readonly health: HealthBook;
  /**
   * Applies a reloaded config in place when only its `path:` entries
   * differ: an entry that is the same keeps its run (connections, position,
   * schedule, counters), a changed one is stopped after a final sync and
   * started again, a removed one stopped, a new one started. False, with
   * nothing changed, when anything else differs or a `dir:` entry is not
   * watched (the caller restarts the runner).
   */
  reload(next: Config): Promise<boolean>;
  /** How many databases it runs (a `dir:` entry's each count). */
  databaseCount(): number;
}

/** How often a replica's turning late (or back) is looked for, between the syncs that also look. */
const HEALTH_CHECK_MS = 1000;


export interface RunnerOptions {
  /** The job registry (src/job/registry.ts, loadJobRegistry) every job runs through. */
  readonly jobs: JobRegistry;
  readonly metrics?: Metrics;
  /**
   * Start a database that does not exist yet once its app has created it
   * (`run --exec`, where the app starts only after the runner), instead of refusing it.
   */
  readonly waitForMissing?: boolean;
}

/** How often a database that does not exist yet is looked for. */
const MISSING_DB_POLL_MS = 500;

export async function createRunner(config: Config, log: Logger, options: RunnerOptions): Promise<LocalRunner> {
  const { jobs, metrics } = options;
  const health = new HealthBook(config.health.maxLagMs, log);
  const shared: Shared = { jobs, log, metrics, health, scheduler: new Scheduler(config.maxConcurrentJobs), walChanges: new WalChangeFeed() };
  const runs = new Map<string, DbRun>();
  const add = (run: DbRun) => void runs.set(run.ctx.db.dbPath, run);
  const waiting: (() => Promise<void>)[] = [];
  let listed = new Set(config.dbs.map((db) => db.path));
  const watchedDirs = config.dirs.filter((entry) => entry.watch).map((entry) => entry.dir);
  const isFollowed = (dbPath: string) => watchedDirs.some((dir) => dbPath.startsWith(dir + path.sep));
  let current = config;
  const found: FollowedDatabases = {
    isRunning: (dbPath) => runs.has(dbPath),
    start: (db) => (listed.has(db.path) ? Promise.resolve() : startDiscovered(db, () => startDb(shared, db, { followed: isFollowed(db.path) }).then(add), log)),
    letGo: async (dbPath, reason) => {
      const run = runs.get(dbPath);
      if (!run) return;
      runs.delete(dbPath);
      health.removeDatabase(dbPath);
      await stopDb(run, log, false);
      // Made again at the path, the tenant reports the window it was gone.
      if (!(await hasDatabase(dbPath))) health.databaseMissing(dbPath, Date.now(), false);
      log.info('database let go; its replicas stay as they are', { db: dbPath, reason });
    },
    runningUnder: (dir) => [...runs.keys()].filter((dbPath) => dbPath.startsWith(dir + path.sep)),
  };
  const unfollow: (() => Promise<void>)[] = [];
  const openBefore = await openFileCount();
  try {
    for (const db of config.dbs) {
      if (options.waitForMissing && !(await hasDatabase(db.path))) waiting.push(waitForDb(db, log, (ready) => startDb(shared, ready).then(add)));
      else add(await startDb(shared, db));
    }
    for (const entry of config.dirs) {
      const scan = await scanDirEntry(entry, entry.dir, (file) => found.isRunning(file));
      for (const skip of scan.skipped) log.warn('database skipped', { db: skip.path, entry: entry.key, reason: skip.reason });
      for (const dbPath of scan.found) await found.start(dbConfigFor(entry, dbPath));
      if (entry.watch) unfollow.push(followDirEntry(entry, scan, found, log));
    }
  } catch (error) {
    await Promise.allSettled([...unfollow.map((stopFollowing) => stopFollowing()), ...waiting.map((stopWaiting) => stopWaiting()), ...[...runs.values()].map((run) => stopDb(run, log, false))]);
    throw error;
  }
  await sayFileBudget(openBefore, runs.size, log);
  metrics?.reportHealth(() => health.report());
  const healthTimer = setInterval(() => health.logTurns(), HEALTH_CHECK_MS);
  healthTimer.unref();
  const { heartbeatUrl, heartbeatIntervalMs } = config.health;
  const stopHeartbeat = heartbeatUrl ? startHeartbeat(heartbeatUrl, heartbeatIntervalMs, () => health.report().healthy, log) : () => undefined;
  let stopping: Promise<void> | undefined;
  return {
    health,
    databaseCount: () => runs.size,
    async reload(next) {
      if (!sameOutsideDbs(current, next)) return false;
      const before = new Map(current.dbs.map((db) => [db.path, db]));
      const after = new Map(next.dbs.map((db) => [db.path, db]));
      const kept = (db: DbConfig) => before.has(db.path) && sameEntry(before.get(db.path)!, db);
      for (const db of current.dbs) {
        const run = runs.get(db.path);
        if (!run || (after.has(db.path) && kept(after.get(db.path)!))) continue;
        runs.delete(db.path);
        health.removeDatabase(db.path);
        await stopDb(run, log, true);
      }
      current = next;
      listed = new Set(next.dbs.map((db) => db.path));
      for (const db of next.dbs) {
        if (runs.has(db.path)) continue;
        await startDb(shared, db).then(add, (error) => log.error('database could not be started', { db: db.path, error: messageOf(error) }));
      }
      return true;
    },
    stop() {
      clearInterval(healthTimer);
      stopHeartbeat();
      stopping ??= Promise.all([...unfollow, ...waiting].map((stopWaiting) => stopWaiting()))
        .then(() => Promise.all([...runs.values()].map((run) => stopDb(run, log, true))))
        .then(() => undefined);
      return stopping;
    },
  };
}

/**
 * Everything but the `path:` entries is the same, and every `dir:` entry is
 * watched (one that is not is scanned again by a reload, which restarting
 * the runner does): a reload can keep the runner.
 */
function sameOutsideDbs(a: Config, b: Config): boolean {
  if (!b.dirs.every((entry) => entry.watch)) return false;
  const outside = (config: Config) => JSON.stringify({ ...config, dbs: undefined, warnings: undefined });
  return outside(a) === outside(b);
}

function sameEntry(a: DbConfig, b: DbConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** One line at start: how many databases the open-file limit allows, at what those started cost. */
async function sayFileBudget(openBefore: number | undefined, started: number, log: Logger): Promise<void> {
  const [limit, openAfter] = await Promise.all([openFileLimit(), openFileCount()]);
  if (limit === undefined || openBefore === undefined || openAfter === undefined) return;
  const budget = databasesAllowed(limit, openBefore, openAfter, started);
  if (!budget) return;
  const fields = { limit, open: openAfter, perDatabase: Number(budget.perDatabase.toFixed(1)), databasesAllowed: budget.allowed };
  if (budget.allowed < started * 1.25) log.warn('open-file limit is close: raise it (ulimit -n, LimitNOFILE=) before adding databases', fields);
  else log.info('open-file limit', fields);
}

/** A database a directory entry found that cannot be backed up (a read-only file in rollback mode, say) is skipped, not the run's failure. */
async function startDiscovered(db: DbConfig, start: () => Promise<void>, log: Logger): Promise<void> {
  try {
    await start();
  } catch (error) {
    log.warn('database skipped', { db: db.path, reason: messageOf(error) });
  }
}

/** A database file with something in it: an app that just created it has at least written its header. */
async function hasDatabase(dbPath: string): Promise<boolean> {
  return ((await fs.stat(dbPath).catch(() => undefined))?.size ?? 0) > 0;
}

/** Polls until the database exists, then starts it; the function returned stops waiting (and waits for a start under way). */
function waitForDb(db: DbConfig, log: Logger, start: (db: DbConfig) => Promise<void>): () => Promise<void> {
  log.info('database does not exist yet; waiting for the app to create it', { db: db.path });
  let starting: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (starting) return;
    starting = hasDatabase(db.path).then(async (exists) => {
      if (!exists) {
        starting = undefined;
        return;
      }
      clearInterval(timer);
      await start(db).catch((error) => log.error('database could not be started', { db: db.path, error: messageOf(error) }));
    });
  }, MISSING_DB_POLL_MS);
  return async () => {
    clearInterval(timer);
    await starting;
  };
}
