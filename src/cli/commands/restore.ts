/**
 * `walsync restore -o OUT [--generation G] [--index N | --timestamp T] [--if-db-not-exists] [--if-replica-exists]
 *   [--integrity-check full|quick|none] [--parallelism N] REPLICA_URL`,
 * or, like `litestream restore -config F DB_PATH`, `walsync restore --config F [-o OUT] DB_PATH`:
 * from the first replica the config names for that database, with its age keys and credentials.
 */
import path from 'node:path';
import type { Argv } from 'yargs';
import { loadConfig, unresolvedVariables } from '../../config/config.js';
import { dbConfigNamed } from '../../daemon/discovery.js';
import { EXIT_OK, WalsyncError } from '../../errors.js';
import type { ReplicaClient } from '../../replica/client.js';
import type { RestoreProgress } from '../../restore/restore.js';
import { DEFAULT_PARALLELISM, INTEGRITY_CHECKS, restore } from '../../restore/restore.js';
import type { IntegrityCheck } from '../../restore/restore.js';
import { follow } from '../../restore/follow/follow.js';
import { durationArg } from '../common.js';
import { localReplicaDir, openReplica } from '../../replica/url.js';
import { formatIndex, isGenerationId } from '../../wal/pos.js';
import type { CliIo } from '../io.js';
import type { AgeArgs } from '../age-option.js';
import { ageFromArgs, withAgeOptions } from '../age-option.js';
import { openReplicaArg } from '../replica-arg.js';

export interface RestoreArgs extends AgeArgs {
  /** The replica's URL, or with --config the database's path. */
  replica?: string;
  config?: string;
  output?: string;
  generation?: string;
  index?: number;
  timestamp?: string;
  'if-db-not-exists': boolean;
  'if-replica-exists': boolean;
  'integrity-check': string;
  parallelism: number;
  follow: boolean;
  'follow-interval': string;
  json: boolean;
}

export function restoreBuilder<T>(yargs: Argv<T>) {
  return withAgeOptions(yargs, { write: false })
    .positional('replica', {
      type: 'string',
      describe: 'Replica to restore from: file:///abs/dir, s3://bucket/prefix, sftp://user@host/path or a directory path; with --config, the database path',
    })
    .option('config', { type: 'string', describe: 'Restore DB_PATH from the first replica this config file names for it' })
    .option('output', { alias: 'o', type: 'string', describe: 'Path of the restored database (must not exist; with --config, default: DB_PATH)' })
    .option('generation', { type: 'string', describe: 'Generation to restore (default: the newest)' })
    .option('index', { type: 'number', describe: 'Restore up to the end of this WAL index' })
    .option('timestamp', { type: 'string', describe: 'Restore to this moment (RFC 3339)' })
    .option('if-db-not-exists', { type: 'boolean', default: false, describe: 'Do nothing (exit 0) when the output exists' })
    .option('if-replica-exists', { type: 'boolean', default: false, describe: 'Do nothing (exit 0) when the replica has no backups' })
    .option('integrity-check', { type: 'string', default: 'full', describe: 'Check the restored database before it appears: full (integrity_check), quick (quick_check) or none' })
    .option('parallelism', { type: 'number', default: DEFAULT_PARALLELISM, describe: 'WAL segments downloaded ahead at once' })
    .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'After the restore, keep OUT current with the replica until SIGINT/SIGTERM (a warm standby)' })
    .option('follow-interval', { type: 'string', default: '1s', describe: 'With --follow: time between looks at the replica (a file replica is also watched)' })
    .conflicts('index', 'timestamp');
}

export async function restoreCommand(args: RestoreArgs, io: CliIo): Promise<number> {
  if (args.generation !== undefined && !isGenerationId(args.generation)) {
    throw new WalsyncError('USAGE', `--generation: ${JSON.stringify(args.generation)} is not a generation (16 lowercase hex digits)`);
  }
  if (args.index !== undefined && (!Number.isSafeInteger(args.index) || args.index < 0)) {
    throw new WalsyncError('USAGE', `--index: ${args.index} is not a WAL index`);
  }
  const timestamp = args.timestamp === undefined ? undefined : parseTimestamp(args.timestamp);
  const integrityCheck = INTEGRITY_CHECKS.find((check) => check === args['integrity-check']);
  if (!integrityCheck) throw new WalsyncError('USAGE', `--integrity-check: ${JSON.stringify(args['integrity-check'])} is not one of ${INTEGRITY_CHECKS.join(', ')}`);
  if (!Number.isSafeInteger(args.parallelism) || args.parallelism < 1 || args.parallelism > 64) {
    throw new WalsyncError('USAGE', `--parallelism: ${args.parallelism} is not a number of downloads from 1 to 64`);
  }
  const { client, outputPath } = args.config === undefined ? fromUrl(args, io) : await fromConfig(args.config, args, io);
  if (args.follow) return followCommand(args, io, { client, outputPath, integrityCheck, replicaDir: args.config === undefined ? localReplicaDir(args.replica!) : undefined });
  const showProgress = !args.json && io.isTerminal;
  const result = await restore({
    client,
    outputPath,
    generationId: args.generation,
    index: args.index,
    timestamp,
    ifDbNotExists: args['if-db-not-exists'],
    ifReplicaExists: args['if-replica-exists'],
    integrityCheck,
    parallelism: args.parallelism,
    onProgress: showProgress ? throttledProgress(io) : undefined,
  });
  if (showProgress) io.progress('');
  if (!result.restored) {
    if (args.json) io.stdout(JSON.stringify({ restored: false, reason: result.reason }));
    else io.stdout(`nothing restored: ${result.reason}`);
    return EXIT_OK;
  }
  const { plan } = result;
  const lastIndex = plan.walIndexes.at(-1)?.[0]?.index ?? plan.snapshot.index;
  if (args.json) {
    io.stdout(JSON.stringify({ restored: true, output: result.outputPath, generation: plan.generationId, snapshotIndex: plan.snapshot.index, lastIndex, bytes: result.byteCount }));
  } else {
    io.stdout(
      `restored ${result.outputPath} from ${client.url} generation=${plan.generationId} snapshot=${formatIndex(plan.snapshot.index)} ` +
        `through-index=${formatIndex(lastIndex)} bytes=${result.byteCount}`,
    );
  }
  return EXIT_OK;
}

/** Until SIGINT or SIGTERM, which stop it after the apply in flight: OUT is whole whenever it stops. */
async function followCommand(
  args: RestoreArgs,
  io: CliIo,
  target: { client: ReplicaClient; outputPath: string; integrityCheck: IntegrityCheck; replicaDir: string | undefined },
): Promise<number> {
  for (const [flag, given] of [['--generation', args.generation], ['--index', args.index], ['--timestamp', args.timestamp]] as const) {
    if (given !== undefined) throw new WalsyncError('USAGE', `${flag}: --follow follows the newest generation to its newest commit; restore to a point without --follow`);
  }
  if (args['if-db-not-exists']) throw new WalsyncError('USAGE', '--if-db-not-exists: --follow continues a database it followed before and refuses any other');
  const intervalMs = durationArg('follow-interval', args['follow-interval']);
  const stop = new AbortController();
  const removeHandlers = io.onSignals(['SIGINT', 'SIGTERM'], (signal) => {
    io.log.info('stopping after the apply in flight', { db: path.resolve(target.outputPath), signal });
    stop.abort();
  });
  try {
    await follow({
      client: target.client,
      outputPath: target.outputPath,
      intervalMs,
      signal: stop.signal,
      log: io.log,
      watchDir: target.replicaDir,
      parallelism: args.parallelism,
      integrityCheck: target.integrityCheck,
      onApplied: ({ position, segmentCount, restored }) => {
        if (!args.json) return;
        io.stdout(JSON.stringify({ generation: position.generationId, index: position.index, offset: position.offset, segments: segmentCount, ...(restored ? { restored } : {}) }));
      },
    });
    return EXIT_OK;
  } finally {
    removeHandlers();
  }
}

function fromUrl(args: RestoreArgs, io: CliIo): { client: ReplicaClient; outputPath: string } {
  if (!args.replica) throw new WalsyncError('USAGE', 'REPLICA_URL: missing the replica to restore from');
  if (!args.output) throw new WalsyncError('USAGE', '-o/--output: missing the path to restore to');
  return { client: openReplicaArg(args.replica, io.log, ageFromArgs(args, io.log)), outputPath: args.output };
}

/** The database's first replica in the config, with its keys; identities from --age-identity add to the config's. */
async function fromConfig(file: string, args: RestoreArgs, io: CliIo): Promise<{ client: ReplicaClient; outputPath: string }> {
  if (!args.replica) throw new WalsyncError('USAGE', 'DB_PATH: missing the database to restore (with --config)');
  const config = await loadConfig(path.resolve(file), process.env, { unsetVariables: 'kept' });
  for (const warning of config.warnings) io.log.warn('config warning', { warning });
  const dbPath = path.resolve(args.replica);
  const db = dbConfigNamed(config, dbPath);
  if (!db) throw new WalsyncError('USAGE', `${dbPath}: not a database ${path.basename(config.file)} names (by path, or under a dir entry)`);
  const [replica] = db.replicas;
  if (!replica) throw new WalsyncError('USAGE', `${path.basename(config.file)}: ${dbPath} has no replicas to restore from`);
  const unset = unresolvedVariables({ location: replica.location, age: replica.age });
  if (unset.length > 0) throw new WalsyncError('CONFIG_INVALID', `${path.basename(config.file)}: the replica of ${dbPath} uses ${unset.join(', ')}, not set in the environment`);
  const extra = ageFromArgs(args, io.log);
  const age = replica.age && extra ? { ...replica.age, identities: [...replica.age.identities, ...extra.identities] } : (replica.age ?? extra);
  return { client: openReplica(replica.location, undefined, process.env, age), outputPath: args.output ?? dbPath };
}

function parseTimestamp(text: string): Date {
  const date = new Date(text);
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/.test(text) || Number.isNaN(date.getTime())) {
    throw new WalsyncError('USAGE', `--timestamp: ${JSON.stringify(text)} is not an RFC 3339 time (e.g. 2026-11-24T12:00:00Z)`);
  }
  return date;
}

function throttledProgress(io: CliIo): (progress: RestoreProgress) => void {
  let last = 0;
  return (progress) => {
    const now = Date.now();
    if (now - last < 200 && progress.objectCount < progress.totalObjectCount) return;
    last = now;
    io.progress(`restoring: ${(progress.byteCount / 1048576).toFixed(1)} MiB, ${progress.objectCount}/${progress.totalObjectCount} objects`);
  };
}
