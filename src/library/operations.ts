/**
 * What the library's entry points do, run inside the worker thread that
 * src/library/host.ts starts: this thread holds the database's write lock
 * across asynchronous I/O, which must never be the app's own thread.
 */
import { run as runSync } from '../../jobs/sync.js';
import type { SyncJobResult } from '../replication/sync-to-replicas.js';
import type { JobContext, OpenJobContextOptions } from '../job/context.js';
import { openJobContext } from '../job/context.js';
import type { Logger } from '../log.js';
import { DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_CHECKPOINT_POLICY } from '../config/defaults.js';
import type { CheckpointPolicy } from '../shadow/checkpoint.js';
import { verifyReplica } from '../restore/verify-replica.js';
import type { ReplicaVerification } from '../restore/verify-replica.js';
import { verifyShadow } from '../shadow/verify.js';
import type { ShadowVerification } from '../shadow/verify.js';

export interface OneShotOptions {
  readonly replicas?: readonly string[];
  readonly metaDir?: string;
  readonly busyTimeoutMs?: number;
  readonly checkpoint?: CheckpointPolicy;
}

export interface Verification {
  readonly shadow: ShadowVerification;
  readonly replicas: ReplicaVerification[];
}

export async function syncOnceHere(dbPath: string, options: OneShotOptions, log: Logger): Promise<SyncJobResult> {
  const ctx = await openOneShot(dbPath, options, log, true, { role: 'one-shot', what: 'syncOnce (library)' });
  try {
    return await runSync(ctx);
  } finally {
    await ctx.close();
  }
}

export async function verifyHere(dbPath: string, options: OneShotOptions, log: Logger): Promise<Verification> {
  const ctx = await openOneShot(dbPath, options, log, (options.replicas?.length ?? 0) > 0, { role: 'one-shot-if-synced', what: 'verify (library)' });
  try {
    const replicas = ctx.replicas.length > 0 ? await verifyReplica(ctx) : [];
    return { shadow: await verifyShadow(ctx.db, ctx.metaDir), replicas };
  } finally {
    await ctx.close();
  }
}

async function openOneShot(
  dbPath: string,
  options: OneShotOptions,
  log: Logger,
  switchToWal: boolean,
  lock: OpenJobContextOptions['lock'],
): Promise<JobContext> {
  return openJobContext(dbPath, { metaDir: options.metaDir, ...oneShotSettings(options), log, switchToWal, replicaUrls: options.replicas, lock });
}

/** What a one-shot of the library runs with where its options say nothing. */
export function oneShotSettings(options: OneShotOptions): { policy: CheckpointPolicy; busyTimeoutMs: number } {
  return { policy: options.checkpoint ?? DEFAULT_CHECKPOINT_POLICY, busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS };
}
