/** `walsync generations|snapshots|wal REPLICA_URL [--generation G] [--json]`, with Litestream's columns. */
import type { Argv } from 'yargs';
import { EXIT_OK, WalsyncError } from '../../errors.js';
import { pathExists } from '../../fsx/file-io.js';
import { listAllSnapshots, listAllWalSegments, listGenerationSummaries } from '../../replica/listing.js';
import { localReplicaDir } from '../../replica/url.js';
import { formatIndex } from '../../wal/pos.js';
import type { AgeArgs } from '../age-option.js';
import { ageFromArgs, withAgeOptions } from '../age-option.js';
import type { CliIo } from '../io.js';
import { openReplicaArg } from '../replica-arg.js';

export interface ListArgs extends AgeArgs {
  replica?: string;
  generation?: string;
  json: boolean;
}

export function listBuilder<T>(yargs: Argv<T>) {
  // Listings read names, not contents; the identity is taken (and checked) as Litestream's listings take the config's.
  return withAgeOptions(yargs, { write: false })
    .positional('replica', { type: 'string', describe: 'Replica: file:///abs/dir, s3://bucket/prefix, sftp://user@host/path or a directory path' })
    .option('generation', { type: 'string', describe: 'Only this generation' });
}

export async function listCommand(what: 'generations' | 'snapshots' | 'wal', args: ListArgs, io: CliIo): Promise<number> {
  if (!args.replica) throw new WalsyncError('USAGE', 'REPLICA_URL: missing the replica to list');
  const client = openReplicaArg(args.replica, io.log, ageFromArgs(args, io.log));
  // A directory that is not there lists as empty, which reads as "no backups" where the path is mistyped.
  const dir = localReplicaDir(args.replica);
  if (dir !== undefined && !(await pathExists(dir))) throw new WalsyncError('USAGE', `${dir}: no such replica directory`);
  let rows: Record<string, string | number>[];
  if (what === 'generations') {
    rows = (await listGenerationSummaries(client))
      .filter((g) => !args.generation || g.generationId === args.generation)
      .map((g) => ({ generation: g.generationId, lag: `${Math.round(g.lagMs / 1000)}s`, start: g.start.toISOString(), end: g.end.toISOString() }));
  } else if (what === 'snapshots') {
    rows = (await listAllSnapshots(client, args.generation)).map((s) => ({
      generation: s.generationId,
      index: formatIndex(s.index),
      size: s.size,
      created: s.createdAt.toISOString(),
    }));
  } else {
    rows = (await listAllWalSegments(client, args.generation)).map((s) => ({
      generation: s.generationId,
      index: formatIndex(s.index),
      offset: s.offset,
      size: s.size,
      created: s.createdAt.toISOString(),
    }));
  }
  if (args.json) io.stdout(JSON.stringify(rows));
  else for (const line of table(rows, columnsOf(what))) io.stdout(line);
  return EXIT_OK;
}

function columnsOf(what: 'generations' | 'snapshots' | 'wal'): string[] {
  if (what === 'generations') return ['generation', 'lag', 'start', 'end'];
  if (what === 'snapshots') return ['generation', 'index', 'size', 'created'];
  return ['generation', 'index', 'offset', 'size', 'created'];
}

function table(rows: Record<string, string | number>[], columns: string[]): string[] {
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), ...rows.map((r) => line(columns.map((c) => String(r[c]))))];
}
