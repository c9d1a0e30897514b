/**
 * A snapshot is the whole database as of a position inside one WAL index,
 * read under the pin (so the app keeps writing) and stored LZ4-compressed.
 * No checkpoint is involved, so the position cannot move under it (the
 * cause of Litestream #521).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { LiveDb } from '../db/live-db.js';
import { readFileChunks } from '../fsx/atomic.js';
import { encodeLz4Frame } from '../lz4/frame.js';
import type { ReplicaClient, SnapshotInfo } from './client.js';

export const SNAPSHOT_TMP_NAME = 'snapshot.tmp';

/** Uploads a snapshot of the pinned database as `index` of `generationId`. */
export async function uploadSnapshot(
  db: LiveDb,
  client: ReplicaClient,
  metaDir: string,
  generationId: string,
  index: number,
): Promise<SnapshotInfo & { databaseSize: number }> {
  const tmpPath = path.join(metaDir, SNAPSHOT_TMP_NAME);
  await removeTempDatabase(tmpPath);
  try {
    await db.backupPinned(tmpPath);
    const { size } = await fs.stat(tmpPath);
    const body = encodeLz4Frame(readFileChunks(tmpPath));
    return { ...(await client.writeSnapshot(generationId, index, body)), databaseSize: size };
  } finally {
    await removeTempDatabase(tmpPath);
  }
}

async function removeTempDatabase(tmpPath: string): Promise<void> {
  await Promise.all(['', '-wal', '-shm', '-journal'].map((suffix) => fs.rm(tmpPath + suffix, { force: true })));
}
