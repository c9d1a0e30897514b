/**
 * One sync of a database: copy newly committed WAL frames into the shadow WAL
 * (checkpointing by policy), then ship to every replica what it lacks. A
 * failing replica fails the run after the others were served; the shadow
 * keeps every byte a replica has not confirmed, and local shadow files go
 * only once every replica holds them.
 */
import type { JobContext } from '../job/context.js';
import type { ReplicateResult } from './replicate.js';
import { deleteReplicatedShadow, replicate } from './replicate.js';
import { listShadowIndexes } from '../shadow/generation.js';
import type { SyncShadowResult } from '../shadow/sync-shadow.js';
import { syncShadow } from '../shadow/sync-shadow.js';

export interface SyncJobResult extends SyncShadowResult {
  readonly replicas: readonly ReplicateResult[];
}

export async function syncToReplicas(ctx: JobContext): Promise<SyncJobResult> {
  const result = await syncShadow(ctx.db, {
    metaDir: ctx.metaDir,
    policy: ctx.policy,
    log: ctx.log,
    previous: ctx.state.shadow,
    onUnlockedCopy: (mark) => (ctx.state.shadow = mark),
  });
  ctx.state.shadow = result.mark;
  ctx.state.shadowByteCount = (ctx.state.shadowByteCount ?? 0) + result.byteCount;
  const replicas: ReplicateResult[] = [];
  let failure: unknown;
  for (const target of ctx.replicas) {
    try {
      replicas.push(await replicate({ ...ctx, client: target.client, memory: target.memory, cursor: result.cursor }));
    } catch (error) {
      failure ??= error;
    }
  }
  if (failure !== undefined) throw failure;
  const heldBelow = indexEveryReplicaHolds(ctx, result.generationId);
  if (heldBelow !== undefined) {
    const cleaned = ctx.state.shadowDeletedBelow;
    // Shadow files are only ever added above the current index, so once everything below
    // `heldBelow` is gone, the next sync has something to delete only when that bound moves.
    if (cleaned?.generationId !== result.generationId || cleaned.index !== heldBelow) {
      const indexes = await listShadowIndexes(ctx.metaDir, result.generationId);
      await deleteReplicatedShadow(ctx.metaDir, result.generationId, indexes, heldBelow);
      ctx.state.shadowDeletedBelow = { generationId: result.generationId, index: heldBelow };
    }
  }
  return { ...result, replicas };
}

/**
 * The lowest WAL index of the generation that some replica may still lack:
 * every replica's position as this process last confirmed it. Undefined when
 * a replica has none for the generation (not shipped to yet in this process,
 * or its last run failed): then nothing is deleted.
 */
function indexEveryReplicaHolds(ctx: JobContext, generationId: string): number | undefined {
  if (ctx.everyReplica.length === 0) return undefined;
  let lowest = Infinity;
  for (const target of ctx.everyReplica) {
    const position = target.memory.position;
    if (position?.generationId !== generationId) return undefined;
    lowest = Math.min(lowest, position.index);
  }
  return lowest;
}
