/**
 * walsync as a library: the job runner inside an app's own process, and the
 * one-shot operations the CLI runs. Embedded, walsync must share the app's
 * better-sqlite3 (a peer dependency): createRunner and syncOnce refuse to
 * start when a second copy of SQLite is loaded.
 */
import { run as runSync } from '../jobs/sync.js';
import type { SyncJobResult } from '../jobs/sync.js';
import type { Config } from './config.js';
import { DEFAULTS, loadConfig, parseConfig } from './config.js';
import type { JobContext } from './job.js';
import { openJobContext } from './job.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import { createRunner as createJobRunner } from './runner.js';
import type { Runner } from './runner.js';
import { DEFAULT_CHECKPOINT_POLICY } from './shadow/checkpoint.js';
import type { CheckpointPolicy } from './shadow/checkpoint.js';
import { assertOneSqliteCopy } from './sqlite-copies.js';
import { verifyReplica } from './verify-replica.js';
import type { ReplicaVerification } from './verify-replica.js';
import { verifyShadow } from './verify.js';
import type { ShadowVerification } from './verify.js';

export { ConfigError, WalsyncError, exitCodeFor } from './errors.js';
export type { WalsyncErrorCode } from './errors.js';
export { restore } from './restore.js';
export type { RestoreOptions, RestoreResult } from './restore.js';
export { createLogger } from './log.js';
export type { Logger } from './log.js';
export { DEFAULTS, loadConfig, parseConfig };
export type { Config, Runner, SyncJobResult, ShadowVerification, ReplicaVerification };

export interface OneShotOptions {
  readonly replicas?: readonly string[];
  readonly metaDir?: string;
  readonly busyTimeoutMs?: number;
  readonly checkpoint?: CheckpointPolicy;
  readonly log?: Logger;
}

/** Starts the job runner for a configuration (see `walsync run`); stop() it before the app closes its database. */
export async function createRunner(config: Config, options: { log?: Logger } = {}): Promise<Runner> {
  assertOneSqliteCopy();
  return createJobRunner(config, options.log ?? silentLogger);
}

/** One sync of the shadow WAL, and of every replica named. */
export async function syncOnce(dbPath: string, options: OneShotOptions = {}): Promise<SyncJobResult> {
  const ctx = await openOneShot(dbPath, options, true);
  try {
    return await runSync(ctx);
  } finally {
    ctx.db.close();
  }
}

/** Checks the shadow (and, with replicas, that each restores to the live database). */
export async function verify(
  dbPath: string,
  options: OneShotOptions = {},
): Promise<{ shadow: ShadowVerification; replicas: ReplicaVerification[] }> {
  const ctx = await openOneShot(dbPath, options, (options.replicas?.length ?? 0) > 0);
  try {
    const replicas = ctx.replicas.length > 0 ? await verifyReplica(ctx) : [];
    return { shadow: await verifyShadow(ctx.db, ctx.metaDir), replicas };
  } finally {
    ctx.db.close();
  }
}

async function openOneShot(dbPath: string, options: OneShotOptions, switchToWal: boolean): Promise<JobContext> {
  assertOneSqliteCopy();
  return openJobContext(dbPath, {
    metaDir: options.metaDir,
    policy: options.checkpoint ?? DEFAULT_CHECKPOINT_POLICY,
    busyTimeoutMs: options.busyTimeoutMs ?? 5000,
    log: options.log ?? silentLogger,
    switchToWal,
    replicaUrls: options.replicas,
  });
}
