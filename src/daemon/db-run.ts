/**
 * One database in `walsync run`: its job context (the held-open LiveDb, whose
 * pin keeps the app from restarting the WAL between jobs), its jobs on the
 * runner's one scheduler, each run through the registry, and its stop.
 * A sync tick runs only when the kernel reported a change to the database
 * or its WAL (or for the reasons syncSleepUntil lists); a failing job is logged,
 * counted and retried with backoff on later ticks. A database whose file is
 * missing is one ERROR line and /healthz's `database missing`, and its jobs
 * go on trying on every tick, without backoff, until a file is at the path.
 */
import type { DbConfig, Schedule } from '../config/config.js';
import { DEFAULT_SYNC_SCHEDULE } from '../config/defaults.js';
import { WalsyncError, codeOf, messageOf } from '../errors.js';
import { Cron } from 'croner';
import type { JobContext, ReplicaTarget } from '../job/context.js';
import { openJobContext } from '../job/context.js';
import type { JobName, JobRegistry, JobResults, Verification } from '../job/registry.js';
import type { Logger } from '../log.js';
import type { ReplicaClient } from '../replica/client.js';
import { nothingCommittedSince, quietSyncDueAt } from '../shadow/quiet.js';
import type { HealthBook } from './health.js';
import type { Metrics } from './metrics.js';
import type { Scheduler, TaskHandle } from './scheduler.js';
import { JobStatusBook } from './status.js';
import type { WalChangeFeed } from './wal-watch.js';

/** What every database of one runner shares. */
export interface Shared {
  readonly jobs: JobRegistry;
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly health: HealthBook;
  readonly scheduler: Scheduler;
  readonly walChanges: WalChangeFeed;
}

export interface DbRun {
  readonly shared: Shared;
  readonly config: DbConfig;
  readonly ctx: JobContext;
  readonly status: JobStatusBook;
  readonly tasks: TaskHandle[];
  /** The sync tasks, woken by a change the kernel reports. */
  readonly syncTasks: TaskHandle[];
  /** Jobs of one database run one after another. */
  queue: Promise<unknown>;
  /** Counts the kernel's reports of a change to the database or its WAL. */
  walChangeCount: number;
  /** Whether the kernel reports them at all; if not, the database syncs on every tick. */
  walWatched: boolean;
  unwatchWal: () => void;
  /** Since when the database file is missing, as a job last found it. */
  missingSince?: number;
  /** A database a watched `dir:` entry found: one that goes missing is let go of, not an alarm. */
  readonly followed: boolean;
}

const MAX_BACKOFF_MS = 60_000;

export async function startDb(shared: Shared, db: DbConfig, options: { followed?: boolean } = {}): Promise<DbRun> {
  const { jobs, log, health, walChanges } = shared;
  const ctx = await openJobContext(db.path, {
    metaDir: db.metaPath,
    policy: db.checkpoint,
    busyTimeoutMs: db.busyTimeoutMs,
    log,
    switchToWal: true,
    replicas: db.replicas.map((replica) => ({ location: replica.location, age: replica.age })),
    lock: { role: 'daemon', what: 'run' },
  });
  const run: DbRun = {
    shared,
    config: db,
    ctx,
    status: new JobStatusBook(ctx.metaDir, ctx.db.dbPath, log),
    tasks: [],
    syncTasks: [],
    queue: Promise.resolve(),
    walChangeCount: 0,
    walWatched: false,
    unwatchWal: () => undefined,
    followed: options.followed ?? false,
  };
  const watch = walChanges.watch(ctx.db.dbPath, () => {
    run.walChangeCount++;
    health.walChanged(ctx.db.dbPath);
    for (const task of run.syncTasks) task.wake();
  });
  run.walWatched = watch.watched;
  run.unwatchWal = watch.unwatch;
  const replicas = db.replicas.length > 0 ? db.replicas : [undefined];
  shared.metrics?.addDatabase(ctx.db.dbPath, replicas.map((replica, i) => (replica ? { name: replica.name, url: ctx.replicas[i]!.client.url } : { name: 'shadow' })));
  replicas.forEach((replica, i) => {
    const only = replica ? { ...ctx, replicas: [{ ...ctx.replicas[i]!, retentionMs: replica.retentionMs }] } : ctx;
    const label = replica?.name ?? 'shadow';
    health.addReplica(ctx.db.dbPath, label, () => ctx.state.shadowByteCount ?? 0);
    const client = replica ? ctx.replicas[i]!.client : undefined;
    schedule(run, log, 'sync', label, replica?.syncInterval ?? DEFAULT_SYNC_SCHEDULE, () => jobs.sync.run(only), client);
    if (!replica) return;
    let snapshotRan = false;
    const snapshotWork = async () => {
      if (!snapshotRan) {
        snapshotRan = true;
        // This replica's own sync may not have run yet: it learns what snapshots the replica holds (and writes the first one).
        if (!only.replicas[0]!.memory.newestSnapshot) await jobs.sync.run(only);
        if (snapshotIsFresh(run, only.replicas[0]!, replica.snapshotInterval)) return noSnapshot(run);
      }
      return jobs.snapshot.run(only);
    };
    schedule(run, log, 'snapshot', label, replica.snapshotInterval, snapshotWork, client);
    schedule(run, log, 'retention', label, replica.retentionCheckInterval, () => jobs.retention.run(only), client);
    if (replica.verifyInterval) schedule(run, log, 'verify', label, replica.verifyInterval, () => jobs.verify.run(only).then((result) => consistentOrThrow(ctx.db.dbPath, result)), client);
  });
  log.info('runner started', { db: ctx.db.dbPath, jobs: run.tasks.length });
  return run;
}

/**
 * Whether the snapshot job's run at start has nothing to do: the replica's
 * newest snapshot of the current generation is younger than the schedule's
 * period, because the first sync just wrote it (a replica without one) or
 * an earlier run did. A start or a reload then uploads no second snapshot.
 */
function snapshotIsFresh(run: DbRun, target: ReplicaTarget, when: Schedule): boolean {
  const newest = target.memory.newestSnapshot;
  if (!newest || newest.generationId !== run.ctx.state.shadow?.cursor.generationId) return false;
  return Date.now() - newest.at < schedulePeriodMs(when);
}

function schedulePeriodMs(when: Schedule): number {
  if (when.kind === 'interval') return when.ms;
  const [next, after] = new Cron(when.pattern, { paused: true }).nextRuns(2);
  return next && after ? after.getTime() - next.getTime() : 0;
}

function noSnapshot(run: DbRun): JobResults['snapshot'] {
  return { generationId: run.ctx.state.shadow!.cursor.generationId, snapshots: [] };
}

/** A scheduled verify that finds an inconsistency is a failed job: logged, counted, and late on /healthz's status. */
function consistentOrThrow(dbPath: string, result: Verification): Verification {
  if (result.consistent) return result;
  const problems = [
    ...result.replicas.filter((r) => r.difference !== undefined).map((r) => `${r.replica}: restored copy differs from ${dbPath}: ${r.difference}`),
    ...result.replicas.filter((r) => r.restoreError !== undefined).map((r) => `${r.replica}: does not restore: ${r.restoreError}`),
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
  const looked: LastLook = { changesSeen: -1, afterChange: true, at: 0 };
  const fields = { db: run.ctx.db.dbPath, job, replica };
  const handle = run.shared.scheduler.add({
    lane: run.ctx.db.dbPath,
    schedule: when,
    onOverrun: () => log.warn('job still running; tick skipped', fields),
    sleepUntil: job === 'sync' ? (now) => syncSleepUntil(run, replica, now, failures, looked) : undefined,
    run: async () => {
      if (Date.now() < retryAt) return;
      const started = Date.now();
      looked.afterChange = run.walChangeCount !== looked.changesSeen;
      looked.changesSeen = run.walChangeCount;
      looked.at = started;
      const task = run.queue.then(work);
      run.queue = task.catch(() => undefined);
      try {
        const result = await task;
        failures = 0;
        run.missingSince = undefined;
        // Also the first job of a followed database made again at its path after it was let go of.
        run.shared.health.databaseBack(run.ctx.db.dbPath, Date.now());
        if (job === 'sync') run.shared.health.recordSync(run.ctx.db.dbPath, replica, { ok: true });
        run.shared.metrics?.observeJob(run.ctx.db.dbPath, job, replica, true);
        if (job === 'sync') await run.shared.metrics?.observeSync(run.ctx.db.dbPath, replica, result as JobResults['sync'], (Date.now() - started) / 1000);
        run.status.record(name, { ok: true, at: new Date(), durationMs: Date.now() - started, nextRun: handle.nextRun() });
        const summary = summarize(result);
        // A sync that found nothing new every second is not an event worth a line at info.
        const level = job === 'sync' && !summary?.bytes ? 'debug' : 'info';
        log[level]('job done', { ...fields, ms: Date.now() - started, generation: run.ctx.state.shadow?.cursor.generationId, ...summary });
      } catch (error) {
        failures++;
        if (job === 'sync') run.shared.health.recordSync(run.ctx.db.dbPath, replica, { ok: false, error });
        run.shared.metrics?.observeJob(run.ctx.db.dbPath, job, replica, false);
        const missing = codeOf(error) === 'DB_MISSING';
        // A file can come back at any moment: the next tick looks.
        retryAt = missing ? 0 : Date.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1));
        run.status.record(name, { ok: false, at: new Date(), durationMs: Date.now() - started, error: messageOf(error), nextRun: handle.nextRun() });
        if (!missing) log.error('job failed', { ...fields, failures, retryInMs: retryAt - Date.now(), code: codeOf(error), error: messageOf(error) });
        else if (run.missingSince === undefined) {
          run.missingSince = Date.now();
          run.shared.health.databaseMissing(run.ctx.db.dbPath, run.missingSince, !run.followed);
          log[run.followed ? 'info' : 'error']('database missing', { ...fields, generation: run.ctx.state.shadow?.cursor.generationId, code: codeOf(error), error: messageOf(error) });
        }
      }
      if (client) recordRequests(run, replica, client);
    },
  });
  run.tasks.push(handle);
  if (job === 'sync') run.syncTasks.push(handle);
}

/** The longest a watched database goes without a sync that looks, for changes the kernel did not report. */
const SAFETY_POLL_MS = 60_000;
/** A database without a sync for this long gives back the connections only a sync needs (LiveDb.rest). */
const REST_AFTER_MS = 30_000;

/** What a sync task knows of its last look at the database. */
interface LastLook {
  /** The kernel's change count when its last run began. */
  changesSeen: number;
  /**
   * Whether that run came after a change. The kernel reports the app's WAL
   * writes before the commit is visible (SQLite publishes it in the -shm
   * after the writes, which the kernel does not report): a sync woken at
   * once may find nothing yet, so the next tick looks again.
   */
  afterChange: boolean;
  /** When it last looked: a run, or the safety poll's proof. */
  at: number;
}

/**
 * Whether a sync tick has anything to look at: the kernel reported a change
 * since this replica's last sync began (or just before: see LastLook), that
 * sync failed, the kernel cannot say (an unwatched database), or a
 * checkpoint is due. Undefined: sync now. Otherwise the tick is the proof
 * that the replica still holds everything, and the task sleeps until a
 * checkpoint or the safety poll is due, or a change wakes it. The safety
 * poll, for changes the kernel did not report, runs the sync's own proof
 * (nothingCommittedSince) in place, and a job only when that fails.
 */
function syncSleepUntil(run: DbRun, replica: string, now: number, failures: number, looked: LastLook): number | undefined {
  if (!run.walWatched || failures > 0 || looked.afterChange || run.walChangeCount !== looked.changesSeen) return undefined;
  const checkpointDueAt = quietSyncDueAt(run.ctx.state.shadow, run.config.checkpoint) ?? Number.POSITIVE_INFINITY;
  if (checkpointDueAt <= now) return undefined;
  if (now - looked.at >= SAFETY_POLL_MS) {
    // The safety poll: the sync's own proof (data_version), without a job run for a database nobody wrote.
    const previous = run.ctx.state.shadow;
    if (!previous || !run.ctx.db.stillAtPath() || !nothingCommittedSince(run.ctx.db, previous, run.config.checkpoint, now)) return undefined;
    looked.at = now;
  }
  run.shared.health.confirmQuiet(run.ctx.db.dbPath, replica);
  const restAt = looked.at + REST_AFTER_MS;
  if (now >= restAt) run.ctx.db.rest();
  return Math.min(checkpointDueAt, looked.at + SAFETY_POLL_MS, now < restAt ? restAt : Number.POSITIVE_INFINITY);
}

function recordRequests(run: DbRun, replica: string, client: ReplicaClient): void {
  const counts = client.requests.snapshot();
  run.status.recordRequests(replica, counts);
  run.shared.metrics?.observeRequests(run.ctx.db.dbPath, replica, client.requests);
}

function summarize(result: unknown): { frames: number; bytes: number } | undefined {
  if (result && typeof result === 'object' && 'frameCount' in result) {
    const r = result as { frameCount: number; byteCount: number };
    return { frames: r.frameCount, bytes: r.byteCount };
  }
  return undefined;
}

export async function stopDb(run: DbRun, log: Logger, finalSync: boolean): Promise<void> {
  run.unwatchWal();
  await Promise.all(run.tasks.map((task) => task.remove()));
  await run.queue;
  try {
    if (finalSync) {
      const result = await run.shared.jobs.sync.run(run.ctx);
      log.info('final sync', { db: run.ctx.db.dbPath, generation: result.generationId, frames: result.frameCount, replicas: result.replicas.length });
    }
  } catch (error) {
    log.error('final sync failed', { db: run.ctx.db.dbPath, error: messageOf(error) });
  } finally {
    await run.status.flush();
    await run.ctx.close();
  }
}
