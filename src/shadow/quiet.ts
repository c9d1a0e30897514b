/**
 * What one sync hands the next sync of the same database in this process,
 * and what it proves: that nothing was committed since (an idle database's
 * sync touches no file), and when a sync without commits would still have
 * work to do (a checkpoint).
 */
import type { LiveDb } from '../db/live-db.js';
import { frameCountAt } from '../wal/format.js';
import type { CheckpointPolicy } from './checkpoint.js';
import { checkpointModeFor } from './checkpoint.js';
import type { ShadowCursor } from './shadow-wal.js';

export interface ShadowMark {
  readonly cursor: ShadowCursor;
  /**
   * Set by a sync that finished: the WAL's stamp (LiveDb.walStamp) read
   * under the write lock after walsync's own writes, and when the shadow
   * last grew. An unchanged stamp proves nothing was committed since.
   */
  readonly quiet?: { readonly walStamp: string; readonly shadowChangedAtMs: number };
}

/**
 * An idle database's sync, every second in a long-running process: nobody
 * changed the WAL since the previous sync (which copied everything under the
 * write lock) and no checkpoint is due, so there is nothing to copy. With
 * the pin held, the app cannot restart the WAL without committing.
 */
export function nothingCommittedSince(db: LiveDb, previous: ShadowMark, policy: CheckpointPolicy, now: number): boolean {
  if (!previous.quiet || !db.isWalPinned || db.walStamp() !== previous.quiet.walStamp) return false;
  const dueAt = quietSyncDueAt(previous, policy);
  return dueAt === undefined || dueAt > now;
}

/**
 * When a sync that finds nothing committed would still have work: a
 * checkpoint due by size now, or the idle checkpoint once the shadow has not
 * grown for the idle interval. Undefined: not before the next commit.
 */
export function quietSyncDueAt(previous: ShadowMark | undefined, policy: CheckpointPolicy): number | undefined {
  if (!previous?.quiet) return 0;
  const { cursor, quiet } = previous;
  const frames = frameCountAt(cursor.end.offset, cursor.header.pageSize);
  if (checkpointModeFor(policy, frames, 0)) return 0;
  return checkpointModeFor(policy, frames, Number.POSITIVE_INFINITY) ? quiet.shadowChangedAtMs + policy.idleIntervalMs : undefined;
}
