/** Job: drop snapshots and WAL segments past the retention period from every replica. */
import type { JobContext } from '../src/job.js';
import { replicate } from '../src/replica/replicate.js';
import type { RetentionResult } from '../src/retention.js';
import { enforceRetention } from '../src/retention.js';

export async function run(ctx: JobContext & { readonly retentionMs: number }): Promise<RetentionResult[]> {
  const results: RetentionResult[] = [];
  const { cursor } = ctx.state;
  for (const target of ctx.replicas) {
    results.push(
      await enforceRetention(target.client, {
        retentionMs: ctx.retentionMs,
        currentGenerationId: cursor?.generationId,
        takeSnapshot: cursor
          ? async () => (await replicate({ ...ctx, client: target.client, memory: target.memory, cursor, takeSnapshot: true })).snapshot!
          : undefined,
      }),
    );
  }
  return results;
}
