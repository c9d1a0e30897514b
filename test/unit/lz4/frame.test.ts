/**
 * LZ4 frames — github.com/lz4/lz4 doc/lz4_Frame_format.md: the optional
 * content size walsync writes into every frame's header, so a replica's
 * position is read from a segment's first bytes, not by decoding it; and
 * frames of different databases encoded at once in one process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { WalsyncError } from '../../../src/errors.js';
import { loadLz4Codec } from '../../../src/lz4/codec.js';
import { decodeLz4Frame, encodeLz4Frame, formatLz4FrameHeader, formatSkippableFrame, readLz4ContentSize } from '../../../src/lz4/frame.js';
import { expectLabel, formatObjectLabel } from '../../../src/replica/object-label.js';

async function* chunksOf(...buffers: Uint8Array[]): AsyncGenerator<Uint8Array> {
  yield* buffers;
}

async function collect(source: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of source) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

// Compressible text and random bytes, across more than one 4 MiB block.
const content = Buffer.concat([Buffer.from('walsync '.repeat(600_000)), crypto.randomBytes(1_000_000)]);

describe('Frame descriptor: content size', () => {
  it('writes the content size into the header, readable from the header alone', async () => {
    const frame = await collect(encodeLz4Frame(chunksOf(content), content.length));
    assert.equal(await readLz4ContentSize(chunksOf(frame.subarray(0, 15)), 'x'), content.length);
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(frame), 'x')), content);
  });

  it('writes frames the lz4 command line decodes', async () => {
    const frame = await collect(encodeLz4Frame(chunksOf(content.subarray(0, 100_000), content.subarray(100_000)), content.length));
    assert.deepEqual(execFileSync('lz4', ['-d', '-c'], { input: frame, maxBuffer: 64 * 1024 * 1024 }), content);
  });

  it('reads no content size from a frame without one (as Litestream writes them)', async () => {
    const frame = await collect(encodeLz4Frame(chunksOf(content)));
    assert.equal(await readLz4ContentSize(chunksOf(frame), 'x'), undefined);
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(frame), 'x')), content);
  });

  it('refuses to finish a frame whose source was not the size it announced', async () => {
    await assert.rejects(collect(encodeLz4Frame(chunksOf(content), content.length + 1)), (error: WalsyncError) => {
      assert.equal(error.code, 'IO');
      assert.match(error.message, /not the \d+ its header announces/);
      return true;
    });
  });

  it('rejects, naming the object, a frame whose blocks decode to another size than its header says', async () => {
    const frame = await collect(encodeLz4Frame(chunksOf(content), content.length));
    const lying = Buffer.concat([formatLz4FrameHeader(await loadLz4Codec(), content.length - 1), frame.subarray(15)]);
    await assert.rejects(collect(decodeLz4Frame(chunksOf(lying), 'replica/00000000_00000000.wal.lz4')), (error: WalsyncError) => {
      assert.equal(error.code, 'REPLICA_CORRUPT');
      assert.match(error.message, /^replica\/00000000_00000000\.wal\.lz4: LZ4 frame holds \d+ bytes, not the \d+ its header announces$/);
      return true;
    });
  });
});

describe('Blocks of every size', () => {
  it('decodes a frame whose middle blocks are not full (another writer may cut blocks anywhere)', async () => {
    const codec = await loadLz4Codec();
    const cuts = [0, 1_000_000, 1_000_100, 5_000_000, content.length];
    const blocks = cuts.slice(1).map((end, i) => {
      const part = content.subarray(cuts[i], end);
      const compressed = codec.compressBlock(part);
      const size = Buffer.alloc(4);
      // The high bit: stored as is (the random tail does not compress).
      size.writeUInt32LE(compressed ? compressed.byteLength : (part.byteLength | 0x80000000) >>> 0);
      return Buffer.concat([size, compressed ?? part]);
    });
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(codec.createXxh32().update(content).digest() >>> 0);
    const frame = Buffer.concat([formatLz4FrameHeader(codec), ...blocks, Buffer.alloc(4), checksum]);
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(frame), 'x')), content);
  });

  it('rejects, naming the object, a full block that does not decode, and decodes the next frame as before', async () => {
    const codec = await loadLz4Codec();
    const fullBlock = Buffer.from('walsync '.repeat(512 * 1024));
    const compressed = codec.compressBlock(fullBlock)!;
    const cut = compressed.subarray(0, compressed.byteLength - 100);
    const size = Buffer.alloc(4);
    size.writeUInt32LE(cut.byteLength);
    // A block before another is taken to be full: the one lz4_flex decodes.
    const next = Buffer.from([5, 0, 0, 0x80, 1, 2, 3, 4, 5]);
    const damaged = Buffer.concat([formatLz4FrameHeader(codec), size, cut, next, Buffer.alloc(4)]);
    await assert.rejects(collect(decodeLz4Frame(chunksOf(damaged), 'replica/snapshots/00000000.snapshot.lz4')), (error: WalsyncError) => {
      assert.equal(error.code, 'REPLICA_CORRUPT');
      assert.match(error.message, /^replica\/snapshots\/00000000\.snapshot\.lz4: /);
      return true;
    });
    const frame = await collect(encodeLz4Frame(chunksOf(content), content.length));
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(frame), 'x')), content);
  });

  it('decodes frames of 64 KiB blocks from the lz4 command line, whole and in small chunks', async () => {
    const frame = execFileSync('lz4', ['-B4', '-c'], { input: content, maxBuffer: 64 * 1024 * 1024 });
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(frame), 'x')), content);
    const pieces = Array.from({ length: Math.ceil(frame.length / 10_007) }, (_, i) => frame.subarray(i * 10_007, (i + 1) * 10_007));
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(...pieces), 'x')), content);
  });
});

describe('Concurrent frames', () => {
  it('round-trips two frames encoded at the same time in one process (two databases shipping at once)', async () => {
    // Compressible, and different from each other, so a block landing in the wrong frame shows.
    const first = Buffer.concat([Buffer.alloc(20_000, 1), crypto.randomBytes(500), Buffer.alloc(20_000, 2)]);
    const second = Buffer.concat([crypto.randomBytes(300), Buffer.alloc(30_000, 7), crypto.randomBytes(300)]);
    const firstFrame = encodeLz4Frame(chunksOf(first));
    const secondFrame = encodeLz4Frame(chunksOf(second));
    const firstParts: Buffer[] = [];
    const secondParts: Buffer[] = [];
    // Each frame's chunk is written out (here: copied) only after the other frame moved on, as
    // when one replica write is still in flight while another database's job compresses.
    for (let done = false; !done; ) {
      const [a, b] = [await firstFrame.next(), await secondFrame.next()];
      if (!a.done) firstParts.push(Buffer.from(a.value));
      if (!b.done) secondParts.push(Buffer.from(b.value));
      done = a.done === true && b.done === true;
    }
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(Buffer.concat(firstParts)), 'first')), first);
    assert.deepEqual(await collect(decodeLz4Frame(chunksOf(Buffer.concat(secondParts)), 'second')), second);
  });
});

describe('Skippable frames: the object label', () => {
  const label = { generationId: '0123456789abcdef', index: 3, offset: 0x2000 };

  it('a labelled frame decodes with lz4 -d and with walsync, which checks the label against the name', async () => {
    const frame = await collect(encodeLz4Frame(chunksOf(content), content.length, formatObjectLabel(label)));
    assert.ok(execFileSync('lz4', ['-d', '-c'], { input: frame, maxBuffer: 64 * 1024 * 1024 }).equals(content));
    assert.ok((await collect(decodeLz4Frame(chunksOf(frame), 'same', expectLabel(label, 'same')))).equals(content));
    assert.equal(await readLz4ContentSize(chunksOf(frame), 'same', expectLabel(label, 'same')), content.length);
  });

  it('a label naming another object fails the decode before any content, naming both', async () => {
    const frame = await collect(encodeLz4Frame(chunksOf(content), content.length, formatObjectLabel(label)));
    const elsewhere = { ...label, generationId: 'fedcba9876543210' };
    await assert.rejects(
      collect(decodeLz4Frame(chunksOf(frame), 'NAME', expectLabel(elsewhere, 'NAME'))),
      (error: unknown) =>
        error instanceof WalsyncError && error.code === 'REPLICA_CORRUPT' && error.message === 'NAME: holds generations/0123456789abcdef/wal/00000003_00002000.wal.lz4 (an object renamed into place)',
    );
  });

  it('skippable frames that are not a walsync label, and frames without one, decode as before', async () => {
    const plain = await collect(encodeLz4Frame(chunksOf(content)));
    const foreign = Buffer.concat([formatSkippableFrame(Buffer.from('someone else')), plain]);
    assert.ok((await collect(decodeLz4Frame(chunksOf(foreign), 'x', expectLabel(label, 'x')))).equals(content));
    assert.ok((await collect(decodeLz4Frame(chunksOf(plain), 'x', expectLabel(label, 'x')))).equals(content));
  });
});
