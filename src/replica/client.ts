/**
 * What walsync needs from a replica backend (a directory, an S3 bucket).
 * Bodies are the stored bytes (LZ4 frames); compression happens above.
 * Listings ignore foreign names and are sorted by (index, offset), whatever
 * order the backend returned them in.
 */
import type { RequestCounter } from './request-counter.js';

export interface SnapshotInfo {
  readonly generationId: string;
  readonly index: number;
  /** Stored (compressed) size in bytes. */
  readonly size: number;
  readonly createdAt: Date;
}

export interface WalSegmentInfo {
  readonly generationId: string;
  readonly index: number;
  readonly offset: number;
  /** Stored (compressed) size in bytes. */
  readonly size: number;
  readonly createdAt: Date;
}

export interface GenerationListing {
  readonly snapshots: SnapshotInfo[];
  readonly walSegments: WalSegmentInfo[];
}

export type Body = AsyncIterable<Uint8Array>;

export interface ReplicaClient {
  /** The replica as the user named it, for messages. */
  readonly url: string;
  /** Requests made so far, by operation (what an object store bills by). */
  readonly requests: RequestCounter;
  listGenerations(): Promise<string[]>;
  listSnapshots(generationId: string): Promise<SnapshotInfo[]>;
  listWalSegments(generationId: string): Promise<WalSegmentInfo[]>;
  /** The segments at or after (index, offset), for a follower that holds that position: an object store lists only those. */
  listWalSegmentsFrom(generationId: string, from: { index: number; offset: number }): Promise<WalSegmentInfo[]>;
  /** Both listings of a generation, in one request where the backend can (a sync's start costs one LIST). */
  listGeneration(generationId: string): Promise<GenerationListing>;
  writeSnapshot(generationId: string, index: number, body: Body): Promise<SnapshotInfo>;
  readSnapshot(generationId: string, index: number): Body;
  writeWalSegment(generationId: string, index: number, offset: number, body: Body): Promise<WalSegmentInfo>;
  readWalSegment(generationId: string, index: number, offset: number): Body;
  deleteSnapshot(generationId: string, index: number): Promise<void>;
  deleteWalSegment(generationId: string, index: number, offset: number): Promise<void>;
  /** Deletes many segments at once (a bucket takes up to 1000 keys per request). */
  deleteWalSegments(generationId: string, segments: readonly { index: number; offset: number }[]): Promise<void>;
  deleteGeneration(generationId: string): Promise<void>;
  /** Removes what killed uploads left behind (temp files), where a backend can have any. */
  removeDebris(): Promise<void>;
}

export function compareSegments(a: { index: number; offset: number }, b: { index: number; offset: number }): number {
  return a.index - b.index || a.offset - b.offset;
}
