/**
 * What the library's entry points do, run inside the worker thread that
 * src/library/host.ts starts: this thread holds the database's write lock
 * across asynchronous I/O, which must never be the app's own thread.
 */
import type { JobContext, OpenJobContextOptions } from '../job/context.js';
import { openJobContext } from '../job/context.js';
import type { JobRegistry, JobResults } from '../job/registry.js';
import type { Logger } from '../log.js';
import { DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_CHECKPOINT_POLICY } from '../config/defaults.js';
import type { CheckpointPolicy } from '../shadow/checkpoint.js';

export interface OneShotOptions {
  readonly replicas?: readonly string[];
  readonly metaDir?: string;
  readonly busyTimeoutMs?: number;
  readonly checkpoint?: CheckpointPolicy;
}

export async function syncOnceHere(jobs: JobRegistry, dbPath: string, options: OneShotOptions, log: Logger): Promise<JobResults['sync']> {
  const ctx = await openOneShot(dbPath, options, log, true, { role: 'one-shot', what: 'syncOnce (library)' });
  try {
    return await jobs.sync.run(ctx);
  } finally {
    await ctx.close();
  }
}

export async function verifyHere(jobs: JobRegistry, dbPath: string, options: OneShotOptions, log: Logger): Promise<JobResults['verify']> {
  const ctx = await openOneShot(dbPath, options, log, (options.replicas?.length ?? 0) > 0, { role: 'one-shot-if-synced', what: 'verify (library)' });
  try {
    return await jobs.verify.run(ctx);
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
  return openJobContext(dbPath, { metaDir: options.metaDir, ...oneShotSettings(options), log, switchToWal, replicas: options.replicas?.map((location) => ({ location })), lock });
}

/** What a one-shot of the library runs with where its options say nothing. */
export function oneShotSettings(options: OneShotOptions): { policy: CheckpointPolicy; busyTimeoutMs: number } {
  return { policy: options.checkpoint ?? DEFAULT_CHECKPOINT_POLICY, busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS };
}
