/**
 * What a job in jobs/ is handed and what it keeps between runs in one
 * process. Jobs re-derive everything else from disk, so a job killed at any
 * instant is followed by a run that recovers.
 */
import path from 'node:path';
import { LiveDb } from '../db/live-db.js';
import { defaultMetaDir } from '../layout.js';
import type { Logger } from '../log.js';
import type { CheckpointPolicy } from '../shadow/checkpoint.js';
import type { ShadowMark } from '../shadow/quiet.js';
import type { ReplicaClient } from '../replica/client.js';
import type { ReplicaMemory } from '../replication/replicate.js';
import type { ReplicaSpec } from '../replica/url.js';
import { openReplica } from '../replica/url.js';
import type { DbLock, LockRole } from '../db/db-lock.js';
import { acquireDbLock } from '../db/db-lock.js';
import { readShadowModes } from '../shadow/permissions.js';

export interface DbJobState {
  /** What the previous sync handed on (where it left the shadow), so the next one need not re-read it. */
  shadow?: ShadowMark;
  /** The last sync deleted every local shadow WAL of this generation below this index (all replicas held them). */
  shadowDeletedBelow?: { generationId: string; index: number };
  /** WAL bytes this process has copied into the shadow, which a replica that has not synced since lags by. */
  shadowByteCount?: number;
}

/** A replica of this database, with what this process remembers of it. */
export interface ReplicaTarget {
  readonly client: ReplicaClient;
  readonly memory: ReplicaMemory;
  /** How long the retention job keeps this replica's snapshots (the config's `retention`); unset: the default. */
  readonly retentionMs?: number;
}

export interface JobContext {
  readonly db: LiveDb;
  readonly metaDir: string;
  readonly policy: CheckpointPolicy;
  readonly log: Logger;
  readonly state: DbJobState;
  /** The replicas this job ships to. */
  readonly replicas: readonly ReplicaTarget[];
  /**
   * Every replica of the database, also those that other jobs ship to
   * (`walsync run` schedules one sync per replica): a local shadow file goes
   * only once all of them hold it.
   */
  readonly everyReplica: readonly ReplicaTarget[];
  readonly signal?: AbortSignal;
  /** Closes the database, then lets another walsync process have it. */
  close(): Promise<void>;
}

export interface OpenJobContextOptions {
  readonly metaDir?: string;
  readonly policy: CheckpointPolicy;
  readonly busyTimeoutMs: number;
  readonly log: Logger;
  /** Switch a rollback-journal database to WAL mode instead of refusing it (sync does, verify does not). */
  readonly switchToWal: boolean;
  /** Replica URLs or directories, or S3 settings from a config file, with their age keys. */
  readonly replicas?: readonly ReplicaSpec[];
  readonly signal?: AbortSignal;
  /** How this process holds the database's lock (src/db/db-lock.ts), and what it is doing, for another's refusal. */
  readonly lock: { readonly role: LockRole; readonly what: string };
}

/**
 * Opens the live database and everything a job needs, and takes the
 * database's lock (refused, or for a daemon a wait, while another walsync
 * process works on it); close the context when done.
 */
export async function openJobContext(dbPath: string, options: OpenJobContextOptions): Promise<JobContext> {
  const absolutePath = path.resolve(dbPath);
  const metaDir = options.metaDir ? path.resolve(options.metaDir) : defaultMetaDir(absolutePath);
  // The replicas first, which only parse their URLs and settings: a malformed one (`s3:/bucket`) is refused
  // before anything is opened or made beside the database. Then the database, whose file SQLite judges
  // before the shadow is made beside it.
  const replicaModes = options.replicas?.length ? await readShadowModes(absolutePath).catch(() => undefined) : undefined;
  const replicas: ReplicaTarget[] = (options.replicas ?? []).map((spec) => ({ client: openReplica(spec.location, replicaModes, process.env, spec.age), memory: {} }));
  const db = await LiveDb.open(absolutePath, {
    busyTimeoutMs: options.busyTimeoutMs,
    switchToWal: options.switchToWal,
    onSwitchedToWal: () => options.log.info('switched database to WAL mode', { db: absolutePath }),
  });
  let lock: DbLock;
  try {
    lock = await acquireDbLock(metaDir, absolutePath, options.lock.role, options.lock.what, options.log);
  } catch (error) {
    db.close();
    throw error;
  }
  const close = async () => {
    db.close();
    await lock.release();
  };
  return {
    db,
    metaDir,
    policy: options.policy,
    log: options.log,
    state: {},
    replicas,
    everyReplica: replicas,
    signal: options.signal,
    close,
  };
}
