/**
 * The replica layout over a store of named objects. A backend (a directory,
 * a bucket, an SSH server) says how to list a folder and put, get and
 * remove an object under a key; snapshots and WAL segments are mapped onto
 * those keys here, once for all of them.
 */
import type { Body, GenerationListing, ReplicaClient, SnapshotInfo, WalSegmentInfo } from './client.js';
import { compareSegments } from './client.js';
import { parseSnapshotName, parseWalSegmentName, snapshotKey, snapshotsKey, walSegmentKey, walSegmentNameStem, walSegmentsKey } from './layout.js';
import type { RequestCounter } from './request-counter.js';

/** An object a folder listing found, named relative to the folder. */
export interface StoredObject {
  readonly name: string;
  /** Stored (compressed) size in bytes. */
  readonly size: number;
  readonly createdAt: Date;
}

export abstract class KeyedReplicaClient implements ReplicaClient {
  abstract readonly url: string;
  abstract readonly requests: RequestCounter;
  abstract listGenerations(): Promise<string[]>;
  abstract deleteGeneration(generationId: string): Promise<void>;
  abstract removeDebris(): Promise<void>;
  /**
   * The objects in the folder `key`, in any order; none when it does not
   * exist. A backend that can list from a name on may leave out the names
   * that sort at or before `startAfter`; the caller filters either way.
   */
  protected abstract listFolder(key: string, startAfter?: string): Promise<StoredObject[]>;
  protected abstract putObject(key: string, body: Body): Promise<{ size: number; createdAt: Date }>;
  protected abstract getObject(key: string): Body;
  /** Removes every key given; a key already gone is not an error. */
  protected abstract deleteObjects(keys: readonly string[]): Promise<void>;

  async listSnapshots(generationId: string): Promise<SnapshotInfo[]> {
    return snapshotsIn(generationId, await this.listFolder(snapshotsKey(generationId)));
  }

  async listWalSegments(generationId: string): Promise<WalSegmentInfo[]> {
    return walSegmentsIn(generationId, await this.listFolder(walSegmentsKey(generationId)));
  }

  async listWalSegmentsFrom(generationId: string, from: { index: number; offset: number }): Promise<WalSegmentInfo[]> {
    const objects = await this.listFolder(walSegmentsKey(generationId), walSegmentNameStem(from.index, from.offset));
    return walSegmentsIn(generationId, objects).filter((segment) => compareSegments(segment, from) >= 0);
  }

  async listGeneration(generationId: string): Promise<GenerationListing> {
    const [snapshots, walSegments] = await Promise.all([this.listSnapshots(generationId), this.listWalSegments(generationId)]);
    return { snapshots, walSegments };
  }

  async writeSnapshot(generationId: string, index: number, body: Body): Promise<SnapshotInfo> {
    const { size, createdAt } = await this.putObject(snapshotKey(generationId, index), body);
    return { generationId, index, size, createdAt };
  }

  readSnapshot(generationId: string, index: number): Body {
    return this.getObject(snapshotKey(generationId, index));
  }

  async writeWalSegment(generationId: string, index: number, offset: number, body: Body): Promise<WalSegmentInfo> {
    const { size, createdAt } = await this.putObject(walSegmentKey(generationId, index, offset), body);
    return { generationId, index, offset, size, createdAt };
  }

  readWalSegment(generationId: string, index: number, offset: number): Body {
    return this.getObject(walSegmentKey(generationId, index, offset));
  }

  async deleteSnapshot(generationId: string, index: number): Promise<void> {
    await this.deleteObjects([snapshotKey(generationId, index)]);
  }

  async deleteWalSegment(generationId: string, index: number, offset: number): Promise<void> {
    await this.deleteObjects([walSegmentKey(generationId, index, offset)]);
  }

  async deleteWalSegments(generationId: string, segments: readonly { index: number; offset: number }[]): Promise<void> {
    await this.deleteObjects(segments.map((segment) => walSegmentKey(generationId, segment.index, segment.offset)));
  }
}

/** The snapshots among a folder's objects, sorted by index; foreign names are ignored. */
export function snapshotsIn(generationId: string, objects: readonly StoredObject[]): SnapshotInfo[] {
  const infos: SnapshotInfo[] = [];
  for (const object of objects) {
    const index = parseSnapshotName(object.name);
    if (index !== undefined) infos.push({ generationId, index, size: object.size, createdAt: object.createdAt });
  }
  return infos.sort((a, b) => a.index - b.index);
}

/** The WAL segments among a folder's objects, sorted by (index, offset); foreign names are ignored. */
export function walSegmentsIn(generationId: string, objects: readonly StoredObject[]): WalSegmentInfo[] {
  const infos: WalSegmentInfo[] = [];
  for (const object of objects) {
    const parsed = parseWalSegmentName(object.name);
    if (parsed) infos.push({ generationId, ...parsed, size: object.size, createdAt: object.createdAt });
  }
  return infos.sort(compareSegments);
}
