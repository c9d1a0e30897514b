/**
 * Job: a full snapshot of the current position to every replica. The shadow
 * is synced first, so the pinned position the snapshot is read at is one the
 * shadow (and so the replica's WAL) reaches.
 */
import type { JobContext } from '../src/job.js';
import type { SnapshotInfo } from '../src/replica/client.js';
import { uploadSnapshot } from '../src/replica/snapshot.js';
import { syncShadow } from '../src/shadow/sync-shadow.js';

export async function run(ctx: JobContext): Promise<{ generationId: string; snapshots: SnapshotInfo[] }> {
  const synced = await syncShadow(ctx.db, { metaDir: ctx.metaDir, policy: ctx.policy, log: ctx.log, cursor: ctx.state.cursor });
  ctx.state.cursor = synced.cursor;
  const snapshots: SnapshotInfo[] = [];
  for (const target of ctx.replicas) {
    const snapshot = await uploadSnapshot(ctx.db, target.client, ctx.metaDir, synced.generationId, synced.index);
    ctx.log.info('snapshot', { db: ctx.db.dbPath, generation: synced.generationId, replica: target.client.url, index: synced.index, bytes: snapshot.databaseSize });
    snapshots.push(snapshot);
  }
  return { generationId: synced.generationId, snapshots };
}
