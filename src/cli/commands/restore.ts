/** `walsync restore -o OUT [--generation G] [--index N | --timestamp T] [--if-db-not-exists] [--if-replica-exists] REPLICA_URL` */
import type { Argv } from 'yargs';
import { EXIT_OK, WalsyncError } from '../../errors.js';
import type { RestoreProgress } from '../../restore/restore.js';
import { restore } from '../../restore/restore.js';
import { openReplica } from '../../replica/url.js';
import { formatIndex, isGenerationId } from '../../wal/pos.js';
import type { CliIo } from '../io.js';
import type { AgeArgs } from '../age-option.js';
import { ageFromArgs, withAgeOptions } from '../age-option.js';

export interface RestoreArgs extends AgeArgs {
  replica?: string;
  output?: string;
  generation?: string;
  index?: number;
  timestamp?: string;
  'if-db-not-exists': boolean;
  'if-replica-exists': boolean;
  json: boolean;
}

export function restoreBuilder<T>(yargs: Argv<T>) {
  return withAgeOptions(yargs, { write: false })
    .positional('replica', { type: 'string', describe: 'Replica to restore from: file:///abs/dir, s3://bucket/prefix or a directory path' })
    .option('output', { alias: 'o', type: 'string', describe: 'Path of the restored database (must not exist)' })
    .option('generation', { type: 'string', describe: 'Generation to restore (default: the newest)' })
    .option('index', { type: 'number', describe: 'Restore up to the end of this WAL index' })
    .option('timestamp', { type: 'string', describe: 'Restore to this moment (RFC 3339)' })
    .option('if-db-not-exists', { type: 'boolean', default: false, describe: 'Do nothing (exit 0) when the output exists' })
    .option('if-replica-exists', { type: 'boolean', default: false, describe: 'Do nothing (exit 0) when the replica has no backups' })
    .conflicts('index', 'timestamp');
}

export async function restoreCommand(args: RestoreArgs, io: CliIo): Promise<number> {
  if (!args.replica) throw new WalsyncError('USAGE', 'REPLICA_URL: missing the replica to restore from');
  if (!args.output) throw new WalsyncError('USAGE', '-o/--output: missing the path to restore to');
  if (args.generation !== undefined && !isGenerationId(args.generation)) {
    throw new WalsyncError('USAGE', `--generation: ${JSON.stringify(args.generation)} is not a generation (16 lowercase hex digits)`);
  }
  if (args.index !== undefined && (!Number.isSafeInteger(args.index) || args.index < 0)) {
    throw new WalsyncError('USAGE', `--index: ${args.index} is not a WAL index`);
  }
  const timestamp = args.timestamp === undefined ? undefined : parseTimestamp(args.timestamp);
  const showProgress = !args.json && io.isTerminal;
  const result = await restore({
    client: openReplica(args.replica, undefined, process.env, ageFromArgs(args)),
    outputPath: args.output,
    generationId: args.generation,
    index: args.index,
    timestamp,
    ifDbNotExists: args['if-db-not-exists'],
    ifReplicaExists: args['if-replica-exists'],
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
      `restored ${result.outputPath} from ${args.replica} generation=${plan.generationId} snapshot=${formatIndex(plan.snapshot.index)} ` +
        `through-index=${formatIndex(lastIndex)} bytes=${result.byteCount}`,
    );
  }
  return EXIT_OK;
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
