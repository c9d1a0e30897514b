/**
 * Restore (../shared/spec/replica-format.md, "Restore, in short"): pick the
 * generation and the newest snapshot at or before the target, replay WAL
 * indexes in order through SQLite's own checkpoint, check integrity, and only
 * then rename into place. Everything streams through temp files next to the
 * output, so memory stays flat whatever the database size, and a half
 * restored file never appears at the output path.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { WalsyncError, messageOf, onFile } from '../errors.js';
import { fsyncPath } from '../fsx/durable.js';
import { pathExists, writeAll } from '../fsx/file-io.js';
import { decodeLz4Frame } from '../lz4/frame.js';
import type { Body, ReplicaClient, SnapshotInfo, WalSegmentInfo } from '../replica/client.js';
import { snapshotKey, walSegmentKey } from '../replica/layout.js';
import { expectLabel } from '../replica/object-label.js';
import { selectRestorePlan } from './plan.js';
import { readWalFileHeader, walkWalFile } from '../shadow/wal-file.js';
import { chainStart } from '../wal/frames.js';
import type { RestorePlan, RestoreTarget } from './plan.js';

export interface RestoreOptions extends RestoreTarget {
  readonly client: ReplicaClient;
  readonly outputPath: string;
  readonly ifDbNotExists?: boolean;
  readonly ifReplicaExists?: boolean;
  /** Called as bytes are written, for a progress line on a terminal. */
  readonly onProgress?: (progress: RestoreProgress) => void;
}

export interface RestoreProgress {
  readonly byteCount: number;
  readonly objectCount: number;
  readonly totalObjectCount: number;
}

export type RestoreResult =
  | { readonly restored: true; readonly outputPath: string; readonly plan: RestorePlan; readonly byteCount: number }
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
  await removeDatabaseFiles(tmpPath);
  try {
    const progress = new ProgressCounter(plan, options.onProgress);
    await writeStream(tmpPath, decode(options.client, plan.snapshot), progress);
    for (const segments of plan.walIndexes) await applyWalIndex(options.client, tmpPath, segments, progress);
    checkIntegrity(tmpPath, plan);
    await onFile(tmpPath, () => fs.rename(tmpPath, outputPath));
    try {
      await fsyncPath(path.dirname(outputPath));
    } catch (error) {
      // Not known to be on disk is not restored: nothing stays at the output.
      await fs.rm(outputPath, { force: true }).catch(() => undefined);
      throw error;
    }
    return { restored: true, outputPath, plan, byteCount: progress.byteCount };
  } finally {
    // The -wal and -shm the read-only integrity check left; one that cannot be removed now is removed by the next restore.
    await removeDatabaseFiles(tmpPath).catch(() => undefined);
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

function decode(client: ReplicaClient, object: SnapshotInfo | WalSegmentInfo): Body {
  if ('offset' in object) {
    const name = `${client.url}/${walSegmentKey(object.generationId, object.index, object.offset)}`;
    return decodeLz4Frame(client.readWalSegment(object.generationId, object.index, object.offset), name, expectLabel(object, name));
  }
  const name = `${client.url}/${snapshotKey(object.generationId, object.index)}`;
  return decodeLz4Frame(client.readSnapshot(object.generationId, object.index), name, expectLabel({ generationId: object.generationId, index: object.index }, name));
}

async function writeStream(filePath: string, body: Body, progress: ProgressCounter): Promise<void> {
  await onFile(filePath, async () => {
    const handle = await fs.open(filePath, 'w', 0o600);
    let position = 0;
    try {
      for await (const chunk of body) {
        await writeAll(handle, chunk, position);
        position += chunk.byteLength;
        progress.add(chunk.byteLength);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
  progress.objectDone();
}

/**
 * Concatenates one index's segments into `<db>-wal` — each must start where
 * the previous one ended — and lets SQLite checkpoint it into the database.
 */
async function applyWalIndex(client: ReplicaClient, dbPath: string, segments: WalSegmentInfo[], progress: ProgressCounter): Promise<void> {
  const walPath = `${dbPath}-wal`;
  await onFile(walPath, async () => {
    const handle = await fs.open(walPath, 'w+', 0o600);
    try {
      let length = 0;
      for (const segment of segments) {
        if (segment.offset !== length) {
          const missing = walSegmentKey(segment.generationId, segment.index, length);
          throw new WalsyncError('RESTORE_GAP', `${client.url}/${missing}: missing (the next segment starts at offset ${segment.offset})`);
        }
        for await (const chunk of decode(client, segment)) {
          await writeAll(handle, chunk, length);
          length += chunk.byteLength;
          progress.add(chunk.byteLength);
        }
        progress.objectDone();
      }
      await handle.sync();
      await checkWalChain(handle, client, segments, length);
    } finally {
      await handle.close();
    }
  });
  await onFile(`${dbPath}-shm`, () => fs.rm(`${dbPath}-shm`, { force: true }));
  checkpointInto(dbPath, segments[segments.length - 1]!, client);
}

/**
 * SQLite's recovery silently stops at the first bad frame, which would
 * restore an older database without a word: walk the chain first, and name
 * the segment where it breaks.
 */
async function checkWalChain(handle: fs.FileHandle, client: ReplicaClient, segments: WalSegmentInfo[], length: number): Promise<void> {
  const head = await readWalFileHeader(handle);
  const walk = head.kind === 'ok' ? await walkWalFile(handle, head.header, chainStart(head.header)) : undefined;
  const end = walk?.commitEnd.offset ?? 0;
  if (end === length) return;
  const broken = segments.filter((segment) => segment.offset <= end).at(-1) ?? segments[0]!;
  const problem = head.kind !== 'ok' ? `no valid WAL header (${head.kind === 'invalid' ? head.reason : 'missing'})` : `WAL frames stop being whole, valid transactions at offset ${end} of index ${broken.index}`;
  throw new WalsyncError('REPLICA_CORRUPT', `${client.url}/${walSegmentKey(broken.generationId, broken.index, broken.offset)}: ${problem}`);
}

function checkpointInto(dbPath: string, lastSegment: WalSegmentInfo, client: ReplicaClient): void {
  let db: Database.Database;
  let row: { busy: number; log: number; checkpointed: number } | undefined;
  try {
    db = new Database(dbPath);
  } catch (error) {
    throw new WalsyncError('IO', `${dbPath}: cannot open the restored copy: ${messageOf(error)}`, { cause: error });
  }
  try {
    [row] = db.pragma('wal_checkpoint(TRUNCATE)') as (typeof row)[];
  } catch (error) {
    throw new WalsyncError('IO', `${dbPath}: checkpoint of the restored WAL failed: ${messageOf(error)}`, { cause: error });
  } finally {
    db.close();
  }
  if (row!.busy !== 0 || row!.log !== row!.checkpointed) {
    throw new WalsyncError('RESTORE_GAP', `${client.url}/${walSegmentKey(lastSegment.generationId, lastSegment.index, lastSegment.offset)}: WAL index could not be applied`);
  }
}

function checkIntegrity(dbPath: string, plan: RestorePlan): void {
  let db: Database.Database;
  try {
    db = new Database(dbPath, { readonly: true });
  } catch (error) {
    throw new WalsyncError('IO', `${dbPath}: cannot open the restored copy: ${messageOf(error)}`, { cause: error });
  }
  let result: string;
  try {
    result = (db.pragma('integrity_check') as { integrity_check: string }[]).map((row) => row.integrity_check).join('; ');
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
