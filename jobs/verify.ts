/** Job: check that the shadow WAL is whole and still continues the real WAL. */
import type { JobContext } from '../src/job.js';
import type { ShadowVerification } from '../src/verify.js';
import { verifyShadow } from '../src/verify.js';

export async function run(ctx: JobContext): Promise<ShadowVerification> {
  return verifyShadow(ctx.db, ctx.metaDir);
}
