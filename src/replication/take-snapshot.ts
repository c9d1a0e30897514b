/**
 * A snapshot on demand (the snapshot job, and retention when no snapshot
 * would remain): sync the shadow first, so the snapshot is read at the
 * position the sync just left the shadow and the pin at, whatever an
 * earlier, failed job left behind; then give each replica the WAL it lacks
 * and the snapshot.
 */
import type { JobContext, ReplicaTarget } from '../job/context.js';
import { syncShadow } from '../shadow/sync-shadow.js';
import type { SnapshotInfo } from '../replica/client.js';
import { replicate } from './replicate.js';

export type TakenSnapshot = SnapshotInfo & { readonly databaseSize: number };

export async function syncAndSnapshot(ctx: JobContext, targets: readonly ReplicaTarget[]): Promise<{ generationId: string; snapshots: TakenSnapshot[] }> {
  const synced = await syncShadow(ctx.db, { metaDir: ctx.metaDir, policy: ctx.policy, log: ctx.log, previous: ctx.state.shadow });
  ctx.state.shadow = synced.mark;
  const snapshots: TakenSnapshot[] = [];
  for (const target of targets) {
    const replicated = await replicate({ ...ctx, client: target.client, memory: target.memory, cursor: synced.cursor, takeSnapshot: true });
    snapshots.push(replicated.snapshot!);
  }
  return { generationId: synced.generationId, snapshots };
}
