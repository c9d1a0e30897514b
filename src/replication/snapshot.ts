/**
 * A snapshot is the whole database as of the shadow's end (a position inside
 * one WAL index), read while the app keeps writing and stored
 * LZ4-compressed. No checkpoint is involved, so the position cannot move
 * under it (the cause of Litestream #521).
 */
import type { LiveDb } from '../db/live-db.js';
import { openDatabaseImage } from '../db/database-image.js';
import { shadowWalPath } from '../layout.js';
import { encodeLz4Frame } from '../lz4/frame.js';
import { formatObjectLabel } from '../replica/object-label.js';
import type { ShadowCursor } from '../shadow/shadow-wal.js';
import type { ReplicaClient, SnapshotInfo } from '../replica/client.js';

/**
 * Uploads a snapshot of the database at `cursor`, which must be where the
 * sync that just ran left the shadow (and the pin).
 */
export async function uploadSnapshot(
  db: LiveDb,
  client: ReplicaClient,
  metaDir: string,
  cursor: ShadowCursor,
): Promise<SnapshotInfo & { databaseSize: number }> {
  const image = await openDatabaseImage({
    file: db.file,
    shadowPath: shadowWalPath(metaDir, cursor.generationId, cursor.index),
    end: cursor.end.offset,
    pageSize: cursor.header.pageSize,
  });
  const snapshot = await client.writeSnapshot(cursor.generationId, cursor.index, encodeLz4Frame(image.chunks, image.size, formatObjectLabel({ generationId: cursor.generationId, index: cursor.index })));
  return { ...snapshot, databaseSize: image.size };
}
