/**
 * walsync's own checkpoints. PASSIVE never waits on the app; TRUNCATE (for a
 * runaway WAL) waits for readers like RESTART would, so it is kept for the
 * emergency threshold; RESTART itself is never used (it stalls the app's
 * writers behind long readers: Litestream #724).
 *
 * The restart that follows a complete checkpoint must be provably walsync's
 * own, with every frame of the old cycle already in the shadow: then the new
 * cycle is the next index of the same generation. PRAGMA data_version,
 * read while walsync held the write lock and again once it writes, proves
 * that no other connection committed in between.
 */
import type { CheckpointMode, LiveDb } from '../db/live-db.js';

export interface CheckpointPolicy {
  /** PASSIVE once the WAL holds this many frames. */
  readonly minPageCount: number;
  /** TRUNCATE once the WAL holds this many frames. */
  readonly truncatePageCount: number;
  /** PASSIVE after this long without new commits, when the WAL holds more than one frame; 0 turns it off. */
  readonly idleIntervalMs: number;
}

export function checkpointModeFor(
  policy: CheckpointPolicy,
  walFrameCount: number,
  idleMs: number,
): CheckpointMode | undefined {
  if (walFrameCount >= policy.truncatePageCount) return 'TRUNCATE';
  if (walFrameCount >= policy.minPageCount) return 'PASSIVE';
  if (policy.idleIntervalMs > 0 && walFrameCount > 1 && idleMs >= policy.idleIntervalMs) return 'PASSIVE';
  return undefined;
}

/**
 * Runs with the write lock held and every committed frame copied; returns
 * with the write lock held again and the WAL unpinned. `restartedByWalsync`
 * is true only when a WAL restart, if one happened, was walsync's own with
 * no foreign commit before it.
 */
export async function checkpointAndRestart(db: LiveDb, mode: CheckpointMode): Promise<{ restartedByWalsync: boolean }> {
  db.unpinWal();
  const versionWhileLocked = db.dataVersion();
  let restartedByWalsync = false;
  try {
    if (mode === 'PASSIVE') {
      // The write lock stays held: no commit can land between the copy and the backfill.
      const result = db.checkpoint('PASSIVE');
      const complete = result.logFrameCount > 0 && result.checkpointedFrameCount === result.logFrameCount;
      if (!complete) return { restartedByWalsync: false };
      db.unlockWrites();
      // SQLite restarts the WAL on the first write after a complete checkpoint.
      restartedByWalsync = await db.writeSeq(versionWhileLocked);
    } else {
      // TRUNCATE takes the write lock itself, so walsync must let go of it first.
      db.unlockWrites();
      const result = db.checkpoint('TRUNCATE');
      // The first write into the emptied WAL must be walsync's own: SQLite
      // gives a connection that never restarted the WAL random salts there,
      // and then nothing would tie the new cycle to the old one.
      restartedByWalsync = !result.busy && db.dataVersion() === versionWhileLocked && (await db.writeSeq(versionWhileLocked));
    }
  } finally {
    await db.lockWrites();
  }
  return { restartedByWalsync };
}
