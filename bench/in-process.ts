/** Jobs run in the bench's own process: the work itself, without a process start. */
import { run as runSnapshot } from '../jobs/snapshot.js';
import { run as runSync } from '../jobs/sync.js';
import { openJobContext } from '../src/job/context.js';
import { silentLogger } from '../src/log.js';
import type { ReplicaSpec } from '../src/replica/url.js';

/** No checkpoint during a measurement: the WAL stays as built. */
export const HUGE_POLICY = { minPageCount: 100_000_000, truncatePageCount: 100_000_000, idleIntervalMs: 0 };

/**
 * The snapshot job, after a sync that left nothing to ship: the snapshot
 * itself (read, compress, encrypt if the replica says so, write, flush).
 */
export async function inProcessSnapshot(dbPath: string, replica: ReplicaSpec): Promise<{ ms: number; imageSize: number }> {
  const ctx = await openJobContext(dbPath, { policy: HUGE_POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: false, replicas: [replica], lock: { role: 'one-shot', what: 'bench' } });
  try {
    await runSync(ctx);
    const start = process.hrtime.bigint();
    const { snapshots } = await runSnapshot(ctx);
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    return { ms, imageSize: snapshots[0]!.databaseSize };
  } finally {
    await ctx.close();
  }
}
