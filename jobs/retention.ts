/** Job: drop snapshots and WAL segments past each replica's retention period. */
import { DEFAULT_RETENTION_MS } from '../src/config/defaults.js';
import type { JobContext } from '../src/job/context.js';
import { syncAndSnapshot } from '../src/replication/take-snapshot.js';
import type { RetentionResult } from '../src/replication/retention.js';
import { enforceRetention } from '../src/replication/retention.js';

export async function run(ctx: JobContext): Promise<RetentionResult[]> {
  const results: RetentionResult[] = [];
  for (const target of ctx.replicas) {
    const currentGenerationId = ctx.state.shadow?.cursor.generationId;
    const result = await enforceRetention(target.client, {
      retentionMs: target.retentionMs ?? DEFAULT_RETENTION_MS,
      currentGenerationId,
      takeSnapshot: async () => (await syncAndSnapshot(ctx, [target])).snapshots[0]!,
    });
    for (const other of result.otherWriters) {
      ctx.log.warn('another writer', {
        db: ctx.db.dbPath,
        generation: currentGenerationId,
        replica: target.client.url,
        other: other.generationId,
        snapshotAt: other.snapshotAt.toISOString(),
        hint: 'a second primary is replicating to this location; stop one of them',
      });
    }
    results.push(result);
  }
  return results;
}
