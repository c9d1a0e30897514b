import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { decodeLz4Frame, encodeLz4Frame } from '../../../src/lz4/frame.js';

async function* chunksOf(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

async function decodeAll(frame: Uint8Array): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of decodeLz4Frame(chunksOf(frame), 'test')) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

describe('LZ4 frames', () => {
  it('round-trips two frames encoded at the same time in one process (two databases shipping at once)', async () => {
    // Compressible, and different from each other, so a block landing in the wrong frame shows.
    const first = Buffer.concat([Buffer.alloc(20_000, 1), randomBytes(500), Buffer.alloc(20_000, 2)]);
    const second = Buffer.concat([randomBytes(300), Buffer.alloc(30_000, 7), randomBytes(300)]);
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
    assert.deepEqual(await decodeAll(Buffer.concat(firstParts)), first);
    assert.deepEqual(await decodeAll(Buffer.concat(secondParts)), second);
  });
});
