/**
 * walsync as a library: the job runner inside an app's own process, and the
 * one-shot operations the CLI runs. Whatever touches the live database runs
 * in a worker thread of walsync's own (src/library/worker.ts says why), with
 * the app's better-sqlite3 (a peer dependency): createRunner, syncOnce and
 * verify refuse to start when a second copy of SQLite is loaded.
 */
import type { SyncJobResult } from './replication/sync-to-replicas.js';
import type { Config } from './config/config.js';
import { loadConfig, parseConfig } from './config/config.js';
import { DEFAULTS } from './config/defaults.js';
import { runOneShotInWorker, startRunnerInWorker } from './library/host.js';
import type { OneShotOptions as WorkerOneShotOptions } from './library/operations.js';
import type { Verification } from './job/registry.js';
import type { Logger } from './log.js';
import { silentLogger } from './log.js';
import type { Runner } from './daemon/runner.js';
import { assertOneSqliteCopy } from './db/sqlite-copies.js';
import type { ReplicaVerification } from './restore/verify-replica.js';
import type { ShadowVerification } from './shadow/verify.js';

export { ConfigError, WalsyncError, exitCodeFor } from './errors.js';
export type { WalsyncErrorCode } from './errors.js';
export { openReplica, restore } from './library/restore-call.js';
export type { LibraryRestoreOptions as RestoreOptions, ReplicaOptions } from './library/restore-call.js';
export type { RestoreResult } from './restore/restore.js';
export type { ReplicaClient } from './replica/client.js';
export { createLogger } from './log.js';
export type { Logger } from './log.js';
export { DEFAULTS, loadConfig, parseConfig };
export type { Config, Runner, SyncJobResult, ShadowVerification, ReplicaVerification, Verification };

export interface OneShotOptions extends WorkerOneShotOptions {
  readonly log?: Logger;
}

/** Starts the job runner for a configuration (see `walsync run`); stop() it before the app closes its database. */
export async function createRunner(config: Config, options: { log?: Logger } = {}): Promise<Runner> {
  assertOneSqliteCopy();
  return startRunnerInWorker({ op: 'runner', config }, options.log ?? silentLogger);
}

/** One sync of the shadow WAL, and of every replica named. */
export async function syncOnce(dbPath: string, options: OneShotOptions = {}): Promise<SyncJobResult> {
  assertOneSqliteCopy();
  const { log, ...rest } = options;
  return runOneShotInWorker<SyncJobResult>({ op: 'syncOnce', dbPath, options: rest }, log ?? silentLogger);
}

/** Checks the shadow (and, with replicas, that each restores to the live database). */
export async function verify(dbPath: string, options: OneShotOptions = {}): Promise<Verification> {
  assertOneSqliteCopy();
  const { log, ...rest } = options;
  return runOneShotInWorker<Verification>({ op: 'verify', dbPath, options: rest }, log ?? silentLogger);
}
