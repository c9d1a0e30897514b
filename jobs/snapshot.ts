/**
 * Job: a full snapshot of the current position to every replica, after a
 * shadow sync and the WAL each replica lacks.
 */
import type { JobContext } from '../src/job/context.js';
import type { SnapshotJobResult } from '../src/job/registry.js';
import { syncAndSnapshot } from '../src/replication/take-snapshot.js';

export async function run(ctx: JobContext): Promise<SnapshotJobResult> {
  return syncAndSnapshot(ctx, ctx.replicas);
}
