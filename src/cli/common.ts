/** Options shared by the commands that open a database, and turning them into a JobContext. */
import type { Argv } from 'yargs';
import { WalsyncError } from '../errors.js';
import { DEFAULTS } from '../config/defaults.js';
import { parseDuration } from '../config/duration.js';
import type { JobContext, OpenJobContextOptions } from '../job/context.js';
import { openJobContext } from '../job/context.js';
import type { Logger } from '../log.js';
import type { CheckpointPolicy } from '../shadow/checkpoint.js';
import type { AgeKeys } from '../replica/age/keys.js';
import { warnOfLooseKeyFile } from './replica-arg.js';

export interface DbArgs {
  db?: string;
  'meta-path'?: string;
  'busy-timeout': string;
  'checkpoint-min-pages': number;
  'checkpoint-truncate-pages': number;
  'checkpoint-idle-interval': string;
}

export function withDbOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('meta-path', { type: 'string', describe: 'Shadow directory (default: <dir>/.<name>-walsync)' })
    .option('busy-timeout', { type: 'string', default: DEFAULTS.busyTimeout, describe: 'How long to wait for the write lock' })
    .option('checkpoint-min-pages', {
      type: 'number',
      default: DEFAULTS.checkpoint.minPages,
      describe: 'PASSIVE checkpoint once the WAL holds this many pages',
    })
    .option('checkpoint-truncate-pages', {
      type: 'number',
      default: DEFAULTS.checkpoint.truncatePages,
      describe: 'TRUNCATE checkpoint once the WAL holds this many pages',
    })
    .option('checkpoint-idle-interval', {
      type: 'string',
      default: DEFAULTS.checkpoint.idleInterval,
      describe: 'PASSIVE checkpoint after this long without commits (0 = never)',
    });
}

export function durationArg(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms === undefined) throw new WalsyncError('USAGE', `--${flag}: ${JSON.stringify(text)} is not a duration (e.g. 500ms, 1s, 10m)`);
  return ms;
}

function pageCountArg(flag: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new WalsyncError('USAGE', `--${flag}: ${value} is not a positive whole number of pages`);
  }
  return value;
}

export function policyFrom(args: DbArgs): CheckpointPolicy {
  return {
    minPageCount: pageCountArg('checkpoint-min-pages', args['checkpoint-min-pages']),
    truncatePageCount: pageCountArg('checkpoint-truncate-pages', args['checkpoint-truncate-pages']),
    idleIntervalMs: durationArg('checkpoint-idle-interval', args['checkpoint-idle-interval']),
  };
}

export function requireDb(args: DbArgs): string {
  if (!args.db) throw new WalsyncError('USAGE', 'DB: missing the database path');
  return args.db;
}

export async function openFromArgs(
  args: DbArgs,
  log: Logger,
  options: { switchToWal: boolean; replicaUrls?: readonly string[]; age?: AgeKeys; signal?: AbortSignal; lock: OpenJobContextOptions['lock'] },
): Promise<JobContext> {
  const policy = policyFrom(args);
  for (const url of options.replicaUrls ?? []) warnOfLooseKeyFile(url, log);
  const busyTimeoutMs = durationArg('busy-timeout', args['busy-timeout']);
  return openJobContext(requireDb(args), {
    metaDir: args['meta-path'],
    policy,
    busyTimeoutMs,
    log,
    switchToWal: options.switchToWal,
    replicas: options.replicaUrls?.map((location) => ({ location, age: options.age })),
    signal: options.signal,
    lock: options.lock,
  });
}
