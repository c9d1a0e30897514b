/**
 * A replica in an S3-compatible bucket (AWS S3, MinIO, B2, R2, Wasabi,
 * Spaces), in the same Litestream 0.3 layout as the file replica, under a
 * key prefix. A single PUT is atomic, and a multipart upload appears only
 * when completed, so a killed upload leaves no half object under a real
 * name. Listings never rely on delimiters (some stores drop nested keys
 * from them), follow continuation tokens, and are sorted here, because not
 * every store lists in key order.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { S3Client } from '@aws-sdk/client-s3';
import { DeleteObjectCommand, DeleteObjectsCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Body, GenerationListing } from '../client.js';
import { WalsyncError } from '../../errors.js';
import type { StoredObject } from '../keyed-client.js';
import { KeyedReplicaClient, snapshotsIn, walSegmentsIn } from '../keyed-client.js';
import { generationKey } from '../layout.js';
import { RequestCounter } from '../request-counter.js';
import { S3_MAX_ATTEMPTS, createS3Client } from './client.js';
import { isS3NotFound, s3Failure } from './errors.js';
import type { ResolvedS3Settings } from './settings.js';
import { formatS3Url } from './settings.js';

const GENERATION_ID = /^[0-9a-f]{16}$/;

/** S3 refuses more keys in one DeleteObjects request. */
export const S3_DELETE_BATCH_SIZE = 1000;
/**
 * Objects larger than this go up as a multipart upload, in parts of this
 * size, two in flight: memory stays near 3 parts whatever the object size.
 */
export const S3_PART_SIZE = 8 * 1024 * 1024;
const UPLOAD_QUEUE_SIZE = 2;

export class S3ReplicaClient extends KeyedReplicaClient {
  readonly url: string;
  private readonly client: S3Client;
  private readonly root: string;

  constructor(
    readonly settings: ResolvedS3Settings,
    readonly requests = new RequestCounter(),
  ) {
    super();
    this.url = formatS3Url(settings);
    this.root = settings.path ? `${settings.path}/` : '';
    this.client = createS3Client(settings, this.requests);
  }

  /**
   * Generations are the first path part of every key under `generations/`,
   * from one full listing: a listing that skips ahead (StartAfter) would miss
   * generations on a store that does not list in key order.
   */
  async listGenerations(): Promise<string[]> {
    const generations = new Set<string>();
    for (const object of await this.listObjects('generations/')) {
      const [name, ...rest] = object.name.split('/');
      if (GENERATION_ID.test(name!) && rest.length > 0) generations.add(name!);
    }
    return [...generations].sort();
  }

  /** A generation's snapshots and segments from one listing: a sync's start costs one LIST. */
  override async listGeneration(generationId: string): Promise<GenerationListing> {
    const objects = await this.listObjects(`${generationKey(generationId)}/`);
    const under = (folder: string) =>
      objects.filter((object) => object.name.startsWith(`${folder}/`)).map((object) => ({ ...object, name: object.name.slice(folder.length + 1) }));
    return { snapshots: snapshotsIn(generationId, under('snapshots')), walSegments: walSegmentsIn(generationId, under('wal')) };
  }

  async deleteGeneration(generationId: string): Promise<void> {
    const prefix = `${generationKey(generationId)}/`;
    await this.deleteObjects((await this.listObjects(prefix)).map((object) => `${prefix}${object.name}`));
  }

  /**
   * Nothing to do: a failed multipart upload is aborted by the SDK, and a
   * bucket lifecycle rule (docs/replicas.md) removes the parts of one killed with its
   * process. Listing uploads here would cost a request on every start.
   */
  async removeDebris(): Promise<void> {}

  private objectName(key: string): string {
    return `${this.url}/${key}`;
  }

  private async call<T>(key: string, request: (client: S3Client) => Promise<T>): Promise<T> {
    try {
      return await request(this.client);
    } catch (error) {
      throw s3Failure(this.objectName(key), error);
    }
  }

  protected listFolder(key: string, startAfter?: string): Promise<StoredObject[]> {
    return this.listObjects(`${key}/`, startAfter);
  }

  /** Every object under `key` (a prefix ending in '/'), named relative to it; past `startAfter` only, when given. */
  private async listObjects(key: string, startAfter?: string): Promise<StoredObject[]> {
    const prefix = `${this.root}${key}`;
    const objects: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await this.call(key, (s3) =>
        s3.send(
          new ListObjectsV2Command({
            Bucket: this.settings.bucket,
            Prefix: prefix,
            ContinuationToken: token,
            StartAfter: token === undefined && startAfter !== undefined ? `${prefix}${startAfter}` : undefined,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        objects.push({ name: object.Key.slice(prefix.length), size: object.Size ?? 0, createdAt: object.LastModified ?? new Date(0) });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return objects;
  }

  protected async putObject(key: string, body: Body): Promise<{ size: number; createdAt: Date }> {
    let size = 0;
    const stream = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          size += chunk.byteLength;
          // The encoder reuses its buffers; the uploader holds on to chunks until a part is full.
          yield Buffer.from(chunk);
        }
      })(),
      // A byte stream, not object mode: object mode would read ahead 16 chunks (64 MiB of 4 MiB blocks).
      { objectMode: false },
    );
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.settings.bucket, Key: `${this.root}${key}`, Body: stream },
      partSize: S3_PART_SIZE,
      queueSize: UPLOAD_QUEUE_SIZE,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      stream.destroy();
      throw s3Failure(this.objectName(key), error);
    }
    return { size, createdAt: await this.confirmStored(key, size) };
  }

  /**
   * A store's 200 is not proof it kept the object (a proxy or a gateway
   * that lost the body, a bucket whose lifecycle removed it): ask for it
   * before the segment counts as shipped. One HEAD per upload, billed as a
   * GET, and it gives the object's real LastModified.
   */
  private async confirmStored(key: string, size: number): Promise<Date> {
    let head;
    try {
      head = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: `${this.root}${key}` }));
    } catch (error) {
      if (isS3NotFound(error)) throw new WalsyncError('REPLICA_IO', `${this.objectName(key)}: the store acknowledged the upload but does not hold the object`);
      throw s3Failure(this.objectName(key), error);
    }
    if (head.ContentLength !== size) {
      throw new WalsyncError('REPLICA_IO', `${this.objectName(key)}: the store acknowledged ${size} bytes but holds ${head.ContentLength ?? 'no'} bytes`);
    }
    return head.LastModified ?? new Date();
  }

  /**
   * The SDK retries a GET only until its headers arrive; a connection cut
   * mid-body would fail a whole restore. So a body that breaks off is asked
   * for again from the byte it reached, of the same object version (If-Match
   * its ETag), with the SDK's attempts and backoff.
   */
  protected async *getObject(key: string): Body {
    let received = 0;
    let etag: string | undefined;
    for (let attempt = 1; ; attempt++) {
      const range = received > 0 ? `bytes=${received}-` : undefined;
      const response = await this.call(key, (s3) =>
        s3.send(new GetObjectCommand({ Bucket: this.settings.bucket, Key: `${this.root}${key}`, Range: range, IfMatch: range ? etag : undefined })),
      );
      etag ??= response.ETag;
      const stream = response.Body as Readable;
      try {
        for await (const chunk of stream) {
          received += (chunk as Uint8Array).byteLength;
          yield chunk as Uint8Array;
        }
        return;
      } catch (error) {
        if (attempt >= S3_MAX_ATTEMPTS) throw s3Failure(this.objectName(key), error);
        await sleep(Math.random() * 100 * 2 ** attempt);
      } finally {
        stream.destroy();
      }
    }
  }

  /** One key is a DeleteObject; more go in DeleteObjects batches, which not every store offers for a single key's sake. */
  protected async deleteObjects(keys: readonly string[]): Promise<void> {
    if (keys.length === 1) {
      await this.call(keys[0]!, (s3) => s3.send(new DeleteObjectCommand({ Bucket: this.settings.bucket, Key: `${this.root}${keys[0]!}` })));
      return;
    }
    for (let at = 0; at < keys.length; at += S3_DELETE_BATCH_SIZE) {
      const batch = keys.slice(at, at + S3_DELETE_BATCH_SIZE);
      const result = await this.call(batch[0]!, (s3) =>
        s3.send(new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: batch.map((k) => ({ Key: `${this.root}${k}` })), Quiet: true } })),
      );
      const [failed] = result.Errors ?? [];
      if (failed) throw s3Failure(this.objectName(failed.Key?.slice(this.root.length) ?? batch[0]!), { name: failed.Code, message: failed.Message, $metadata: { httpStatusCode: 200 } });
    }
  }
}
