/** `walsync snapshot DB REPLICA_URL...`: a full snapshot of the current position to each replica. */
import type { Argv } from 'yargs';
import { EXIT_OK, WalsyncError } from '../../errors.js';
import type { JobRegistry } from '../../job/registry.js';
import { formatIndex } from '../../wal/pos.js';
import type { DbArgs } from '../common.js';
import { openFromArgs, withDbOptions } from '../common.js';
import type { CliIo } from '../io.js';
import type { AgeArgs } from '../age-option.js';
import { ageFromArgs, withAgeOptions } from '../age-option.js';

export interface SnapshotArgs extends DbArgs, AgeArgs {
  replicas?: string[];
  json: boolean;
}

export function snapshotBuilder<T>(yargs: Argv<T>) {
  return withAgeOptions(withDbOptions(yargs), { write: true })
    .positional('db', { type: 'string', describe: 'SQLite database in WAL mode' })
    .positional('replicas', { type: 'string', array: true, describe: 'Replicas to write the snapshot to' });
}

export async function snapshotCommand(args: SnapshotArgs, io: CliIo, jobs: JobRegistry): Promise<number> {
  if (!args.replicas?.length) throw new WalsyncError('USAGE', 'REPLICA_URL: missing the replica to write the snapshot to');
  const ctx = await openFromArgs(args, io.log, { switchToWal: true, replicaUrls: args.replicas, age: ageFromArgs(args, io.log), lock: { role: 'one-shot', what: 'snapshot' } });
  try {
    const result = await jobs.snapshot.run(ctx);
    for (const snapshot of result.snapshots) {
      const replica = ctx.replicas[result.snapshots.indexOf(snapshot)]!.client.url;
      if (args.json) io.stdout(JSON.stringify({ replica, generation: snapshot.generationId, index: snapshot.index, size: snapshot.size }));
      else io.stdout(`snapshot ${ctx.db.dbPath} -> ${replica} generation=${snapshot.generationId} index=${formatIndex(snapshot.index)} size=${snapshot.size}`);
    }
    return EXIT_OK;
  } finally {
    await ctx.close();
  }
}
