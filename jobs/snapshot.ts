/**
 * Job: a full snapshot of the current position to every replica, after a
 * shadow sync and the WAL each replica lacks.
 */
import type { JobContext } from '../src/job/context.js';
import type { TakenSnapshot } from '../src/replication/take-snapshot.js';
import { syncAndSnapshot } from '../src/replication/take-snapshot.js';

export async function run(ctx: JobContext): Promise<{ generationId: string; snapshots: TakenSnapshot[] }> {
  return syncAndSnapshot(ctx, ctx.replicas);
}
