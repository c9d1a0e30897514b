/**
 * `walsync verify DB --replica URL`: sync, restore the replica's latest
 * position to a temporary file, and compare it with the live database at the
 * same position (the pin, which the sync left exactly where the shadow and
 * the replica end).
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { WalsyncError } from '../errors.js';
import { syncToReplicas } from '../replication/sync-to-replicas.js';
import { firstDifference } from './compare.js';
import type { JobContext } from '../job/context.js';
import { removeDatabaseFiles, restore } from './restore.js';
import type { Pos } from '../wal/pos.js';

export interface ReplicaVerification {
  readonly replica: string;
  readonly position: Pos;
  readonly difference?: string;
  /** Why the replica does not restore at all (a damaged, missing or foreign object), naming the object. */
  readonly restoreError?: string;
}

/** Restore failures that are the replica's inconsistency, not a failure of this run. */
const REPLICA_FAULTS: ReadonlySet<string> = new Set(['REPLICA_CORRUPT', 'RESTORE_GAP', 'NO_BACKUPS', 'REPLICA_NOT_FOUND']);

export async function verifyReplica(ctx: JobContext): Promise<ReplicaVerification[]> {
  const synced = await syncToReplicas(ctx);
  const results: ReplicaVerification[] = [];
  for (const [i, target] of ctx.replicas.entries()) {
    const restoredPath = path.join(ctx.metaDir, 'verify.tmp');
    await removeDatabaseFiles(restoredPath);
    try {
      try {
        await restore({ client: target.client, outputPath: restoredPath, generationId: synced.generationId });
      } catch (error) {
        if (!(error instanceof WalsyncError) || !REPLICA_FAULTS.has(error.code)) throw error;
        results.push({ replica: target.client.url, position: synced.replicas[i]!.position, restoreError: error.message });
        continue;
      }
      const restored = new Database(restoredPath, { readonly: true });
      try {
        const difference = firstDifference(
          { rows: (sql) => ctx.db.iteratePinned(sql) },
          { rows: (sql) => restored.prepare(sql).raw().iterate() as IterableIterator<unknown[]> },
        );
        results.push({ replica: target.client.url, position: synced.replicas[i]!.position, difference });
      } finally {
        restored.close();
      }
    } finally {
      await removeDatabaseFiles(restoredPath);
    }
  }
  return results;
}
