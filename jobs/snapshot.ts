/**
 * Job: a full snapshot of the current position to every replica. The shadow
 * is synced first and each replica given the WAL it lacks, so the snapshot's
 * position is one the shadow (and the replica's WAL) reaches.
 */
import type { JobContext } from '../src/job.js';
import type { SnapshotInfo } from '../src/replica/client.js';
import { replicate } from '../src/replica/replicate.js';
import { syncShadow } from '../src/shadow/sync-shadow.js';

export type TakenSnapshot = SnapshotInfo & { readonly databaseSize: number };

export async function run(ctx: JobContext): Promise<{ generationId: string; snapshots: TakenSnapshot[] }> {
  const synced = await syncShadow(ctx.db, { metaDir: ctx.metaDir, policy: ctx.policy, log: ctx.log, cursor: ctx.state.cursor });
  ctx.state.cursor = synced.cursor;
  const snapshots: TakenSnapshot[] = [];
  for (const target of ctx.replicas) {
    const replicated = await replicate({ ...ctx, client: target.client, memory: target.memory, cursor: synced.cursor, takeSnapshot: true });
    snapshots.push(replicated.snapshot!);
  }
  return { generationId: synced.generationId, snapshots };
}
