/**
 * The job runner behind `walsync run`: per database, one held-open LiveDb
 * (its pin keeps the app from restarting the WAL between jobs) and its jobs
 * (sync, snapshot, retention, verify per replica) on one scheduler for all
 * databases (scheduler.ts), each run through the registry. Jobs of one
 * database run one at a time; an overrun is skipped and logged, never
 * stacked; a failing job is logged, counted and retried with backoff on
 * later ticks.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config, DbConfig, Schedule } from '../config/config.js';
import { DEFAULT_SYNC_SCHEDULE } from '../config/defaults.js';
import type { FollowedDatabases } from './dir-follow.js';
import { followDirEntry } from './dir-follow.js';
import { dbConfigFor, scanDirEntry } from './discovery.js';
import { Scheduler } from './scheduler.js';
import type { TaskHandle } from './scheduler.js';
import { WalsyncError, messageOf } from '../errors.js';
import { HealthBook, startHeartbeat } from './health.js';
import type { JobContext } from '../job/context.js';
import { openJobContext } from '../job/context.js';
import type { JobName, JobRegistry, JobResults, Verification } from '../job/registry.js';
import type { Logger } from '../log.js';
import type { Metrics } from './metrics.js';
import type { ReplicaClient } from '../replica/client.js';
import { JobStatusBook } from './status.js';

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

const MAX_BACKOFF_MS = 60_000;

/** What every database of one runner shares. */
interface Shared {
  readonly jobs: JobRegistry;
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly health: HealthBook;
  readonly scheduler: Scheduler;
}

interface DbRun {
  readonly jobs: JobRegistry;
  readonly scheduler: Scheduler;
  readonly config: DbConfig;
  readonly ctx: JobContext;
  readonly status: JobStatusBook;
  readonly tasks: TaskHandle[];
  readonly metrics?: Metrics;
  readonly health: HealthBook;
  /** Jobs of one database run one after another. */
  queue: Promise<unknown>;
}

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
  const shared: Shared = { jobs, log, metrics, health, scheduler: new Scheduler(config.maxConcurrentJobs) };
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
      log.info('database let go; its replicas stay as they are', { db: dbPath, reason });
    },
    runningUnder: (dir) => [...runs.keys()].filter((dbPath) => dbPath.startsWith(dir + path.sep)),
  };
  const unfollow: (() => Promise<void>)[] = [];
  try {
    for (const db of config.dbs) {
      if (options.waitForMissing && !(await hasDatabase(db.path))) waiting.push(waitForDb(db, log, (ready) => startDb(shared, ready).then(add)));
      else add(await startDb(shared, db));
    }
    for (const entry of config.dirs) {
      const scan = await scanDirEntry(entry);
      for (const skip of scan.skipped) log.warn('database skipped', { db: skip.path, entry: entry.key, reason: skip.reason });
      for (const dbPath of scan.found) await found.start(dbConfigFor(entry, dbPath));
      if (entry.watch) unfollow.push(followDirEntry(entry, scan, found, log));
    }
  } catch (error) {
    await Promise.allSettled([...unfollow.map((stopFollowing) => stopFollowing()), ...waiting.map((stopWaiting) => stopWaiting()), ...[...runs.values()].map((run) => stopDb(run, log, false))]);
    throw error;
  }
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

async function startDb(shared: Shared, db: DbConfig): Promise<DbRun> {
  const { jobs, log, metrics, health, scheduler } = shared;
  const ctx = await openJobContext(db.path, {
    metaDir: db.metaPath,
    policy: db.checkpoint,
    busyTimeoutMs: db.busyTimeoutMs,
    log,
    switchToWal: true,
    replicaUrls: db.replicas.map((replica) => replica.location),
    lock: { role: 'daemon', what: 'run' },
  });
  const run: DbRun = { jobs, config: db, ctx, status: new JobStatusBook(ctx.metaDir, ctx.db.dbPath, log), tasks: [], queue: Promise.resolve(), metrics, health, scheduler };
  const replicas = db.replicas.length > 0 ? db.replicas : [undefined];
  replicas.forEach((replica, i) => {
    const only = replica ? { ...ctx, replicas: [{ ...ctx.replicas[i]!, retentionMs: replica.retentionMs }] } : ctx;
    const label = replica?.name ?? 'shadow';
    health.addReplica(ctx.db.dbPath, label, () => ctx.state.shadowByteCount ?? 0);
    const client = replica ? ctx.replicas[i]!.client : undefined;
    schedule(run, log, 'sync', label, replica?.syncInterval ?? DEFAULT_SYNC_SCHEDULE, () => jobs.sync.run(only), client);
    if (!replica) return;
    schedule(run, log, 'snapshot', label, replica.snapshotInterval, () => jobs.snapshot.run(only), client);
    schedule(run, log, 'retention', label, replica.retentionCheckInterval, () => jobs.retention.run(only), client);
    if (replica.verifyInterval) schedule(run, log, 'verify', label, replica.verifyInterval, () => jobs.verify.run(only).then((result) => consistentOrThrow(ctx.db.dbPath, result)), client);
  });
  log.info('runner started', { db: ctx.db.dbPath, jobs: run.tasks.length });
  return run;
}

/** A scheduled verify that finds an inconsistency is a failed job: logged, counted, and late on /healthz's status. */
function consistentOrThrow(dbPath: string, result: Verification): Verification {
  if (result.consistent) return result;
  const problems = [
    ...result.replicas.filter((r) => r.difference !== undefined).map((r) => `${r.replica}: restored copy differs from ${dbPath}: ${r.difference}`),
    ...result.shadow.problems.map((p) => `${p.file}${p.offset === undefined ? '' : ` at offset ${p.offset}`}: ${p.message}`),
  ];
  throw new WalsyncError('VERIFY_MISMATCH', problems.join('; '));
}

function schedule<Name extends JobName>(
  run: DbRun,
  log: Logger,
  job: Name,
  replica: string,
  when: Schedule,
  work: () => Promise<JobResults[Name]>,
  client?: ReplicaClient,
): void {
  const name = `${job}:${replica}`;
  let failures = 0;
  let retryAt = 0;
  const fields = { db: run.ctx.db.dbPath, job, replica };
  const handle = run.scheduler.add({
    lane: run.ctx.db.dbPath,
    schedule: when,
    onOverrun: () => log.warn('job still running; tick skipped', fields),
    run: async () => {
      if (Date.now() < retryAt) return;
      const started = Date.now();
      const task = run.queue.then(work);
      run.queue = task.catch(() => undefined);
      try {
        const result = await task;
        failures = 0;
        if (job === 'sync') run.health.recordSync(run.ctx.db.dbPath, replica, { ok: true });
        run.metrics?.observeJob(run.ctx.db.dbPath, job, replica, true);
        if (job === 'sync') await run.metrics?.observeSync(run.ctx.db.dbPath, result as JobResults['sync'], (Date.now() - started) / 1000);
        run.status.record(name, { ok: true, at: new Date(), durationMs: Date.now() - started, nextRun: handle.nextRun() });
        const summary = summarize(result);
        // A sync that found nothing new every second is not an event worth a line at info.
        const level = job === 'sync' && !summary?.bytes ? 'debug' : 'info';
        log[level]('job done', { ...fields, ms: Date.now() - started, generation: run.ctx.state.shadow?.cursor.generationId, ...summary });
      } catch (error) {
        failures++;
        if (job === 'sync') run.health.recordSync(run.ctx.db.dbPath, replica, { ok: false, error });
        run.metrics?.observeJob(run.ctx.db.dbPath, job, replica, false);
        retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1));
        run.status.record(name, { ok: false, at: new Date(), durationMs: Date.now() - started, error: messageOf(error), nextRun: handle.nextRun() });
        log.error('job failed', { ...fields, failures, retryInMs: retryAt - Date.now(), code: error instanceof WalsyncError ? error.code : 'BUG', error: messageOf(error) });
      }
      if (client) recordRequests(run, replica, client);
    },
  });
  run.tasks.push(handle);
}

function recordRequests(run: DbRun, replica: string, client: ReplicaClient): void {
  const counts = client.requests.snapshot();
  run.status.recordRequests(replica, counts);
  run.metrics?.observeRequests(run.ctx.db.dbPath, replica, counts);
}

function summarize(result: unknown): { frames: number; bytes: number } | undefined {
  if (result && typeof result === 'object' && 'frameCount' in result) {
    const r = result as { frameCount: number; byteCount: number };
    return { frames: r.frameCount, bytes: r.byteCount };
  }
  return undefined;
}

async function stopDb(run: DbRun, log: Logger, finalSync: boolean): Promise<void> {
  await Promise.all(run.tasks.map((task) => task.remove()));
  await run.queue;
  try {
    if (finalSync) {
      const result = await run.jobs.sync.run(run.ctx);
      log.info('final sync', { db: run.ctx.db.dbPath, generation: result.generationId, frames: result.frameCount, replicas: result.replicas.length });
    }
  } catch (error) {
    log.error('final sync failed', { db: run.ctx.db.dbPath, error: messageOf(error) });
  } finally {
    await run.status.flush();
    await run.ctx.close();
  }
}
