/**
 * The bulk of a sync, done before taking the write lock so the app is held
 * up only for the last few frames: copy what was committed since the
 * previous sync, then checkpoint PASSIVE up to a fresh pin.
 *
 * Safe without the lock because the pin stops the WAL from restarting,
 * committed frames never change inside one WAL cycle, and the shadow only
 * grows by whole transactions equal to the WAL's bytes at the same offsets
 * (two processes doing this write the same bytes). Anything unexpected is
 * left for the locked sync to decide.
 */
import type { FileHandle } from 'node:fs/promises';
import type { LiveDb } from '../db/live-db.js';
import { frameCountAt } from '../wal/format.js';
import { sameWalHeader } from '../wal/header.js';
import type { CheckpointPolicy } from './checkpoint.js';
import { checkpointModeFor } from './checkpoint.js';
import type { CopyCount, ShadowCursor } from './shadow-wal.js';
import { NOTHING_COPIED, addCounts, appendCommittedFrames } from './shadow-wal.js';
import { hasFrameAfter, readWalFileHeader } from './wal-file.js';

/** Another round of unlocked copying is worth it while the last one found this much. */
const QUIET_BYTE_COUNT = 1024 * 1024;
const MAX_ROUNDS = 4;

/** `cursor` is where the shadow file `shadowPath` ends, as the sync just read it. */
export async function copyWithoutLock(
  db: LiveDb,
  policy: CheckpointPolicy,
  shadowPath: string,
  cursor: ShadowCursor,
): Promise<{ cursor: ShadowCursor; count: CopyCount }> {
  const nothing = { cursor, count: NOTHING_COPIED };
  if (!db.isWalPinned) return nothing;
  const wal = await db.openWal();
  try {
    const head = await readWalFileHeader(wal);
    if (head.kind !== 'ok' || !sameWalHeader(head.header, cursor.header) || !(await hasFrameAfter(wal, cursor.header, cursor.end))) return nothing;
    let copied = await copyUntilQuiet(wal, shadowPath, { cursor, count: NOTHING_COPIED });
    const walGrew = copied.count.byteCount > 0;
    if (walGrew && checkpointModeFor(policy, frameCountAt(copied.cursor.end.offset, cursor.header.pageSize), 0)) {
      // Backfill up to a fresh pin now, so the locked checkpoint has only the last frames left.
      db.pinWal();
      db.checkpoint('PASSIVE');
      // The locked checkpoint syncs the WAL before it backfills: flushing what the app wrote
      // meanwhile now leaves that sync only the frames of the last instant, and the app
      // waits for walsync's lock milliseconds instead of tens of them.
      await wal.datasync();
      copied = await copyUntilQuiet(wal, shadowPath, copied);
    }
    return copied;
  } finally {
    await wal.close();
  }
}

/** Copies again while the app keeps committing faster than a round takes, a few rounds at most. */
async function copyUntilQuiet(
  wal: FileHandle,
  shadowPath: string,
  from: { cursor: ShadowCursor; count: CopyCount },
): Promise<{ cursor: ShadowCursor; count: CopyCount }> {
  let state = from;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    // Not fsynced round by round (syncShadow fsyncs once, after the lock): a round would
    // take as long as the app needs to write the next one's bytes.
    const appended = await appendCommittedFrames(wal, shadowPath, state.cursor);
    state = { cursor: appended.cursor, count: addCounts(state.count, appended.count) };
    if (appended.count.byteCount < QUIET_BYTE_COUNT) break;
  }
  return state;
}
