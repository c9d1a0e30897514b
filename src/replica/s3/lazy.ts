/**
 * An S3 replica that loads the AWS SDK (a module tree that takes ~150 ms and
 * ~25 MiB to load) on its first request, so that a command or a daemon that
 * never talks to a bucket does not pay for it at every start.
 */
import type { Body, GenerationListing, ReplicaClient, SnapshotInfo, WalSegmentInfo } from '../client.js';
import { RequestCounter } from '../request-counter.js';
import type { S3ReplicaClient } from './replica.js';
import type { ResolvedS3Settings } from './settings.js';
import { formatS3Url } from './settings.js';

export class LazyS3ReplicaClient implements ReplicaClient {
  readonly url: string;
  readonly requests = new RequestCounter();
  private client: Promise<S3ReplicaClient> | undefined;

  constructor(private readonly settings: ResolvedS3Settings) {
    this.url = formatS3Url(settings);
  }

  listGenerations(): Promise<string[]> {
    return this.load().then((client) => client.listGenerations());
  }

  listSnapshots(generationId: string): Promise<SnapshotInfo[]> {
    return this.load().then((client) => client.listSnapshots(generationId));
  }

  listWalSegments(generationId: string): Promise<WalSegmentInfo[]> {
    return this.load().then((client) => client.listWalSegments(generationId));
  }

  listWalSegmentsFrom(generationId: string, from: { index: number; offset: number }): Promise<WalSegmentInfo[]> {
    return this.load().then((client) => client.listWalSegmentsFrom(generationId, from));
  }

  listGeneration(generationId: string): Promise<GenerationListing> {
    return this.load().then((client) => client.listGeneration(generationId));
  }

  writeSnapshot(generationId: string, index: number, body: Body): Promise<SnapshotInfo> {
    return this.load().then((client) => client.writeSnapshot(generationId, index, body));
  }

  readSnapshot(generationId: string, index: number): Body {
    return this.stream((client) => client.readSnapshot(generationId, index));
  }

  writeWalSegment(generationId: string, index: number, offset: number, body: Body): Promise<WalSegmentInfo> {
    return this.load().then((client) => client.writeWalSegment(generationId, index, offset, body));
  }

  readWalSegment(generationId: string, index: number, offset: number): Body {
    return this.stream((client) => client.readWalSegment(generationId, index, offset));
  }

  deleteSnapshot(generationId: string, index: number): Promise<void> {
    return this.load().then((client) => client.deleteSnapshot(generationId, index));
  }

  deleteWalSegment(generationId: string, index: number, offset: number): Promise<void> {
    return this.load().then((client) => client.deleteWalSegment(generationId, index, offset));
  }

  deleteWalSegments(generationId: string, segments: readonly { index: number; offset: number }[]): Promise<void> {
    return this.load().then((client) => client.deleteWalSegments(generationId, segments));
  }

  deleteGeneration(generationId: string): Promise<void> {
    return this.load().then((client) => client.deleteGeneration(generationId));
  }

  removeDebris(): Promise<void> {
    return this.load().then((client) => client.removeDebris());
  }

  private load(): Promise<S3ReplicaClient> {
    this.client ??= import('./replica.js').then(({ S3ReplicaClient }) => new S3ReplicaClient(this.settings, this.requests));
    return this.client;
  }

  private async *stream(open: (client: S3ReplicaClient) => Body): Body {
    yield* open(await this.load());
  }
}
