/**
 * One sync of the shadow WAL, in the order syncShadow lists: follow the file
 * at the database's path (a new one is a new generation); unless nothing
 * was committed since the last sync, read the shadow's state once, copy the
 * bulk of the new commits without the app's write lock, then under the lock
 * prove the shadow continues the real WAL (or start a new generation and say
 * why), copy the last commits and checkpoint by policy; what the app need
 * not wait for (fsync, the next shadow index) comes after the lock.
 */
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { CheckpointMode, LiveDb } from '../db/live-db.js';
import { fsyncPath, removeTmpFiles } from '../fsx/durable.js';
import { shadowWalPath } from '../layout.js';
import type { Logger } from '../log.js';
import type { WalHeader } from '../wal/format.js';
import { frameCountAt } from '../wal/format.js';
import { formatIndex } from '../wal/pos.js';
import type { CheckpointPolicy } from './checkpoint.js';
import { checkpointAndClassify, checkpointModeFor } from './checkpoint.js';
import { prepareMetaDir } from './meta-dir.js';
import type { ShadowMark } from './quiet.js';
import { nothingCommittedSince } from './quiet.js';
import type { ShadowModes } from './permissions.js';
import { readShadowModes } from './permissions.js';
import type { LockedWal } from './locked-copy.js';
import { appendCommitted, continueOrStartGeneration, startNewGeneration } from './locked-copy.js';
import { createShadowIndex } from './shadow-index.js';
import type { ShadowState } from './shadow-state.js';
import { readShadowState } from './shadow-state.js';
import { takePromotion } from '../restore/follow/follow-state.js';
import type { CopyCount, ShadowCursor } from './shadow-wal.js';
import { NOTHING_COPIED, addCounts } from './shadow-wal.js';
import { copyWithoutLock } from './unlocked-copy.js';
import { lockWithWalHeader, releaseWriteLock } from './write-lock.js';

export interface SyncShadowOptions {
  readonly metaDir: string;
  readonly policy: CheckpointPolicy;
  readonly log: Logger;
  /** What the previous sync of this database in this process returned (`mark`), or told `onUnlockedCopy`. */
  readonly previous?: ShadowMark;
  /**
   * Told where the shadow ends once the bulk was copied without the lock: a
   * sync that then fails (the app kept the write lock past the busy timeout)
   * still leaves its caller a mark to go on from, instead of one the shadow
   * has outgrown, which sends the next sync to re-read the whole shadow.
   */
  readonly onUnlockedCopy?: (mark: ShadowMark) => void;
  readonly now?: () => number;
}

export interface SyncShadowResult {
  readonly dbPath: string;
  readonly generationId: string;
  readonly index: number;
  /** End of the shadow WAL after this sync. */
  readonly offset: number;
  readonly frameCount: number;
  readonly transactionCount: number;
  readonly byteCount: number;
  /** Set when this sync started a new generation. */
  readonly newGenerationReason?: string;
  /** Set when this sync found another database file at the path and opened it (its reason is newGenerationReason). */
  readonly fileReplaced?: true;
  readonly checkpoint?: { readonly mode: string; readonly restarted: boolean };
  readonly cutBackByteCount: number;
  readonly removedTmpCount: number;
  /** WAL bytes copied before the write lock was taken: the app did not wait for these. */
  readonly unlockedByteCount: number;
  /** How long the app's writes were held off; undefined when the sync took no lock (nothing was committed). */
  readonly lockHoldMs?: number;
  readonly cursor: ShadowCursor;
  /** For the next sync's `previous`. */
  readonly mark: ShadowMark;
}

export async function syncShadow(db: LiveDb, options: SyncShadowOptions): Promise<SyncShadowResult> {
  // 0. The file at the path is the one the connections have open, or a new one, opened now.
  const followed = db.followPath();
  if (followed?.justNow) options.log.warn('database replaced', { db: db.dbPath, generation: options.previous?.cursor.generationId, reason: followed.reason });
  const replaced = followed?.reason;
  // 1. Nothing committed since the last sync: nothing to read.
  if (!replaced && options.previous && nothingCommittedSince(db, options.previous, options.policy, now(options))) return nothingNew(db, options.previous);
  // 2. The shadow's state, read once.
  const start = await readShadowOnce(db, options, replaced);
  // 3. The bulk of the new commits, copied without the lock.
  const unlocked = await copyBulkWithoutLock(db, start, options);
  try {
    // 4. Under the lock: prove continuity (or start a new generation), copy the rest, checkpoint.
    const { wal, header } = await lockWithWalHeader(db);
    try {
      const locked = await syncUnderLock(db, wal, header, unlocked, start.modes, options);
      // 5. After the lock: fsync what was copied, then the next shadow index.
      const result = await finishAfterLock(db, wal, start, unlocked.count, locked, options);
      if (!replaced) return result;
      db.followedNewFile();
      return { ...result, fileReplaced: true };
    } finally {
      await wal.close();
    }
  } catch (error) {
    // A later sync may find nothing to copy and ship these bytes as they are: they must be on
    // disk first, as on the way that succeeds. The sync's own error is the one to report.
    if (unlocked.count.byteCount > 0) await fsyncPath(start.shadowPath!).catch(() => undefined);
    throw error;
  }
}

function nothingNew(db: LiveDb, previous: ShadowMark): SyncShadowResult {
  const { cursor } = previous;
  return {
    dbPath: db.dbPath,
    generationId: cursor.generationId,
    index: cursor.index,
    offset: cursor.end.offset,
    ...NOTHING_COPIED,
    cutBackByteCount: 0,
    removedTmpCount: 0,
    unlockedByteCount: 0,
    cursor,
    mark: previous,
  };
}

interface SyncStart {
  readonly modes: ShadowModes;
  readonly shadow: ShadowState;
  /** The newest shadow WAL, when the shadow continues. */
  readonly shadowPath?: string;
  readonly removedTmpCount: number;
}

/** `replaced`: why the shadow cannot go on, as followPath said. */
async function readShadowOnce(db: LiveDb, options: SyncShadowOptions, replaced: string | undefined): Promise<SyncStart> {
  const { metaDir, previous, log } = options;
  const modes = await readShadowModes(db.dbPath);
  await prepareMetaDir(metaDir, modes);
  // Debris only comes from a killed process, so the first sync of each process clears it;
  // later ones must not, or they would race this process's own temp files.
  const removedTmpCount = previous ? 0 : await removeTmpFiles(metaDir);
  const shadow: ShadowState = replaced ? { kind: 'new-generation', reason: replaced } : await readShadowState(metaDir, previous?.cursor, db.file.identity);
  if (shadow.kind === 'new-generation' && shadow.firstSync) {
    const promotion = await takePromotion(db.dbPath);
    return { modes, shadow: promotion ? { ...shadow, reason: promotion } : shadow, removedTmpCount };
  }
  if (shadow.kind !== 'continues') return { modes, shadow, removedTmpCount };
  const { cursor, cutBack } = shadow;
  if (cutBack) log.warn('cut back torn shadow tail', { db: db.dbPath, generation: cursor.generationId, file: cutBack.file, offset: cursor.end.offset, bytes: cutBack.byteCount });
  return { modes, shadow, shadowPath: shadowWalPath(metaDir, cursor.generationId, cursor.index), removedTmpCount };
}

/** The shadow as the locked part of the sync takes it over, and what was copied before. */
interface UnlockedCopy {
  readonly shadow: ShadowState;
  readonly count: CopyCount;
}

async function copyBulkWithoutLock(db: LiveDb, start: SyncStart, options: SyncShadowOptions): Promise<UnlockedCopy> {
  // A torn tail says a process died mid-append: that rare first sync copies all under the lock.
  if (start.shadow.kind !== 'continues' || start.shadow.cutBack) return { shadow: start.shadow, count: NOTHING_COPIED };
  const copied = await copyWithoutLock(db, options.policy, start.shadowPath!, start.shadow.cursor);
  if (copied.count.byteCount > 0) options.onUnlockedCopy?.({ cursor: copied.cursor });
  return { shadow: { kind: 'continues', cursor: copied.cursor }, count: copied.count };
}

/** What a sync did under the write lock, and what it left for after. */
interface LockedSync {
  readonly cursor: ShadowCursor;
  readonly count: CopyCount;
  /** Shadow files appended to without fsync. */
  readonly appendedPaths: readonly string[];
  readonly newGenerationReason?: string;
  readonly checkpoint?: { readonly mode: CheckpointMode; readonly restarted: boolean };
  /** Set when walsync restarted the WAL: the header the next shadow index starts from. */
  readonly nextIndexHeader?: WalHeader;
  readonly walStamp: string;
  readonly shadowChangedAtMs: number;
  readonly lockHoldMs: number;
}

/**
 * The part of a sync that needs the app's writes held off: prove continuity,
 * copy the last commits, checkpoint. Whatever happens, the lock is given
 * back, with the pin moved to the newest commit when the shadow grew.
 */
async function syncUnderLock(
  db: LiveDb,
  wal: FileHandle,
  header: WalHeader,
  unlocked: UnlockedCopy,
  modes: ShadowModes,
  options: SyncShadowOptions,
): Promise<LockedSync> {
  const lockedAt = process.hrtime.bigint();
  let shadowGrew = unlocked.count.byteCount > 0;
  let locked: Omit<LockedSync, 'lockHoldMs'>;
  try {
    locked = await copyAndCheckpoint(db, wal, header, unlocked.shadow, modes, options);
    shadowGrew ||= locked.count.byteCount > 0;
  } finally {
    releaseWriteLock(db, shadowGrew);
  }
  const lockHoldMs = Number(process.hrtime.bigint() - lockedAt) / 1e6;
  options.log.debug('write lock released', { db: db.dbPath, lockMs: lockHoldMs, unlockedBytes: unlocked.count.byteCount });
  return { ...locked, lockHoldMs };
}

async function copyAndCheckpoint(
  db: LiveDb,
  wal: FileHandle,
  header: WalHeader,
  shadow: ShadowState,
  modes: ShadowModes,
  options: SyncShadowOptions,
): Promise<Omit<LockedSync, 'lockHoldMs'>> {
  const at: LockedWal = { db, wal, metaDir: options.metaDir, modes, log: options.log };
  const continued = await continueOrStartGeneration(at, header, shadow);
  const shadowChangedAtMs = await shadowMtimeMs(options.metaDir, continued.cursor);
  const mode = checkpointModeFor(options.policy, frameCountAt(continued.cursor.end.offset, header.pageSize), now(options) - shadowChangedAtMs);
  if (!mode) return { ...continued, walStamp: db.walStamp(), shadowChangedAtMs };
  const outcome = await checkpointAndClassify(db, wal, continued.cursor, mode);
  if (outcome.kind === 'next-index') {
    return { ...continued, checkpoint: { mode, restarted: true }, nextIndexHeader: outcome.header, walStamp: db.walStamp(), shadowChangedAtMs };
  }
  if (outcome.kind === 'same-cycle') options.log.info('checkpoint', { db: db.dbPath, generation: continued.cursor.generationId, mode, restarted: false });
  const after =
    outcome.kind === 'same-cycle'
      ? await appendCommitted(at, continued.cursor)
      : await startNewGeneration(at, outcome.header, outcome.reason);
  return {
    cursor: after.cursor,
    count: addCounts(continued.count, after.count),
    appendedPaths: [...continued.appendedPaths, ...after.appendedPaths],
    newGenerationReason: after.newGenerationReason ?? continued.newGenerationReason,
    checkpoint: { mode, restarted: outcome.kind === 'new-generation' },
    walStamp: db.walStamp(),
    shadowChangedAtMs: after.cursor === continued.cursor ? shadowChangedAtMs : await shadowMtimeMs(options.metaDir, after.cursor),
  };
}

/**
 * Makes the frames this sync copied durable, then starts the next shadow
 * index if walsync restarted the WAL, in that order: a shadow index only ever
 * follows a complete one. The pin, taken in the new cycle before the lock
 * went, stops anyone from restarting the WAL again meanwhile.
 */
async function finishAfterLock(
  db: LiveDb,
  wal: FileHandle,
  start: SyncStart,
  unlockedCount: CopyCount,
  locked: LockedSync,
  options: SyncShadowOptions,
): Promise<SyncShadowResult> {
  const unsyncedPaths = new Set(locked.appendedPaths);
  if (unlockedCount.byteCount > 0) unsyncedPaths.add(start.shadowPath!);
  for (const shadowPath of unsyncedPaths) await fsyncPath(shadowPath);
  let { cursor, shadowChangedAtMs } = locked;
  let count = addCounts(unlockedCount, locked.count);
  if (locked.nextIndexHeader) {
    const next = await createShadowIndex(options.metaDir, start.modes, wal, { generationId: cursor.generationId, index: cursor.index + 1, header: locked.nextIndexHeader });
    cursor = next.cursor;
    count = addCounts(count, next.count);
    shadowChangedAtMs = await shadowMtimeMs(options.metaDir, cursor);
    options.log.info('checkpoint', { db: db.dbPath, generation: cursor.generationId, mode: locked.checkpoint!.mode, restarted: true, index: formatIndex(cursor.index) });
  }
  return {
    dbPath: db.dbPath,
    generationId: cursor.generationId,
    index: cursor.index,
    offset: cursor.end.offset,
    ...count,
    newGenerationReason: locked.newGenerationReason,
    checkpoint: locked.checkpoint,
    cutBackByteCount: start.shadow.kind === 'continues' ? (start.shadow.cutBack?.byteCount ?? 0) : 0,
    removedTmpCount: start.removedTmpCount,
    unlockedByteCount: unlockedCount.byteCount,
    lockHoldMs: locked.lockHoldMs,
    cursor,
    mark: { cursor, quiet: { walStamp: locked.walStamp, shadowChangedAtMs } },
  };
}

/** When the shadow last grew: a sync with no commit for the idle interval checkpoints. */
async function shadowMtimeMs(metaDir: string, cursor: ShadowCursor): Promise<number> {
  return (await fs.stat(shadowWalPath(metaDir, cursor.generationId, cursor.index))).mtimeMs;
}

function now(options: SyncShadowOptions): number {
  return options.now?.() ?? Date.now();
}
