/**
 * Job: check that the shadow WAL is whole and still continues the real WAL;
 * with replicas, first sync them, restore each one's latest position and
 * compare it with the live database there.
 */
import type { JobContext } from '../src/job/context.js';
import type { Verification } from '../src/job/registry.js';
import { verifyReplica } from '../src/restore/verify-replica.js';
import { verifyShadow } from '../src/shadow/verify.js';

export async function run(ctx: JobContext): Promise<Verification> {
  const replicas = ctx.replicas.length > 0 ? await verifyReplica(ctx) : [];
  const shadow = await verifyShadow(ctx.db, ctx.metaDir);
  const consistent = shadow.problems.length === 0 && replicas.every((replica) => replica.difference === undefined && replica.restoreError === undefined);
  return { shadow, replicas, consistent };
}
