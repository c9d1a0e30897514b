/**
 * One sync of the shadow WAL: under the database's write lock, prove the
 * shadow continues the real WAL (or start a new generation and say why),
 * append the newly committed transactions, and checkpoint when the WAL has
 * grown past the policy's thresholds.
 */
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { CheckpointMode, LiveDb } from '../db/live-db.js';
import { WalsyncError, isNotFound } from '../errors.js';
import { fsyncPath, makeDirDurable, removeTmpFiles } from '../fsx/durable.js';
import { readRange } from '../fsx/file-io.js';
import { generationFilePath, generationsDirPath, shadowWalDirPath, shadowWalPath } from '../layout.js';
import type { Logger } from '../log.js';
import type { WalHeader } from '../wal/format.js';
import { frameCountAt, frameSizeFor } from '../wal/format.js';
import { chainStart, startWalk, walkFrames } from '../wal/frames.js';
import { describeHeaderChange, isWalRestartOf, sameWalHeader } from '../wal/header.js';
import { formatIndex } from '../wal/pos.js';
import type { CheckpointPolicy } from './checkpoint.js';
import { checkpointAndRestart, checkpointModeFor } from './checkpoint.js';
import { copyWithoutLock } from './unlocked-copy.js';
import { listShadowIndexes, newGenerationId, readGeneration, writeGeneration } from './generation.js';
import type { ShadowModes } from './permissions.js';
import { readShadowModes } from './permissions.js';
import { prepareMetaDir } from './meta-dir.js';
import type { CopyCount, ShadowCursor } from './shadow-wal.js';
import {
  NOTHING_COPIED,
  addCounts,
  appendCommittedFrames,
  createShadowWal,
  cutBackShadowWal,
  damageReason,
  inspectShadowWal,
  readLastFrame,
} from './shadow-wal.js';
import { readWalFileHeader, readWalHeaderAt, walkWalFile } from './wal-file.js';

export interface SyncShadowOptions {
  readonly metaDir: string;
  readonly policy: CheckpointPolicy;
  readonly log: Logger;
  /** The cursor the previous sync in this process returned; saves re-reading the shadow. */
  readonly cursor?: ShadowCursor;
  /**
   * Told where the shadow ends once the bulk was copied without the lock: a
   * sync that then fails (the app kept the write lock past the busy timeout)
   * still leaves its caller a cursor to go on from, instead of one the shadow
   * has outgrown, which sends the next sync to re-read the whole shadow
   * under the lock.
   */
  readonly onUnlockedCopy?: (cursor: ShadowCursor) => void;
  readonly now?: () => number;
}

/**
 * The database as the last sync of it in this process left it: `PRAGMA
 * data_version` read under the write lock after walsync's own writes (it
 * changes only when another connection commits), the cursor, and when the
 * shadow last grew. A sync that starts drops it; one that finishes sets it.
 */
interface QuietMark {
  readonly cursor: ShadowCursor;
  readonly dataVersion: number;
  readonly shadowChangedAtMs: number;
}

const quietMarks = new WeakMap<LiveDb, QuietMark>();

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
  readonly checkpoint?: { readonly mode: string; readonly restarted: boolean };
  readonly cutBackByteCount: number;
  readonly removedTmpCount: number;
  /** WAL bytes copied before the write lock was taken: the app did not wait for these. */
  readonly unlockedByteCount: number;
  /** How long the app's writes were held off; undefined when the sync took no lock (nothing was committed). */
  readonly lockHoldMs?: number;
  readonly cursor: ShadowCursor;
}

interface SyncRun {
  readonly db: LiveDb;
  readonly options: SyncShadowOptions;
  readonly modes: ShadowModes;
  readonly wal: FileHandle;
  /** Where the previous sync in this process, this sync's unlocked copy or its read of the shadow before the lock left the shadow. */
  readonly cachedCursor?: ShadowCursor;
  count: CopyCount;
  /** Shadow files appended to without fsync: synced once the lock is gone. */
  readonly unsyncedShadowPaths: Set<string>;
  cutBackByteCount: number;
  newGenerationReason?: string;
}

type Resolution = { kind: 'continue'; cursor: ShadowCursor } | { kind: 'diverged'; reason: string };

const MAX_HEADER_ATTEMPTS = 3;

export async function syncShadow(db: LiveDb, options: SyncShadowOptions): Promise<SyncShadowResult> {
  const quiet = nothingCommittedSince(db, options);
  if (quiet) return nothingNew(db, quiet.cursor);
  quietMarks.delete(db);
  const modes = await readShadowModes(db.dbPath);
  await prepareMetaDir(options.metaDir, modes);
  const startCursor = options.cursor ?? (await shadowEndOnDisk(options.metaDir));
  const unlocked = startCursor ? await copyWithoutLock(db, options.metaDir, options.policy, startCursor) : undefined;
  const unsyncedShadowPaths = new Set<string>();
  if (unlocked && unlocked.count.byteCount > 0) {
    unsyncedShadowPaths.add(shadowWalPath(options.metaDir, unlocked.cursor.generationId, unlocked.cursor.index));
  }
  try {
    if (unlocked) options.onUnlockedCopy?.(unlocked.cursor);
    const { wal, header } = await lockWithWalHeader(db);
    try {
      const run: SyncRun = {
        db,
        options,
        modes,
        wal,
        cachedCursor: unlocked?.cursor ?? startCursor,
        count: unlocked?.count ?? NOTHING_COPIED,
        unsyncedShadowPaths,
        cutBackByteCount: 0,
      };
      const unlockedByteCount = unlocked?.count.byteCount ?? 0;
      const locked = await syncUnderLock(run, header, unlockedByteCount);
      return await finishAfterLock(run, locked, unlockedByteCount);
    } finally {
      await wal.close();
    }
  } catch (error) {
    // A later sync may find nothing to copy and ship these bytes as they are: they must be on
    // disk first, as on the way that succeeds. The sync's own error is the one to report.
    await fsyncShadowFiles(unsyncedShadowPaths).catch(() => undefined);
    throw error;
  }
}

async function fsyncShadowFiles(paths: Set<string>): Promise<void> {
  for (const shadowPath of paths) await fsyncPath(shadowPath);
  paths.clear();
}

/** What a sync did under the write lock, and what it left for after: nothing the app has to wait for. */
interface LockedSync {
  readonly cursor: ShadowCursor;
  readonly checkpoint?: { readonly mode: CheckpointMode; readonly restarted: boolean };
  /** Set when walsync restarted the WAL: the header the next shadow index starts from. */
  readonly nextIndexHeader?: WalHeader;
  readonly dataVersion: number;
  readonly shadowChangedAtMs: number;
  readonly removedTmpCount: number;
}

async function syncUnderLock(run: SyncRun, header: WalHeader, unlockedByteCount: number): Promise<LockedSync & { readonly lockHoldMs: number }> {
  const lockedAt = process.hrtime.bigint();
  let walGrew = false;
  let lockHoldMs = 0;
  let locked: LockedSync;
  try {
    locked = await copyAndCheckpoint(run, header);
    walGrew = run.count.byteCount > 0;
  } finally {
    releaseLocks(run.db, walGrew);
    lockHoldMs = Number(process.hrtime.bigint() - lockedAt) / 1e6;
    run.options.log.debug('write lock released', { db: run.db.dbPath, lockMs: lockHoldMs, unlockedBytes: unlockedByteCount });
  }
  return { ...locked, lockHoldMs };
}

/**
 * The part of a sync that needs the app's writes held off: prove continuity,
 * copy the last frames and checkpoint. What the app would only wait on
 * (fsyncing those frames, creating the next shadow index) comes after.
 */
async function copyAndCheckpoint(run: SyncRun, header: WalHeader): Promise<LockedSync> {
  const { db, options } = run;
  // Debris only comes from a killed process, so the first sync of each process clears it;
  // later ones must not, or they would race this process's own temp files.
  const removedTmpCount = options.cursor ? 0 : await removeTmpFiles(options.metaDir);
  const resolution = await resolveCursor(run, header);
  const cursor =
    resolution.kind === 'continue' ? await appendCommitted(run, resolution.cursor) : await startGeneration(run, header, resolution.reason);
  const shadowChangedAtMs = await shadowMtimeMs(run, cursor);
  const mode = checkpointModeFor(options.policy, frameCountAt(cursor.end.offset, header.pageSize), now(options) - shadowChangedAtMs);
  if (!mode) return { cursor, dataVersion: db.dataVersion(), shadowChangedAtMs, removedTmpCount };
  const outcome = await checkpointAndContinue(run, cursor, mode);
  if (outcome.kind === 'next-index') {
    const checkpoint = { mode, restarted: true };
    return { cursor, checkpoint, nextIndexHeader: outcome.header, dataVersion: db.dataVersion(), shadowChangedAtMs, removedTmpCount };
  }
  return {
    cursor: outcome.cursor,
    checkpoint: { mode, restarted: outcome.kind === 'new-generation' },
    dataVersion: db.dataVersion(),
    shadowChangedAtMs: await shadowMtimeMs(run, outcome.cursor),
    removedTmpCount,
  };
}

/**
 * Makes the frames this sync copied durable, then starts the next shadow
 * index if walsync restarted the WAL, in that order: a shadow index only ever
 * follows a complete one. The pin, taken in the new cycle before the lock
 * went, stops anyone from restarting the WAL again meanwhile.
 */
async function finishAfterLock(run: SyncRun, locked: LockedSync & { readonly lockHoldMs: number }, unlockedByteCount: number): Promise<SyncShadowResult> {
  const { db, options } = run;
  await fsyncShadowFiles(run.unsyncedShadowPaths);
  let { cursor, shadowChangedAtMs } = locked;
  if (locked.nextIndexHeader) {
    cursor = await createShadowIndex(run, cursor.generationId, cursor.index + 1, locked.nextIndexHeader);
    shadowChangedAtMs = await shadowMtimeMs(run, cursor);
    options.log.info('checkpoint', {
      db: db.dbPath,
      generation: cursor.generationId,
      mode: locked.checkpoint!.mode,
      restarted: true,
      index: formatIndex(cursor.index),
    });
  }
  quietMarks.set(db, { cursor, dataVersion: locked.dataVersion, shadowChangedAtMs });
  return {
    dbPath: db.dbPath,
    generationId: cursor.generationId,
    index: cursor.index,
    offset: cursor.end.offset,
    frameCount: run.count.frameCount,
    transactionCount: run.count.transactionCount,
    byteCount: run.count.byteCount,
    newGenerationReason: run.newGenerationReason,
    checkpoint: locked.checkpoint,
    cutBackByteCount: run.cutBackByteCount,
    removedTmpCount: locked.removedTmpCount,
    unlockedByteCount,
    lockHoldMs: locked.lockHoldMs,
    cursor,
  };
}

/**
 * An idle database's sync, every second in a long-running process: no other
 * connection committed since the previous sync (which copied everything under
 * the write lock) and no checkpoint is due, so there is nothing to copy.
 * Nothing else can move the WAL on: with the pin held, the app cannot restart
 * it without committing. The caller's cursor must be the one the last sync
 * returned: a caller that missed a sync starts from what is on disk.
 */
function nothingCommittedSince(db: LiveDb, options: SyncShadowOptions): QuietMark | undefined {
  const quiet = quietMarks.get(db);
  if (!quiet || quiet.cursor !== options.cursor || !db.isWalPinned || db.dataVersion() !== quiet.dataVersion) return undefined;
  const { end, header } = quiet.cursor;
  return checkpointModeFor(options.policy, frameCountAt(end.offset, header.pageSize), now(options) - quiet.shadowChangedAtMs) ? undefined : quiet;
}

function nothingNew(db: LiveDb, cursor: ShadowCursor): SyncShadowResult {
  return {
    dbPath: db.dbPath,
    generationId: cursor.generationId,
    index: cursor.index,
    offset: cursor.end.offset,
    frameCount: 0,
    transactionCount: 0,
    byteCount: 0,
    cutBackByteCount: 0,
    removedTmpCount: 0,
    unlockedByteCount: 0,
    cursor,
  };
}

/**
 * Moves the pin to the newest commit while writes are still locked out, then
 * lets the app write. Only when the WAL grew: SQLite gives a read that starts
 * on a fully checkpointed WAL no read mark in it (it reads the database file
 * alone), and such a pin would no longer stop the app from restarting the
 * WAL. A pin that moves past new frames always lands on a mark, because the
 * old pin still holds back the checkpoint while the new one starts.
 */
function releaseLocks(db: LiveDb, walGrew: boolean): void {
  try {
    if (walGrew || !db.isWalPinned) db.pinWal();
  } finally {
    db.unlockWrites();
  }
}

/**
 * Takes the write lock on a WAL that has a valid header. An empty or
 * headerless WAL (after a TRUNCATE checkpoint, or a fresh database) gets one
 * write to walsync's own table first, so there is a header to copy.
 */
async function lockWithWalHeader(db: LiveDb): Promise<{ wal: FileHandle; header: WalHeader }> {
  for (let attempt = 1; ; attempt++) {
    const head = await readWalHeaderAt(db.walPath);
    if (head.kind !== 'ok') {
      db.unpinWal();
      await db.writeSeq();
    }
    await db.lockWrites();
    let wal: FileHandle | undefined;
    try {
      wal = await fs.open(db.walPath, 'r');
      const locked = await readWalFileHeader(wal);
      if (locked.kind === 'ok') return { wal, header: locked.header };
    } catch (error) {
      // An I/O error must not leave the app locked out of its own database.
      await wal?.close();
      db.unlockWrites();
      throw error;
    }
    await wal.close();
    db.unlockWrites();
    if (attempt === MAX_HEADER_ATTEMPTS) {
      throw new WalsyncError('WAL_CORRUPT', `${db.walPath}: no valid WAL header after ${attempt} attempts`);
    }
  }
}

async function resolveCursor(run: SyncRun, walHeader: WalHeader): Promise<Resolution> {
  const { metaDir } = run.options;
  const lookup = await readGeneration(metaDir);
  if (lookup.kind === 'missing') {
    const firstSync = (await listGenerationDirs(metaDir)).length === 0;
    return { kind: 'diverged', reason: firstSync ? 'first sync of this database' : `generation file ${generationFilePath(metaDir)} is missing` };
  }
  if (lookup.kind === 'malformed') {
    return { kind: 'diverged', reason: `generation file ${generationFilePath(metaDir)} is malformed (${JSON.stringify(lookup.content)})` };
  }
  const shadow = await readShadowEnd(run, lookup.generationId);
  if (shadow.kind === 'diverged') return shadow;
  return proveContinuity(run, shadow.cursor, walHeader);
}

async function listGenerationDirs(metaDir: string): Promise<string[]> {
  try {
    return await fs.readdir(generationsDirPath(metaDir));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

/**
 * Where the shadow ends as an earlier process left it, read before the lock,
 * so that a process's first sync copies what the app committed since
 * without holding the app up: the first sync after a restart may find a
 * large WAL. Undefined whenever the locked path has something to decide: no
 * generation, no shadow file, damage, or a torn tail to cut back.
 */
async function shadowEndOnDisk(metaDir: string): Promise<ShadowCursor | undefined> {
  const lookup = await readGeneration(metaDir);
  if (lookup.kind !== 'ok') return undefined;
  const index = await newestShadowIndex(metaDir, lookup.generationId);
  if (index === undefined) return undefined;
  const inspection = await inspectShadowWal(shadowWalPath(metaDir, lookup.generationId, index));
  if (inspection.kind !== 'ok' || inspection.tailSize > 0) return undefined;
  const { header, end, lastFrame } = inspection;
  return { generationId: lookup.generationId, index, header, end, lastFrame };
}

async function newestShadowIndex(metaDir: string, generationId: string): Promise<number | undefined> {
  const indexes = await listShadowIndexes(metaDir, generationId);
  return indexes[indexes.length - 1];
}

/** The end of the newest shadow WAL of a generation, trusting this process's cursor when the file is as it left it. */
async function readShadowEnd(run: SyncRun, generationId: string): Promise<Resolution> {
  const { metaDir } = run.options;
  const cached = run.cachedCursor;
  const index = await newestShadowIndex(metaDir, generationId);
  if (index === undefined) {
    return { kind: 'diverged', reason: `shadow WAL of generation ${generationId} is missing (${shadowWalDirPath(metaDir, generationId)})` };
  }
  const shadowPath = shadowWalPath(metaDir, generationId, index);
  if (cached && cached.generationId === generationId && cached.index === index) {
    const { size } = await fs.stat(shadowPath);
    if (size === cached.end.offset) return { kind: 'continue', cursor: cached };
  }
  const inspection = await inspectShadowWal(shadowPath);
  if (inspection.kind === 'damaged') return { kind: 'diverged', reason: damageReason(shadowPath, inspection) };
  if (inspection.tailSize > 0) {
    await cutBackShadowWal(shadowPath, inspection.end.offset);
    run.cutBackByteCount += inspection.tailSize;
    run.options.log.warn('cut back torn shadow tail', {
      db: run.db.dbPath,
      generation: generationId,
      file: shadowPath,
      offset: inspection.end.offset,
      bytes: inspection.tailSize,
    });
  }
  const { header, end, lastFrame } = inspection;
  return { kind: 'continue', cursor: { generationId, index, header, end, lastFrame } };
}

async function proveContinuity(run: SyncRun, cursor: ShadowCursor, walHeader: WalHeader): Promise<Resolution> {
  if (!sameWalHeader(walHeader, cursor.header)) {
    const reason = isWalRestartOf(walHeader, cursor.header)
      ? `WAL restarted behind walsync's back (another connection checkpointed and reset it; salt-1 ${cursor.header.salt1} -> ${walHeader.salt1})`
      : describeHeaderChange(cursor.header, walHeader);
    return { kind: 'diverged', reason };
  }
  const { size } = await run.wal.stat();
  if (size < cursor.end.offset) {
    return { kind: 'diverged', reason: `WAL is shorter than the shadow (${size} < ${cursor.end.offset} bytes)` };
  }
  if (cursor.lastFrame.byteLength > 0) {
    const walFrame = await readLastFrame(run.wal, walHeader, cursor.end.offset);
    if (!Buffer.from(walFrame).equals(cursor.lastFrame)) {
      return {
        kind: 'diverged',
        reason: `last shadow frame differs from the WAL at offset ${cursor.end.offset - cursor.lastFrame.byteLength}`,
      };
    }
  }
  return { kind: 'continue', cursor };
}

/** Appends every transaction committed after the cursor to the current shadow WAL. */
async function appendCommitted(run: SyncRun, cursor: ShadowCursor): Promise<ShadowCursor> {
  const shadowPath = shadowWalPath(run.options.metaDir, cursor.generationId, cursor.index);
  // Not fsynced here, where the app would wait for it: finishAfterLock syncs the file.
  const appended = await appendCommittedFrames(run.wal, shadowPath, cursor);
  if (appended.count.byteCount > 0) run.unsyncedShadowPaths.add(shadowPath);
  run.count = addCounts(run.count, appended.count);
  return appended.cursor;
}

/** Starts shadow WAL `index` of a generation from the real WAL's header and committed frames. */
async function createShadowIndex(run: SyncRun, generationId: string, index: number, header: WalHeader): Promise<ShadowCursor> {
  await makeDirDurable(shadowWalDirPath(run.options.metaDir, generationId), run.modes.dirMode);
  const walk = await createShadowWal(shadowWalPath(run.options.metaDir, generationId, index), run.wal, header, run.modes.fileMode);
  run.count = addCounts(run.count, { frameCount: walk.committedFrameCount, transactionCount: walk.commitCount, byteCount: walk.commitEnd.offset });
  const lastFrame = await readLastFrame(run.wal, header, walk.commitEnd.offset);
  return { generationId, index, header, end: walk.commitEnd, lastFrame };
}

async function startGeneration(run: SyncRun, header: WalHeader, reason: string): Promise<ShadowCursor> {
  const generationId = newGenerationId();
  const cursor = await createShadowIndex(run, generationId, 0, header);
  await writeGeneration(run.options.metaDir, generationId, run.modes.fileMode);
  run.newGenerationReason = reason;
  run.options.log.info('new generation', { db: run.db.dbPath, generation: generationId, reason });
  return cursor;
}

/** When the shadow last grew: a sync with no commit for the idle interval checkpoints. */
async function shadowMtimeMs(run: SyncRun, cursor: ShadowCursor): Promise<number> {
  return (await fs.stat(shadowWalPath(run.options.metaDir, cursor.generationId, cursor.index))).mtimeMs;
}

function now(options: SyncShadowOptions): number {
  return options.now?.() ?? Date.now();
}

type CheckpointOutcome =
  | { kind: 'same-cycle'; cursor: ShadowCursor }
  | { kind: 'next-index'; header: WalHeader }
  | { kind: 'new-generation'; cursor: ShadowCursor };

/**
 * Checkpoints, then classifies what the WAL looks like afterwards: the same
 * cycle (continue the index), a restart with provably nothing lost before it
 * (next index, same generation, started once the lock is gone), or anything
 * else (a new generation: walsync cannot prove nothing was lost).
 */
async function checkpointAndContinue(run: SyncRun, cursor: ShadowCursor, mode: CheckpointMode): Promise<CheckpointOutcome> {
  const { restartedByWalsync } = await checkpointAndRestart(run.db, mode);
  const after = await readWalFileHeader(run.wal);
  if (after.kind === 'ok' && sameWalHeader(after.header, cursor.header)) {
    run.options.log.info('checkpoint', { db: run.db.dbPath, generation: cursor.generationId, mode, restarted: false });
    return { kind: 'same-cycle', cursor: await appendCommitted(run, cursor) };
  }
  const provenRestart =
    after.kind === 'ok' &&
    isWalRestartOf(after.header, cursor.header) &&
    (restartedByWalsync || (mode === 'PASSIVE' && (await nothingAppendedBeforeRestart(run, cursor, after.header))));
  if (after.kind === 'ok' && provenRestart) return { kind: 'next-index', header: after.header };
  const reason = "WAL restarted by another connection during walsync's checkpoint";
  const header = after.kind === 'ok' ? after.header : await mustHaveHeader(run);
  return { kind: 'new-generation', cursor: await startGeneration(run, header, reason) };
}

/**
 * After walsync's complete PASSIVE checkpoint it lets go of the write lock
 * for an instant before its own restarting write; an app writer waiting for
 * the lock may restart the WAL first. That loses nothing if the app's write
 * was the first after walsync's copy. Had the app appended a transaction to
 * the old cycle instead (and checkpointed and restarted after it), that
 * transaction would start right where the shadow ends, with the old salts
 * and the shadow's checksum chain, and the new cycle has not reached there.
 */
async function nothingAppendedBeforeRestart(run: SyncRun, cursor: ShadowCursor, newHeader: WalHeader): Promise<boolean> {
  const newCycle = await walkWalFile(run.wal, newHeader, chainStart(newHeader));
  if (newCycle.validEnd.offset > cursor.end.offset) return false;
  const frameSize = frameSizeFor(cursor.header.pageSize);
  const next = await readRange(run.wal, cursor.end.offset, frameSize);
  if (next.byteLength < frameSize) return true;
  return walkFrames(next, cursor.header, startWalk(cursor.end)).frameCount === 0;
}

async function mustHaveHeader(run: SyncRun): Promise<WalHeader> {
  const head = await readWalFileHeader(run.wal);
  if (head.kind === 'ok') return head.header;
  throw new WalsyncError('WAL_CORRUPT', `${run.db.walPath}: no valid WAL header after checkpoint (${head.kind === 'invalid' ? head.reason : 'missing'})`);
}
