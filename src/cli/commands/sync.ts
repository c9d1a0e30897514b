/** `walsync sync [DB] [--once] [--interval 1s] [--json]` */
import type { Argv } from 'yargs';
import { DEFAULTS } from '../../config/defaults.js';
import { EXIT_OK, messageOf, exitCodeFor, WalsyncError } from '../../errors.js';
import type { JobContext } from '../../job/context.js';
import type { JobRegistry, JobResults } from '../../job/registry.js';
import type { Logger } from '../../log.js';
import type { DbArgs } from '../common.js';
import { durationArg, openFromArgs, withDbOptions } from '../common.js';
import type { CliIo } from '../io.js';
import type { AgeArgs } from '../age-option.js';
import { ageFromArgs, withAgeOptions } from '../age-option.js';
import { watchNpmLauncher } from '../../exec/launcher.js';
import { warnIfBelowNormalPriority } from '../priority.js';
import { syncSummaryJson, syncSummaryText } from '../output.js';

export interface SyncArgs extends DbArgs, AgeArgs {
  replicas?: string[];
  once: boolean;
  interval: string;
  json: boolean;
}

export function syncBuilder<T>(yargs: Argv<T>) {
  return withAgeOptions(withDbOptions(yargs), { write: true })
    .positional('db', { type: 'string', describe: 'SQLite database in WAL mode' })
    .positional('replicas', { type: 'string', array: true, describe: 'Replicas to ship to: file:///abs/dir, s3://bucket/prefix, sftp://user@host/path or a directory path' })
    .option('once', { type: 'boolean', default: false, describe: 'Sync once and exit' })
    .option('interval', { type: 'string', default: DEFAULTS.replica.syncInterval, describe: 'Time between syncs when not --once' });
}

export async function syncCommand(args: SyncArgs, io: CliIo, jobs: JobRegistry): Promise<number> {
  const intervalMs = durationArg('interval', args.interval);
  const stop = new AbortController();
  const ctx = await openFromArgs(args, io.log, {
    switchToWal: true,
    replicaUrls: args.replicas,
    age: ageFromArgs(args, io.log),
    signal: stop.signal,
    lock: args.once ? { role: 'one-shot', what: 'sync --once' } : { role: 'daemon', what: 'sync --interval' },
  });
  try {
    if (args.once) {
      report(await jobs.sync.run(ctx), args, io);
      return EXIT_OK;
    }
    return await syncUntilSignalled(jobs, ctx, args, io, intervalMs, stop);
  } finally {
    await ctx.close();
  }
}

/**
 * Syncs every interval with the WAL pinned in between; SIGINT/SIGTERM end
 * the wait, and one final sync copies the last commits before exit.
 */
async function syncUntilSignalled(
  jobs: JobRegistry,
  ctx: JobContext,
  args: SyncArgs,
  io: CliIo,
  intervalMs: number,
  stop: AbortController,
): Promise<number> {
  const stopAfterFinalSync = (why: { signal: string } | { reason: string }) => {
    io.log.info('stopping after a final sync', { db: ctx.db.dbPath, ...why });
    stop.abort();
  };
  const removeHandlers = io.onSignals(['SIGINT', 'SIGTERM'], (signal) => stopAfterFinalSync({ signal }));
  const launcher = await watchNpmLauncher(() => stopAfterFinalSync({ reason: 'the npm exec that started walsync exited' }));
  warnIfBelowNormalPriority(io.log);
  try {
    while (!stop.signal.aborted) {
      await syncLogged(jobs, ctx, args, io);
      await sleep(intervalMs, stop.signal);
    }
    const final = await jobs.sync.run(ctx);
    report(final, args, io, true);
    return EXIT_OK;
  } finally {
    removeHandlers();
    launcher.stop();
  }
}

/** A failed sync in the loop is logged; the next tick catches up. */
async function syncLogged(jobs: JobRegistry, ctx: JobContext, args: SyncArgs, io: CliIo): Promise<void> {
  try {
    report(await jobs.sync.run(ctx), args, io);
  } catch (error) {
    if (!(error instanceof WalsyncError)) throw error;
    logFailure(io.log, ctx, error);
  }
}

function logFailure(log: Logger, ctx: JobContext, error: WalsyncError): void {
  log.error('sync failed', { db: ctx.db.dbPath, generation: ctx.state.shadow?.cursor.generationId, code: error.code, exit: exitCodeFor(error), error: messageOf(error) });
}

function report(result: JobResults['sync'], args: SyncArgs, io: CliIo, always = args.once): void {
  if (args.json) {
    io.stdout(JSON.stringify(syncSummaryJson(result)));
    return;
  }
  const changed = result.frameCount > 0 || result.newGenerationReason !== undefined || result.checkpoint !== undefined;
  if (always || changed) io.stdout(syncSummaryText(result));
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}
