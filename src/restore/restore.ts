/**
 * Restore (docs/formats.md, "Restore, in short"): pick the
 * generation and the newest snapshot at or before the target, replay WAL
 * indexes in order (each in one pass: the newest copy of every page, as a
 * checkpoint writes it), check integrity, and only then rename into place.
 * Segments download ahead of their turn, within a bounded window; everything
 * streams through temp files next to the output, so memory stays flat
 * whatever the database size, and a half restored file never appears at the
 * output path.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WalsyncError, messageOf, onFile } from '../errors.js';
import { fsyncPath } from '../fsx/durable.js';
import { releaseIdleBuffers } from '../fsx/buffer-pool.js';
import { pathExists, writeAll, writeChunksBehind } from '../fsx/file-io.js';
import { decodeLz4Frame } from '../lz4/frame.js';
import type { Body, ReplicaClient, SnapshotInfo, WalSegmentInfo } from '../replica/client.js';
import { snapshotKey, walSegmentKey } from '../replica/layout.js';
import { expectLabel } from '../replica/object-label.js';
import { selectRestorePlan } from './plan.js';
import { applyWalIndex } from './apply-wal.js';
import type { IndexedWal, WalContinuation } from './apply-wal.js';
import { Prefetcher } from './prefetch.js';
import type { RestorePlan, RestoreTarget } from './plan.js';

/** `full` is SQLite's integrity_check, `quick` its quick_check (no index contents), `none` skips it (as Litestream 0.3 does). */
export type IntegrityCheck = 'none' | 'quick' | 'full';
export const INTEGRITY_CHECKS: readonly IntegrityCheck[] = ['none', 'quick', 'full'];
/** Downloads in flight ahead of the segment being applied, as Litestream 0.5's restore. */
export const DEFAULT_PARALLELISM = 8;
/** Stored bytes held ahead at most, whatever the parallelism: restore's memory stays flat. */
const PREFETCH_BUDGET_BYTES = 8 * 1024 * 1024;
/** Each of the two buffers decoded pages are written out through: 4 MiB blocks go in parts, with memory kept down. */
export const RESTORE_WRITE_SIZE = 1024 * 1024;
/** The index being replayed, beside the output; not `-wal`, which SQLite would take for the database's own. */
const APPLY_WAL_SUFFIX = '.replay-wal';

export interface RestoreOptions extends RestoreTarget {
  readonly client: ReplicaClient;
  readonly outputPath: string;
  readonly ifDbNotExists?: boolean;
  readonly ifReplicaExists?: boolean;
  /** After the replay, before the output appears (default full). */
  readonly integrityCheck?: IntegrityCheck;
  /** Segment downloads in flight at once (default 8). */
  readonly parallelism?: number;
  /** Leave the output in rollback-journal mode, as a follower keeps it (see follow/follow.ts). */
  readonly rollbackJournal?: boolean;
  /** Called as bytes are written, for a progress line on a terminal. */
  readonly onProgress?: (progress: RestoreProgress) => void;
}

/** Where a restore's replay ended: the next segment continues there; with a header and chain point once the index has begun. */
export interface ReplayPosition {
  readonly generationId: string;
  readonly index: number;
  readonly offset: number;
  readonly continuation?: WalContinuation;
}

export interface RestoreProgress {
  readonly byteCount: number;
  readonly objectCount: number;
  readonly totalObjectCount: number;
}

export type RestoreResult =
  | { readonly restored: true; readonly outputPath: string; readonly plan: RestorePlan; readonly byteCount: number; readonly reached: ReplayPosition }
  | { readonly restored: false; readonly reason: string };

export async function restore(options: RestoreOptions): Promise<RestoreResult> {
  const outputPath = path.resolve(options.outputPath);
  if (await pathExists(outputPath)) {
    if (options.ifDbNotExists) return { restored: false, reason: `${outputPath} already exists` };
    throw new WalsyncError('OUTPUT_EXISTS', `${outputPath}: already exists (restore never overwrites; use --if-db-not-exists to skip)`);
  }
  const plan = await selectRestorePlan(options.client, options);
  if (!plan) {
    if (options.ifReplicaExists) return { restored: false, reason: `no backups found in ${options.client.url}` };
    throw new WalsyncError('NO_BACKUPS', `${options.client.url}: no backups found${describeTarget(options)}`);
  }
  const tmpPath = `${outputPath}.tmp`;
  await removeRestoreFiles(tmpPath);
  const progress = new ProgressCounter(plan, options.onProgress);
  const segments = new Prefetcher(plan.walIndexes.flat(), {
    open: (segment) => readStoredSegment(options.client, segment),
    sizeOf: (segment) => segment.size,
    parallelism: options.parallelism ?? DEFAULT_PARALLELISM,
    budgetBytes: PREFETCH_BUDGET_BYTES,
  });
  let reached: ReplayPosition = { generationId: plan.generationId, index: plan.snapshot.index, offset: 0 };
  try {
    await onFile(tmpPath, async () => {
      // Created as cp creates a file, under the caller's umask: a restore run as root for an app of another user leaves a file that user can read.
      const db = await fs.open(tmpPath, 'w+', 0o666);
      try {
        // The first segments download while the snapshot is written.
        segments.start();
        await writeBehind(db, counted(decodeObject(options.client, plan.snapshot), progress));
        // The snapshot's block-sized buffers would otherwise stay idle beside the replay's: about 12 MiB of a restore's peak.
        releaseIdleBuffers();
        for (const index of plan.walIndexes) {
          const indexed = await replayWalIndex(options.client, db, `${tmpPath}${APPLY_WAL_SUFFIX}`, index, segments, progress);
          reached = { generationId: plan.generationId, index: index[0]!.index, offset: indexed.walk.commitEnd.offset, continuation: { header: indexed.header, from: indexed.walk.commitEnd } };
        }
        if (options.rollbackJournal) await setRollbackJournalMode(db);
        // The check reads the pages from the page cache while the flush writes them out (on the thread pool): neither waits for the other.
        const flushed = db.sync();
        try {
          checkIntegrity(tmpPath, plan, options.integrityCheck ?? 'full');
        } catch (error) {
          await flushed.catch(() => undefined);
          throw error;
        }
        await flushed;
      } finally {
        // After the check's connection closed: closing a descriptor drops every POSIX lock the process holds on the file.
        await db.close();
      }
    });
    await onFile(`${tmpPath}${APPLY_WAL_SUFFIX}`, () => fs.rm(`${tmpPath}${APPLY_WAL_SUFFIX}`, { force: true }));
    await onFile(tmpPath, () => fs.rename(tmpPath, outputPath));
    try {
      await fsyncPath(path.dirname(outputPath));
    } catch (error) {
      // Not known to be on disk is not restored: nothing stays at the output.
      await fs.rm(outputPath, { force: true }).catch(() => undefined);
      throw error;
    }
    return { restored: true, outputPath, plan, byteCount: progress.byteCount, reached };
  } finally {
    segments.close();
    // The -wal and -shm the read-only integrity check left; one that cannot be removed now is removed by the next restore.
    await removeRestoreFiles(tmpPath).catch(() => undefined);
  }
}

function describeTarget(target: RestoreTarget): string {
  if (target.generationId) return ` for generation ${target.generationId}`;
  if (target.timestamp) return ` at or before ${target.timestamp.toISOString()}`;
  return '';
}

class ProgressCounter {
  byteCount = 0;
  objectCount = 0;

  constructor(
    private readonly plan: RestorePlan,
    private readonly report?: (progress: RestoreProgress) => void,
  ) {}

  add(bytes: number): void {
    this.byteCount += bytes;
    this.emit();
  }

  objectDone(): void {
    this.objectCount++;
    this.emit();
  }

  private emit(): void {
    const totalObjectCount = 1 + this.plan.walIndexes.reduce((n, segments) => n + segments.length, 0);
    this.report?.({ byteCount: this.byteCount, objectCount: this.objectCount, totalObjectCount });
  }
}

/** A segment as stored (LZ4, decrypted where the replica is encrypted): what read-ahead holds, at its stored size. */
export function readStoredSegment(client: ReplicaClient, segment: WalSegmentInfo): Body {
  return client.readWalSegment(segment.generationId, segment.index, segment.offset);
}

/** An object's body, LZ4-decoded and checked against its name; from `stored` when it was read ahead. */
export function decodeObject(client: ReplicaClient, object: SnapshotInfo | WalSegmentInfo, stored?: Body): Body {
  if ('offset' in object) {
    const name = `${client.url}/${walSegmentKey(object.generationId, object.index, object.offset)}`;
    return decodeLz4Frame(stored ?? readStoredSegment(client, object), name, expectLabel(object, name));
  }
  const name = `${client.url}/${snapshotKey(object.generationId, object.index)}`;
  return decodeLz4Frame(client.readSnapshot(object.generationId, object.index), name, expectLabel({ generationId: object.generationId, index: object.index }, name));
}

/** Writes with one write in flight while the next bytes are decoded, in large writes whatever the chunks' sizes. */
function writeBehind(handle: fs.FileHandle, chunks: AsyncIterable<Uint8Array>): Promise<number> {
  return writeChunksBehind((bytes, at) => writeAll(handle, bytes, at), chunks, 0, RESTORE_WRITE_SIZE);
}

async function* counted(body: Body, progress: ProgressCounter): Body {
  for await (const chunk of body) {
    progress.add(chunk.byteLength);
    yield chunk;
  }
  progress.objectDone();
}

/** One index's segments end to end; each must start where the previous one ended. */
async function* concatenated(client: ReplicaClient, segments: WalSegmentInfo[], bodies: Prefetcher<WalSegmentInfo>, progress: ProgressCounter): Body {
  let length = 0;
  for (const segment of segments) {
    if (segment.offset !== length) {
      const missing = walSegmentKey(segment.generationId, segment.index, length);
      throw new WalsyncError('RESTORE_GAP', `${client.url}/${missing}: missing (the next segment starts at offset ${segment.offset})`);
    }
    for await (const chunk of counted(decodeObject(client, segment, bodies.next()), progress)) {
      length += chunk.byteLength;
      yield chunk;
    }
  }
}

/** Writes one index's WAL beside the output and lays its pages over the database in one pass. */
async function replayWalIndex(
  client: ReplicaClient,
  db: fs.FileHandle,
  walPath: string,
  segments: WalSegmentInfo[],
  bodies: Prefetcher<WalSegmentInfo>,
  progress: ProgressCounter,
): Promise<IndexedWal> {
  const wal = await fs.open(walPath, 'w+', 0o600);
  try {
    const length = await writeBehind(wal, concatenated(client, segments, bodies, progress));
    const check = await applyWalIndex(db, wal, length);
    if (!check.ok) throw brokenChain(client, segments, check);
    return check;
  } finally {
    await wal.close();
  }
}

/** The error for a chain that breaks, naming the segment the break is in. */
export function brokenChain(client: ReplicaClient, segments: readonly WalSegmentInfo[], check: { problem: string; validEnd: number }): WalsyncError {
  const broken = segments.filter((segment) => segment.offset <= check.validEnd).at(-1) ?? segments[0]!;
  return new WalsyncError('REPLICA_CORRUPT', `${client.url}/${walSegmentKey(broken.generationId, broken.index, broken.offset)}: ${check.problem} of index ${broken.index}`);
}

/**
 * Bytes 18 and 19 of the header say which journal a database uses; 1 is the
 * rollback journal. A follower's readers then take SQLite's file locks and
 * check the change counter on every read (see follow/follow.ts).
 */
export async function setRollbackJournalMode(db: fs.FileHandle): Promise<void> {
  await writeAll(db, new Uint8Array([1, 1]), 18);
}

function checkIntegrity(dbPath: string, plan: RestorePlan, check: IntegrityCheck): void {
  if (check === 'none') return;
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true });
  } catch (error) {
    throw new WalsyncError('IO', `${dbPath}: cannot open the restored copy: ${messageOf(error)}`, { cause: error });
  }
  let result: string;
  try {
    // SQLite's own default page cache, not better-sqlite3's 16 MB: the check reads most pages once, and no faster with more (630 vs 690 ms on 1 GiB).
    db.pragma('cache_size = -2000');
    result = (db.pragma(`${check === 'quick' ? 'quick_check' : 'integrity_check'}`) as Record<string, string>[]).map((row) => Object.values(row)[0]).join('; ');
  } catch (error) {
    result = messageOf(error);
  } finally {
    db.close();
  }
  if (result !== 'ok') {
    throw new WalsyncError('REPLICA_CORRUPT', `${plan.lastObjectName}: integrity check failed after applying it: ${result}`);
  }
}

/** Removes a database and the -wal, -shm and -journal SQLite leaves beside it (a read-only connection cannot remove them itself). */
export async function removeDatabaseFiles(dbPath: string): Promise<void> {
  await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => onFile(dbPath + suffix, () => fs.rm(dbPath + suffix, { force: true }))));
}

/** The database files and the WAL a restore replays through. */
async function removeRestoreFiles(tmpPath: string): Promise<void> {
  await removeDatabaseFiles(tmpPath);
  await onFile(tmpPath + APPLY_WAL_SUFFIX, () => fs.rm(tmpPath + APPLY_WAL_SUFFIX, { force: true }));
}
