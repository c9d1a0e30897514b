/** Job: sync the shadow with the live WAL and ship to every replica what it lacks (src/replication/sync-to-replicas.ts). */
import type { JobContext } from '../src/job/context.js';
import type { SyncJobResult } from '../src/replication/sync-to-replicas.js';
import { syncToReplicas } from '../src/replication/sync-to-replicas.js';

export async function run(ctx: JobContext): Promise<SyncJobResult> {
  return syncToReplicas(ctx);
}
