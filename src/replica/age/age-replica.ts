/**
 * A replica whose objects are encrypted on this machine with age
 * (age-encryption.org/v1), as Litestream 0.3 stores them: each object is the
 * LZ4 frame, encrypted to every recipient, so `age -d -i key | lz4 -d`
 * gives the plain frame. Listings and deletes pass through; bodies stream
 * through age's 64 KiB chunks, so memory stays flat.
 */
import { WalsyncError, messageOf } from '../../errors.js';
import type { Body, GenerationListing, ReplicaClient, SnapshotInfo, WalSegmentInfo } from '../client.js';
import { snapshotKey, walSegmentKey } from '../layout.js';
import type { RequestCounter } from '../request-counter.js';
import type { AgeKeys } from './keys.js';
import { identityNeeded } from './keys.js';

const AGE_HEADER = new TextEncoder().encode('age-encryption.org/v1\n');

export class AgeReplicaClient implements ReplicaClient {
  constructor(
    private readonly inner: ReplicaClient,
    private readonly keys: AgeKeys,
  ) {}

  get url(): string {
    return this.inner.url;
  }

  get requests(): RequestCounter {
    return this.inner.requests;
  }

  listGenerations(): Promise<string[]> {
    return this.inner.listGenerations();
  }

  listSnapshots(generationId: string): Promise<SnapshotInfo[]> {
    return this.inner.listSnapshots(generationId);
  }

  listWalSegments(generationId: string): Promise<WalSegmentInfo[]> {
    return this.inner.listWalSegments(generationId);
  }

  listWalSegmentsFrom(generationId: string, from: { index: number; offset: number }): Promise<WalSegmentInfo[]> {
    return this.inner.listWalSegmentsFrom(generationId, from);
  }

  listGeneration(generationId: string): Promise<GenerationListing> {
    return this.inner.listGeneration(generationId);
  }

  writeSnapshot(generationId: string, index: number, body: Body): Promise<SnapshotInfo> {
    return this.inner.writeSnapshot(generationId, index, this.encrypt(body, snapshotKey(generationId, index)));
  }

  readSnapshot(generationId: string, index: number): Body {
    return this.decrypt(this.inner.readSnapshot(generationId, index), snapshotKey(generationId, index));
  }

  writeWalSegment(generationId: string, index: number, offset: number, body: Body): Promise<WalSegmentInfo> {
    return this.inner.writeWalSegment(generationId, index, offset, this.encrypt(body, walSegmentKey(generationId, index, offset)));
  }

  readWalSegment(generationId: string, index: number, offset: number): Body {
    return this.decrypt(this.inner.readWalSegment(generationId, index, offset), walSegmentKey(generationId, index, offset));
  }

  deleteSnapshot(generationId: string, index: number): Promise<void> {
    return this.inner.deleteSnapshot(generationId, index);
  }

  deleteWalSegment(generationId: string, index: number, offset: number): Promise<void> {
    return this.inner.deleteWalSegment(generationId, index, offset);
  }

  deleteWalSegments(generationId: string, segments: readonly { index: number; offset: number }[]): Promise<void> {
    return this.inner.deleteWalSegments(generationId, segments);
  }

  deleteGeneration(generationId: string): Promise<void> {
    return this.inner.deleteGeneration(generationId);
  }

  removeDebris(): Promise<void> {
    return this.inner.removeDebris();
  }

  private async *encrypt(body: Body, key: string): Body {
    if (this.keys.recipients.length === 0) {
      throw new WalsyncError('AGE_KEY', `${this.url}/${key}: this replica has age identities but no recipients to encrypt to (age.recipients)`);
    }
    const { Encrypter } = await loadAge();
    const encrypter = new Encrypter();
    for (const recipient of this.keys.recipients) encrypter.addRecipient(recipient);
    yield* await encrypter.encrypt(webStreamOf(body));
  }

  private async *decrypt(body: Body, key: string): Body {
    const name = `${this.url}/${key}`;
    if (this.keys.identities.length === 0) throw identityNeeded(name);
    const source = body[Symbol.asyncIterator]();
    const first = await source.next();
    const head = first.done ? new Uint8Array(0) : Uint8Array.from(first.value);
    if (!AGE_HEADER.every((byte, i) => head[i] === byte)) {
      await source.return?.();
      throw new WalsyncError('REPLICA_CORRUPT', `${name}: not age-encrypted, but this replica is configured with age (a plain object in an encrypted replica)`);
    }
    const { Decrypter } = await loadAge();
    const decrypter = new Decrypter();
    for (const identity of this.keys.identities) decrypter.addIdentity(identity);
    let plain: AsyncIterable<Uint8Array>;
    try {
      plain = await decrypter.decrypt(webStreamOf(resumed(head, source)));
    } catch (error) {
      await source.return?.();
      if (/no identity matched/i.test(messageOf(error))) {
        throw new WalsyncError('AGE_KEY', `${name}: none of the age identities given can decrypt it (encrypted to other recipients)`);
      }
      throw new WalsyncError('REPLICA_CORRUPT', `${name}: damaged age header: ${messageOf(error)}`, { cause: error });
    }
    try {
      yield* plain;
    } catch (error) {
      if (error instanceof WalsyncError) throw error;
      throw new WalsyncError('REPLICA_CORRUPT', `${name}: age decryption failed: ${messageOf(error)}`, { cause: error });
    }
  }
}

/** age-encryption and its curves load on first use: a process with no encrypted replica (most restores) carries none of it (7 MiB). */
function loadAge(): Promise<typeof import('age-encryption')> {
  return import('age-encryption');
}

/** The first chunk, already read, then the rest of the source. */
async function* resumed(first: Uint8Array, rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (first.byteLength > 0) yield first;
  for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
}

/**
 * A web stream pulling from `body` one chunk at a time. Chunks are copied:
 * walsync's sources reuse their buffers once the next chunk is asked for,
 * and age keeps what it was given until a 64 KiB chunk is full.
 */
function webStreamOf(body: Body): ReadableStream<Uint8Array> {
  const source = body[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await source.next();
        if (next.done) controller.close();
        else controller.enqueue(Uint8Array.from(next.value));
      },
      async cancel() {
        await source.return?.();
      },
    },
    { highWaterMark: 0 },
  );
}
