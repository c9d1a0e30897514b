/**
 * Object names in a replica, Litestream 0.3's layout
 * (docs/formats.md, "Replicas"):
 * `generations/<generation>/snapshots/<index:08x>.snapshot.lz4` and
 * `generations/<generation>/wal/<index:08x>_<offset:08x>.wal.lz4`.
 * Names that do not match are foreign and ignored.
 */

const SNAPSHOT_NAME = /^([0-9a-f]{8})\.snapshot\.lz4$/;
const WAL_SEGMENT_NAME = /^([0-9a-f]{8})_([0-9a-f]{8})\.wal\.lz4$/;

export function hex8(value: number): string {
  return value.toString(16).padStart(8, '0');
}

export function formatSnapshotName(index: number): string {
  return `${hex8(index)}.snapshot.lz4`;
}

export function parseSnapshotName(name: string): number | undefined {
  const match = SNAPSHOT_NAME.exec(name);
  return match ? Number.parseInt(match[1]!, 16) : undefined;
}

export function formatWalSegmentName(index: number, offset: number): string {
  return `${walSegmentNameStem(index, offset)}.wal.lz4`;
}

/** "<index>_<offset>": it sorts right before that segment's own name, and after every earlier segment's. */
export function walSegmentNameStem(index: number, offset: number): string {
  return `${hex8(index)}_${hex8(offset)}`;
}

export function parseWalSegmentName(name: string): { index: number; offset: number } | undefined {
  const match = WAL_SEGMENT_NAME.exec(name);
  return match ? { index: Number.parseInt(match[1]!, 16), offset: Number.parseInt(match[2]!, 16) } : undefined;
}

/** Paths relative to the replica root, with `/` separators (keys in a bucket). */
export function generationKey(generationId: string): string {
  return `generations/${generationId}`;
}

export function snapshotsKey(generationId: string): string {
  return `${generationKey(generationId)}/snapshots`;
}

export function walSegmentsKey(generationId: string): string {
  return `${generationKey(generationId)}/wal`;
}

export function snapshotKey(generationId: string, index: number): string {
  return `${snapshotsKey(generationId)}/${formatSnapshotName(index)}`;
}

export function walSegmentKey(generationId: string, index: number, offset: number): string {
  return `${walSegmentsKey(generationId)}/${formatWalSegmentName(index, offset)}`;
}

