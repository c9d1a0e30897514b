/** `walsync retention REPLICA_URL --retention 24h`: delete what is past retention (Litestream 0.3 rules). */
import type { Argv } from 'yargs';
import { EXIT_OK, WalsyncError } from '../../errors.js';
import { DEFAULTS } from '../../config/defaults.js';
import { enforceRetention } from '../../replication/retention.js';
import type { AgeArgs } from '../age-option.js';
import { ageFromArgs, withAgeOptions } from '../age-option.js';
import { durationArg } from '../common.js';
import type { CliIo } from '../io.js';
import { openReplicaArg } from '../replica-arg.js';

export interface RetentionArgs extends AgeArgs {
  replica?: string;
  retention: string;
  json: boolean;
}

export function retentionBuilder<T>(yargs: Argv<T>) {
  return withAgeOptions(yargs, { write: false })
    .positional('replica', { type: 'string', describe: 'Replica: file:///abs/dir, s3://bucket/prefix, sftp://user@host/path or a directory path' })
    .option('retention', { type: 'string', default: DEFAULTS.replica.retention, describe: 'Keep snapshots newer than this' });
}

export async function retentionCommand(args: RetentionArgs, io: CliIo): Promise<number> {
  if (!args.replica) throw new WalsyncError('USAGE', 'REPLICA_URL: missing the replica');
  const retentionMs = durationArg('retention', args.retention);
  const result = await enforceRetention(openReplicaArg(args.replica, io.log, ageFromArgs(args, io.log)), { retentionMs });
  const summary = {
    kept: result.keptSnapshots.map((s) => `${s.generationId}/${s.index}`),
    deletedGenerations: result.deletedGenerations,
    deletedSnapshots: result.deletedSnapshotCount,
    deletedWalSegments: result.deletedWalSegmentCount,
  };
  if (args.json) io.stdout(JSON.stringify(summary));
  else {
    io.stdout(
      `retention ${args.replica}: kept ${summary.kept.length} snapshot(s), deleted ${summary.deletedGenerations.length} generation(s), ` +
        `${summary.deletedSnapshots} snapshot(s), ${summary.deletedWalSegments} WAL segment(s)`,
    );
  }
  return EXIT_OK;
}
