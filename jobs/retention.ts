/** Job: drop snapshots and WAL segments past the retention period from every replica. */
import type { JobContext } from '../src/job.js';
import { uploadSnapshot } from '../src/replica/snapshot.js';
import type { RetentionResult } from '../src/retention.js';
import { enforceRetention } from '../src/retention.js';

export async function run(ctx: JobContext & { readonly retentionMs: number }): Promise<RetentionResult[]> {
  const results: RetentionResult[] = [];
  const currentGenerationId = ctx.state.cursor?.generationId;
  for (const target of ctx.replicas) {
    results.push(
      await enforceRetention(target.client, {
        retentionMs: ctx.retentionMs,
        currentGenerationId,
        takeSnapshot: ctx.state.cursor
          ? () => uploadSnapshot(ctx.db, target.client, ctx.metaDir, ctx.state.cursor!.generationId, ctx.state.cursor!.index)
          : undefined,
      }),
    );
  }
  return results;
}
