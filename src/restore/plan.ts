/**
 * Which objects a restore reads: the generation (named, or the one whose
 * newest object is newest), the newest snapshot at or before the target, and
 * every WAL segment from the snapshot's index up to the target, grouped by
 * index. A missing index or a missing first segment is an error naming the
 * object; holes inside an index are found while the segments are read.
 */
import { WalsyncError } from '../errors.js';
import type { ReplicaClient, SnapshotInfo, WalSegmentInfo } from '../replica/client.js';
import { snapshotKey, walSegmentKey } from '../replica/layout.js';

export interface RestoreTarget {
  readonly generationId?: string;
  /** Restore up to the end of this WAL index. */
  readonly index?: number;
  /** Restore to the last object created at or before this time. */
  readonly timestamp?: Date;
}

export interface RestorePlan {
  readonly generationId: string;
  readonly snapshot: SnapshotInfo;
  /** Segments of each index to replay, in order, from the snapshot's index on. */
  readonly walIndexes: WalSegmentInfo[][];
  readonly lastObjectName: string;
}

export async function selectRestorePlan(client: ReplicaClient, target: RestoreTarget): Promise<RestorePlan | undefined> {
  const generationId = await pickGeneration(client, target);
  if (!generationId) return undefined;
  const allSnapshots = await client.listSnapshots(generationId);
  if (allSnapshots.length === 0) {
    // Only WAL segments: its snapshot was lost (deleted, or a retention run killed half-way).
    throw new WalsyncError('REPLICA_CORRUPT', `${client.url}/generations/${generationId}/: holds WAL segments but no snapshot to apply them to`);
  }
  const snapshots = allSnapshots.filter((s) => isBeforeTarget(s, target));
  const snapshot = snapshots[snapshots.length - 1];
  if (!snapshot) return undefined;
  const segments = (await client.listWalSegments(generationId)).filter((s) => s.index >= snapshot.index && isBeforeTarget(s, target));
  const walIndexes = groupByIndex(client, segments, snapshot.index, target);
  const last = walIndexes.at(-1)?.at(-1);
  const lastObjectName = `${client.url}/${last ? walSegmentKey(generationId, last.index, last.offset) : snapshotKey(generationId, snapshot.index)}`;
  return { generationId, snapshot, walIndexes, lastObjectName };
}

function isBeforeTarget(object: SnapshotInfo | WalSegmentInfo, target: RestoreTarget): boolean {
  if (target.index !== undefined && object.index > target.index) return false;
  if (target.timestamp && object.createdAt.getTime() > target.timestamp.getTime()) return false;
  return true;
}

async function pickGeneration(client: ReplicaClient, target: RestoreTarget): Promise<string | undefined> {
  const generations = await client.listGenerations();
  if (target.generationId) {
    if (!generations.includes(target.generationId)) {
      throw new WalsyncError('NO_BACKUPS', `${client.url}: generation ${target.generationId} not found (it has: ${generations.join(', ') || 'none'})`);
    }
    return target.generationId;
  }
  let best: { generationId: string; newest: number } | undefined;
  for (const generationId of generations) {
    const objects = [...(await client.listSnapshots(generationId)), ...(await client.listWalSegments(generationId))];
    if (objects.length === 0) continue;
    const times = objects.map((o) => o.createdAt.getTime());
    const oldest = Math.min(...times);
    const newest = Math.max(...times);
    // With a target time, only a generation that had begun by then can hold it.
    if (target.timestamp && oldest > target.timestamp.getTime()) continue;
    if (!best || newest > best.newest || (newest === best.newest && generationId > best.generationId)) best = { generationId, newest };
  }
  return best?.generationId;
}

function groupByIndex(client: ReplicaClient, segments: WalSegmentInfo[], fromIndex: number, target: RestoreTarget): WalSegmentInfo[][] {
  const groups: WalSegmentInfo[][] = [];
  for (const segment of segments) {
    const current = groups.at(-1);
    if (current && current[0]!.index === segment.index) current.push(segment);
    else groups.push([segment]);
  }
  let expected = fromIndex;
  for (const group of groups) {
    const first = group[0]!;
    if (first.index !== expected || first.offset !== 0) {
      const missingIndex = first.index !== expected ? expected : first.index;
      throw new WalsyncError('RESTORE_GAP', `${client.url}/${walSegmentKey(first.generationId, missingIndex, 0)}: missing`);
    }
    expected++;
  }
  if (target.index !== undefined && groups.length > 0 && expected - 1 < target.index) {
    throw new WalsyncError('RESTORE_GAP', `${client.url}: WAL index ${target.index} is not in generation ${segments[0]!.generationId} (last is ${expected - 1})`);
  }
  return groups;
}
