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
import type { FileHandle } from 'node:fs/promises';
import type { CheckpointMode, LiveDb } from '../db/live-db.js';
import { WalsyncError } from '../errors.js';
import { readRange } from '../fsx/file-io.js';
import type { WalHeader } from '../wal/format.js';
import { frameSizeFor } from '../wal/format.js';
import { chainStart, parseFrameHeader, startWalk, walkFrames } from '../wal/frames.js';
import { isWalRestartOf, sameWalHeader } from '../wal/header.js';
import type { ShadowCursor } from './shadow-wal.js';
import { readWalFileHeader, walkWalFile } from './wal-file.js';

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

/**
 * What the WAL looks like after walsync's checkpoint: the same cycle
 * (continue the index), a restart with provably nothing lost before it (the
 * next index of the same generation), or anything else (a new generation:
 * walsync cannot prove nothing was lost).
 */
export type CheckpointOutcome =
  | { readonly kind: 'same-cycle' }
  | { readonly kind: 'next-index'; readonly header: WalHeader }
  | { readonly kind: 'new-generation'; readonly header: WalHeader; readonly reason: string };

/** Checkpoints with the write lock held and `cursor` at the end of the WAL's commits; returns with the lock held. */
export async function checkpointAndClassify(db: LiveDb, wal: FileHandle, cursor: ShadowCursor, mode: CheckpointMode): Promise<CheckpointOutcome> {
  const { restartedByWalsync } = await checkpointAndRestart(db, mode);
  const after = await readWalFileHeader(wal);
  if (after.kind !== 'ok') {
    throw new WalsyncError('WAL_CORRUPT', `${db.walPath}: no valid WAL header after checkpoint (${after.kind === 'invalid' ? after.reason : 'missing'})`);
  }
  if (sameWalHeader(after.header, cursor.header)) return { kind: 'same-cycle' };
  const provenRestart =
    isWalRestartOf(after.header, cursor.header) &&
    (restartedByWalsync || (mode === 'PASSIVE' && (await nothingAppendedBeforeRestart(wal, cursor, after.header))));
  if (provenRestart) return { kind: 'next-index', header: after.header };
  return { kind: 'new-generation', header: after.header, reason: "WAL restarted by another connection during walsync's checkpoint" };
}

/**
 * After walsync's complete PASSIVE checkpoint it lets go of the write lock
 * for an instant before its own restarting write; an app writer waiting for
 * the lock may restart the WAL first. That loses nothing if the app's write
 * was the first after walsync's copy. Had the app appended a transaction to
 * the old cycle instead (and checkpointed and restarted after it), that
 * transaction would start right where the shadow ends, with the old salts
 * and the shadow's checksum chain, and the new cycle has not reached there.
 * Unless the new cycle overwrote it: a first transaction that spills before
 * its commit writes frames from the start of the file, rewrites a spilled
 * page in place (its frame header then no longer matches) and writes the
 * frames after that with zeroed salts and checksums until its commit fixes
 * them up (SQLite's wal.c, iReCksum). Rolled back or killed past the
 * shadow's end, it leaves no valid frame of either cycle there, and the old
 * cycle's lost commits with it. So a frame at the shadow's end that the new
 * cycle could have written (its salts, or zeroed ones) proves nothing.
 */
export async function nothingAppendedBeforeRestart(wal: FileHandle, cursor: ShadowCursor, newHeader: WalHeader): Promise<boolean> {
  const newCycle = await walkWalFile(wal, newHeader, chainStart(newHeader));
  if (newCycle.validEnd.offset > cursor.end.offset) return false;
  const frameSize = frameSizeFor(cursor.header.pageSize);
  const next = await readRange(wal, cursor.end.offset, frameSize);
  if (next.byteLength < frameSize) return true;
  const { salt1, salt2 } = parseFrameHeader(next);
  if ((salt1 === newHeader.salt1 && salt2 === newHeader.salt2) || (salt1 === 0 && salt2 === 0)) return false;
  return walkFrames(next, cursor.header, startWalk(cursor.end)).frameCount === 0;
}
