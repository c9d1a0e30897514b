/** Job: check that the shadow WAL is whole and still continues the real WAL. */
import type { JobContext } from '../src/job/context.js';
import type { ShadowVerification } from '../src/shadow/verify.js';
import { verifyShadow } from '../src/shadow/verify.js';

export async function run(ctx: JobContext): Promise<ShadowVerification> {
  return verifyShadow(ctx.db, ctx.metaDir);
}
