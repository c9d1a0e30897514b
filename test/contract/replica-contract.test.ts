/**
 * The replica contract (docs/formats.md, "Replicas"):
 * one suite, run against every backend — a directory, a real S3 server and a
 * real OpenSSH sshd on 127.0.0.1 — through the ReplicaClient interface the rest of walsync uses.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { Body } from '../../src/replica/client.js';
import type { BackendKind } from '../helpers/replica-backends.js';
import { fileBackend, s3Backend, sftpBackend } from '../helpers/replica-backends.js';

const GENERATION = '0123456789abcdef';
const OTHER_GENERATION = 'fedcba9876543210';

async function* bodyOf(...chunks: (string | Uint8Array)[]): Body {
  for (const chunk of chunks) yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

async function readAll(body: Body): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/** `size` bytes of incompressible data in 1 MiB chunks through one reused buffer, as the LZ4 encoder hands them over. */
async function* largeBody(size: number, hash: ReturnType<typeof createHash>): Body {
  const chunk = new Uint8Array(1024 * 1024);
  let state = 0x9e3779b9;
  for (let written = 0; written < size; written += chunk.byteLength) {
    for (let i = 0; i < chunk.byteLength; i += 4) {
      state = (state * 1664525 + 1013904223) >>> 0;
      chunk[i] = state & 0xff;
      chunk[i + 1] = (state >>> 8) & 0xff;
      chunk[i + 2] = (state >>> 16) & 0xff;
      chunk[i + 3] = state >>> 24;
    }
    const part = chunk.subarray(0, Math.min(chunk.byteLength, size - written));
    hash.update(part);
    yield part;
  }
}

const cleanups: (() => Promise<void>)[] = [];
after(() => Promise.all(cleanups.map((cleanup) => cleanup())));
const backends: BackendKind[] = [fileBackend, s3Backend((stop) => cleanups.push(stop)), sftpBackend((stop) => cleanups.push(stop))];

for (const backend of backends) {
  describe(`${backend.name} replica contract`, () => {
    it('reads back every snapshot and segment byte for byte', async (t) => {
      const { client } = await backend.open(t);
      const snapshot = await client.writeSnapshot(GENERATION, 0, bodyOf('snap', 'shot'));
      assert.equal(snapshot.size, 8);
      await client.writeWalSegment(GENERATION, 0, 0, bodyOf('wal-0'));
      const segment = await client.writeWalSegment(GENERATION, 0, 4096, bodyOf('wal-', '4096'));
      assert.deepEqual([segment.index, segment.offset, segment.size], [0, 4096, 8]);
      assert.equal((await readAll(client.readSnapshot(GENERATION, 0))).toString(), 'snapshot');
      assert.equal((await readAll(client.readWalSegment(GENERATION, 0, 0))).toString(), 'wal-0');
      assert.equal((await readAll(client.readWalSegment(GENERATION, 0, 4096))).toString(), 'wal-4096');
    });

    it('lists segments sorted by index then offset whatever order they were written in, with sizes and times', async (t) => {
      const { client } = await backend.open(t);
      const before = Date.now() - 5000;
      for (const [index, offset] of [[2, 0], [0, 0x1000], [10, 0], [0, 0], [1, 0x20], [1, 0]] as const) {
        await client.writeWalSegment(GENERATION, index, offset, bodyOf(`${index}:${offset}`));
      }
      const segments = await client.listWalSegments(GENERATION);
      assert.deepEqual(
        segments.map((s) => [s.index, s.offset]),
        [[0, 0], [0, 0x1000], [1, 0], [1, 0x20], [2, 0], [10, 0]],
      );
      // A follower lists from the position it holds: that segment and later ones only.
      const from = async (index: number, offset: number) => (await client.listWalSegmentsFrom(GENERATION, { index, offset })).map((s) => [s.index, s.offset]);
      assert.deepEqual(await from(1, 0x20), [[1, 0x20], [2, 0], [10, 0]]);
      assert.deepEqual(await from(0, 0x800), [[0, 0x1000], [1, 0], [1, 0x20], [2, 0], [10, 0]]);
      assert.deepEqual(await from(10, 0x1), []);
      for (const s of segments) {
        assert.equal(s.size, `${s.index}:${s.offset}`.length);
        assert.ok(s.createdAt.getTime() >= before && s.createdAt.getTime() <= Date.now() + 5000, s.createdAt.toISOString());
      }
    });

    it("lists a generation's snapshots and segments at once, as its two listings do, and nothing of another generation", async (t) => {
      const { client } = await backend.open(t);
      await client.writeSnapshot(GENERATION, 1, bodyOf('snapshot'));
      for (const [index, offset] of [[1, 0x2000], [1, 0], [2, 0]] as const) await client.writeWalSegment(GENERATION, index, offset, bodyOf('wal'));
      await client.writeWalSegment(OTHER_GENERATION, 0, 0, bodyOf('other'));
      const listing = await client.listGeneration(GENERATION);
      assert.deepEqual(listing, { snapshots: await client.listSnapshots(GENERATION), walSegments: await client.listWalSegments(GENERATION) });
      assert.deepEqual(listing.walSegments.map((s) => [s.index, s.offset]), [[1, 0], [1, 0x2000], [2, 0]]);
      assert.deepEqual(listing.snapshots.map((s) => s.index), [1]);
    });

    it('lists generations and snapshots sorted, ignoring names that do not match the layout', async (t) => {
      const { client, putRaw } = await backend.open(t);
      await client.writeSnapshot(OTHER_GENERATION, 3, bodyOf('b'));
      await client.writeSnapshot(GENERATION, 10, bodyOf('a'));
      await client.writeSnapshot(GENERATION, 2, bodyOf('a'));
      await putRaw(`generations/${GENERATION}/snapshots/notes.txt`, Buffer.from('x'));
      await putRaw(`generations/${GENERATION}/wal/00000000_00000000.wal`, Buffer.from('x'));
      await putRaw(`generations/${GENERATION}/wal/0000000_00000000.wal.lz4`, Buffer.from('x'));
      await putRaw('generations/not-a-generation/snapshots/00000000.snapshot.lz4', Buffer.from('x'));
      await putRaw('generations/0123456789ABCDEF/snapshots/00000000.snapshot.lz4', Buffer.from('x'));
      await putRaw('README', Buffer.from('x'));
      assert.deepEqual(await client.listGenerations(), [GENERATION, OTHER_GENERATION]);
      assert.deepEqual((await client.listSnapshots(GENERATION)).map((s) => s.index), [2, 10]);
      assert.deepEqual(await client.listWalSegments(GENERATION), []);
      assert.deepEqual(await client.listSnapshots('1111111111111111'), []);
    });

    it('an empty replica lists nothing and is not an error', async (t) => {
      const { client } = await backend.open(t);
      assert.deepEqual(await client.listGenerations(), []);
      assert.deepEqual(await client.listSnapshots(GENERATION), []);
      assert.deepEqual(await client.listWalSegments(GENERATION), []);
    });

    it('reading a missing object is REPLICA_NOT_FOUND naming the object', async (t) => {
      const { client } = await backend.open(t);
      await assert.rejects(readAll(client.readWalSegment(GENERATION, 0, 32)), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'REPLICA_NOT_FOUND');
        assert.match(error.message, new RegExp(`generations/${GENERATION}/wal/00000000_00000020\\.wal\\.lz4: no such object$`));
        return true;
      });
    });

    it('a snapshot written twice at the same index replaces the older one', async (t) => {
      const { client } = await backend.open(t);
      await client.writeSnapshot(GENERATION, 1, bodyOf('old'));
      await client.writeSnapshot(GENERATION, 1, bodyOf('newer'));
      assert.deepEqual((await client.listSnapshots(GENERATION)).map((s) => [s.index, s.size]), [[1, 5]]);
      assert.equal((await readAll(client.readSnapshot(GENERATION, 1))).toString(), 'newer');
    });

    it('deletes exactly what it is asked to, and deleting what is gone is not an error', async (t) => {
      const { client } = await backend.open(t);
      await client.writeSnapshot(GENERATION, 0, bodyOf('s0'));
      await client.writeSnapshot(GENERATION, 1, bodyOf('s1'));
      for (let offset = 0; offset < 5; offset++) await client.writeWalSegment(GENERATION, 0, offset * 100, bodyOf('w'));
      await client.writeSnapshot(OTHER_GENERATION, 0, bodyOf('o'));
      await client.writeWalSegment(OTHER_GENERATION, 0, 0, bodyOf('o'));
      await client.deleteSnapshot(GENERATION, 0);
      await client.deleteWalSegment(GENERATION, 0, 0);
      await client.deleteWalSegments(GENERATION, [{ index: 0, offset: 100 }, { index: 0, offset: 300 }, { index: 7, offset: 0 }]);
      await client.deleteSnapshot(GENERATION, 9);
      await client.deleteGeneration(OTHER_GENERATION);
      await client.deleteGeneration('1111111111111111');
      assert.deepEqual((await client.listSnapshots(GENERATION)).map((s) => s.index), [1]);
      assert.deepEqual((await client.listWalSegments(GENERATION)).map((s) => s.offset), [200, 400]);
      assert.deepEqual(await client.listGenerations(), [GENERATION]);
    });

    it('lists and deletes a generation of more than 1000 segments (listings and deletes span several requests)', async (t) => {
      const { client } = await backend.open(t);
      const count = 1105;
      // The first write creates the directories; the rest go 16 at a time.
      await client.writeWalSegment(GENERATION, 0, 0, bodyOf('x'));
      const writes: Promise<unknown>[] = [];
      for (let i = 1; i < count; i++) {
        writes.push(client.writeWalSegment(GENERATION, Math.floor(i / 500), (i % 500) * 32, bodyOf('x')));
        if (writes.length === 16) await Promise.all(writes.splice(0));
      }
      await Promise.all(writes);
      const segments = await client.listWalSegments(GENERATION);
      assert.equal(segments.length, count);
      assert.deepEqual(segments.at(-1) && [segments.at(-1)!.index, segments.at(-1)!.offset], [2, 104 * 32]);
      const later = await client.listWalSegmentsFrom(GENERATION, { index: 1, offset: 250 * 32 });
      assert.equal(later.length, 250 + 105);
      assert.deepEqual([later[0]!.index, later[0]!.offset], [1, 250 * 32]);
      await client.deleteWalSegments(GENERATION, segments.slice(0, 1050));
      assert.equal((await client.listWalSegments(GENERATION)).length, count - 1050);
      await client.deleteGeneration(GENERATION);
      assert.deepEqual(await client.listGenerations(), []);
    });

    it('streams a 72 MiB object up and down (a multipart upload on S3) and reads back the same bytes', async (t) => {
      const { client } = await backend.open(t);
      const size = 72 * 1024 * 1024 + 12345;
      const written = createHash('sha256');
      const putsBefore = client.requests.snapshot().PUT;
      const info = await client.writeSnapshot(GENERATION, 0, largeBody(size, written));
      assert.equal(info.size, size);
      // S3: create, 10 parts of 8 MiB, complete.
      if (backend.name === 's3') assert.equal(client.requests.snapshot().PUT - putsBefore, 12);
      const read = createHash('sha256');
      let readSize = 0;
      for await (const chunk of client.readSnapshot(GENERATION, 0)) {
        read.update(chunk);
        readSize += chunk.byteLength;
      }
      assert.equal(readSize, size);
      assert.equal(read.digest('hex'), written.digest('hex'));
      assert.deepEqual((await client.listSnapshots(GENERATION)).map((s) => s.size), [size]);
    });

    it('counts requests by operation and bytes sent and received', async (t) => {
      const { client } = await backend.open(t);
      const start = client.requests.snapshot();
      await client.writeWalSegment(GENERATION, 0, 0, bodyOf('12345'));
      await client.listWalSegments(GENERATION);
      await readAll(client.readWalSegment(GENERATION, 0, 0));
      await client.deleteWalSegment(GENERATION, 0, 0);
      const end = client.requests.snapshot();
      assert.equal(end.PUT - start.PUT, 1);
      assert.equal(end.LIST - start.LIST, 1);
      // An S3 upload is confirmed with a HEAD (billed as a GET) before it counts as shipped.
      assert.equal(end.GET - start.GET, backend.name === 's3' ? 2 : 1);
      assert.equal(end.DELETE - start.DELETE, 1);
      assert.equal(end.uploadedSize - start.uploadedSize, 5);
      assert.equal(end.downloadedSize - start.downloadedSize, 5);
    });
  });
}
