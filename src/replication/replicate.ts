/**
 * Ships the shadow to a replica: a snapshot when the replica has none for
 * the current generation, then the WAL bytes it lacks, at most one segment
 * per index per run, each ending on a commit frame. The replica's position
 * comes from the replica itself (or this process's memory of it), so a run
 * killed mid-upload is followed by one that resumes without gap or overlap.
 */
import fs from 'node:fs/promises';
import type { LiveDb } from '../db/live-db.js';
import { readFileChunks } from '../fsx/file-io.js';
import { isNotFound } from '../errors.js';
import { shadowWalPath } from '../layout.js';
import type { Logger } from '../log.js';
import { LZ4_BLOCK_SIZE, encodeLz4Frame } from '../lz4/frame.js';
import { formatObjectLabel } from '../replica/object-label.js';
import type { ShadowCursor } from '../shadow/shadow-wal.js';
import type { Pos } from '../wal/pos.js';
import { formatIndex } from '../wal/pos.js';
import type { ReplicaClient, SnapshotInfo } from '../replica/client.js';
import { positionAfter } from './position.js';
import { uploadSnapshot } from './snapshot.js';

/** What a long-running process remembers about one replica between runs. */
export interface ReplicaMemory {
  /** Set only after a run that left the replica with a snapshot and every segment up to here. */
  position?: Pos;
  /** When the replica's newest snapshot of that generation was written, as its listing or this process's upload said. */
  newestSnapshot?: { readonly generationId: string; readonly at: number };
}

export interface ReplicateResult {
  readonly replica: string;
  readonly generationId: string;
  /** The snapshot this run wrote, if it wrote one. */
  readonly snapshot?: SnapshotInfo & { readonly databaseSize: number };
  readonly segmentCount: number;
  /** Uncompressed WAL bytes shipped. */
  readonly byteCount: number;
  readonly position: Pos;
}

export interface ReplicateContext {
  readonly db: LiveDb;
  readonly metaDir: string;
  readonly client: ReplicaClient;
  /** Where the sync that just ran left the shadow (and the pin). */
  readonly cursor: ShadowCursor;
  readonly log: Logger;
  readonly memory: ReplicaMemory;
  /** Write a snapshot even when the replica has one for this generation. */
  readonly takeSnapshot?: boolean;
}

/**
 * Segments go up before the snapshot: every WAL byte the snapshot holds is
 * then in older objects than the snapshot, so a restore to any time that
 * picks the snapshot replays its index at least as far as the snapshot
 * reaches, never an older prefix over newer pages.
 */
export async function replicate(ctx: ReplicateContext): Promise<ReplicateResult> {
  const { client, cursor, memory } = ctx;
  const generationId = cursor.generationId;
  try {
    const remembered = memory.position?.generationId === generationId ? memory.position : undefined;
    let position = remembered;
    let needsSnapshot = ctx.takeSnapshot === true;
    if (!remembered) {
      // Killed uploads of any generation (a kill can also start a new one) leave temp files.
      await client.removeDebris();
      const { snapshots, walSegments } = await client.listGeneration(generationId);
      position = await positionAfter(client, generationId, walSegments);
      needsSnapshot ||= snapshots.length === 0;
      const newestAt = Math.max(...snapshots.map((snapshot) => snapshot.createdAt.getTime()));
      memory.newestSnapshot = snapshots.length > 0 ? { generationId, at: newestAt } : undefined;
      position ??= { generationId, index: snapshots[0]?.index ?? cursor.index, offset: 0 };
    }
    let shipped = await shipSegments(ctx, position!);
    if (shipped.missingIndex !== undefined) {
      // Another process (a one-shot sync naming fewer replicas) deleted a shadow WAL this
      // replica never got: its WAL can no longer continue, so it starts again from a snapshot.
      ctx.log.warn('shadow WAL missing for replica; it starts again from a snapshot', {
        db: ctx.db.dbPath,
        generation: generationId,
        replica: client.url,
        index: formatIndex(shipped.missingIndex),
        from: formatIndex(cursor.index),
      });
      const rebased = await shipSegments(ctx, { generationId, index: cursor.index, offset: 0 });
      shipped = { ...rebased, segmentCount: shipped.segmentCount + rebased.segmentCount, byteCount: shipped.byteCount + rebased.byteCount };
      needsSnapshot = true;
    }
    const snapshot = needsSnapshot ? await uploadSnapshot(ctx.db, client, ctx.metaDir, cursor) : undefined;
    if (snapshot) {
      memory.newestSnapshot = { generationId, at: snapshot.createdAt.getTime() };
      ctx.log.info('snapshot', {
        db: ctx.db.dbPath,
        generation: generationId,
        replica: client.url,
        index: formatIndex(snapshot.index),
        bytes: snapshot.databaseSize,
      });
    }
    memory.position = shipped.position;
    return { replica: client.url, generationId, snapshot, segmentCount: shipped.segmentCount, byteCount: shipped.byteCount, position: shipped.position };
  } catch (error) {
    // Whatever the replica holds now is read back from it next time.
    memory.position = undefined;
    throw error;
  }
}

interface Shipped {
  readonly segmentCount: number;
  readonly byteCount: number;
  readonly position: Pos;
  /** A shadow WAL the replica still needed was gone: shipping stopped before it. */
  readonly missingIndex?: number;
}

async function shipSegments(ctx: ReplicateContext, from: Pos): Promise<Shipped> {
  const { cursor, client, metaDir } = ctx;
  let position = from;
  let segmentCount = 0;
  let byteCount = 0;
  for (let index = from.index; index <= cursor.index; index++) {
    const shadowPath = shadowWalPath(metaDir, cursor.generationId, index);
    const end = index === cursor.index ? cursor.end.offset : await sizeOf(shadowPath);
    if (end === undefined) {
      // Deleted locally once every replica held it whole: nothing left to ship.
      if (index === position.index) continue;
      return { segmentCount, byteCount, position, missingIndex: index };
    }
    const start = index === position.index ? position.offset : 0;
    if (end > start) {
      // Read in whole LZ4 blocks, which the encoder compresses where they are instead of copying them together.
      const label = formatObjectLabel({ generationId: cursor.generationId, index, offset: start });
      const body = encodeLz4Frame(readFileChunks(shadowPath, start, end, LZ4_BLOCK_SIZE), end - start, label);
      await client.writeWalSegment(cursor.generationId, index, start, body);
      segmentCount++;
      byteCount += end - start;
    }
    position = { generationId: cursor.generationId, index, offset: Math.max(end, start) };
  }
  return { segmentCount, byteCount, position };
}

async function sizeOf(filePath: string): Promise<number | undefined> {
  try {
    return (await fs.stat(filePath)).size;
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/**
 * Deletes the current generation's shadow WAL files below `index`: every
 * replica holds them whole once all their positions have moved past them.
 */
export async function deleteReplicatedShadow(metaDir: string, generationId: string, indexes: number[], belowIndex: number): Promise<number> {
  let deleted = 0;
  for (const index of indexes) {
    if (index >= belowIndex) continue;
    await fs.rm(shadowWalPath(metaDir, generationId, index), { force: true });
    deleted++;
  }
  return deleted;
}
