/** Job: copy newly committed WAL frames into the shadow WAL, checkpointing by policy. */
import type { JobContext } from '../src/job.js';
import type { SyncShadowResult } from '../src/shadow/sync-shadow.js';
import { syncShadow } from '../src/shadow/sync-shadow.js';

export async function run(ctx: JobContext): Promise<SyncShadowResult> {
  const result = await syncShadow(ctx.db, {
    metaDir: ctx.metaDir,
    policy: ctx.policy,
    log: ctx.log,
    cursor: ctx.state.cursor,
  });
  ctx.state.cursor = result.cursor;
  return result;
}
