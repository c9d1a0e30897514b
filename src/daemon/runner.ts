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
  const listed = new Set(config.dbs.map((db) => db.path));
  const found: FollowedDatabases = {
    isRunning: (dbPath) => runs.has(dbPath),
    start: (db) => (listed.has(db.path) ? Promise.resolve() : startDiscovered(db, () => startDb(shared, db).then(add), log)),
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
