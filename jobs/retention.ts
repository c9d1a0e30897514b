/** Job: drop snapshots and WAL segments past each replica's retention period. */
import { DEFAULT_RETENTION_MS } from '../src/config/defaults.js';
import type { JobContext } from '../src/job/context.js';
import { syncAndSnapshot } from '../src/replication/take-snapshot.js';
import type { RetentionResult } from '../src/replication/retention.js';
import { enforceRetention } from '../src/replication/retention.js';

export async function run(ctx: JobContext): Promise<RetentionResult[]> {
  const results: RetentionResult[] = [];
  for (const target of ctx.replicas) {
    results.push(
      await enforceRetention(target.client, {
        retentionMs: target.retentionMs ?? DEFAULT_RETENTION_MS,
        currentGenerationId: ctx.state.shadow?.cursor.generationId,
        takeSnapshot: async () => (await syncAndSnapshot(ctx, [target])).snapshots[0]!,
      }),
    );
  }
  return results;
}
