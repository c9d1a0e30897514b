/**
 * Where a replica's copy of a generation ends, derived from what it holds:
 * the last WAL segment's offset plus its decompressed length. Kept in memory
 * between syncs by a long-running process; derived again on start and after
 * any error, so a killed upload never leaves a gap or an overlap.
 */
import { decodeLz4Frame, readLz4ContentSize } from '../lz4/frame.js';
import type { Pos } from '../wal/pos.js';
import type { ReplicaClient, WalSegmentInfo } from '../replica/client.js';
import { walSegmentKey } from '../replica/layout.js';
import { expectLabel } from '../replica/object-label.js';

export async function decodedLength(client: ReplicaClient, segment: WalSegmentInfo): Promise<number> {
  const name = `${client.url}/${walSegmentKey(segment.generationId, segment.index, segment.offset)}`;
  const read = () => client.readWalSegment(segment.generationId, segment.index, segment.offset);
  // walsync puts the size in the frame header; Litestream's segments have to be decoded.
  const announced = await readLz4ContentSize(read(), name, expectLabel(segment, name));
  if (announced !== undefined) return announced;
  let length = 0;
  for await (const chunk of decodeLz4Frame(read(), name, expectLabel(segment, name))) {
    length += chunk.byteLength;
  }
  return length;
}

/** The replica's end for a generation, from its listed segments (sorted); undefined when there are none. */
export async function positionAfter(client: ReplicaClient, generationId: string, segments: readonly WalSegmentInfo[]): Promise<Pos | undefined> {
  const last = segments[segments.length - 1];
  if (!last) return undefined;
  return { generationId, index: last.index, offset: last.offset + (await decodedLength(client, last)) };
}
