/** Writing a stream of reused chunks with one write in flight: what lands on disk, and a write that fails. */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { writeAll, writeChunksBehind } from '../../../src/fsx/file-io.js';
import { tempDir } from '../../helpers/tmp.js';

/** The chunks through one reused buffer, as the LZ4 encoder hands them over: each valid until the next is asked for. */
async function* reusedChunks(content: Buffer, sizes: number[]): AsyncGenerator<Uint8Array> {
  const buffer = new Uint8Array(Math.max(...sizes));
  for (let at = 0, i = 0; at < content.length; i++) {
    const size = Math.min(sizes[i % sizes.length]!, content.length - at);
    buffer.set(content.subarray(at, at + size));
    yield buffer.subarray(0, size);
    buffer.fill(0xee);
    at += size;
  }
}

describe('write behind', () => {
  it('writes every byte in order from the position given, whatever the chunk sizes, though each chunk is overwritten once passed on', async (t) => {
    const file = path.join(tempDir(t), 'out');
    const content = crypto.randomBytes(13 * 1024 * 1024 + 17);
    await fs.writeFile(file, 'head');
    const handle = await fs.open(file, 'r+');
    try {
      // Size words, whole 4 MiB blocks, and odd sizes that straddle the buffers.
      const written = await writeChunksBehind((bytes, at) => writeAll(handle, bytes, at), reusedChunks(content, [4, 4 * 1024 * 1024, 4, 3 * 1024 * 1024 + 5, 9 * 1024 * 1024]), 4);
      assert.equal(written, content.length);
    } finally {
      await handle.close();
    }
    assert.deepEqual(await fs.readFile(file), Buffer.concat([Buffer.from('head'), content]));
  });

  it('rejects with the error of a write that failed while the next chunk was being made', async (t) => {
    const file = path.join(tempDir(t), 'read-only');
    await fs.writeFile(file, '');
    const handle = await fs.open(file, 'r');
    try {
      await assert.rejects(writeChunksBehind((bytes, at) => writeAll(handle, bytes, at), reusedChunks(crypto.randomBytes(10 * 1024 * 1024), [4 * 1024 * 1024])), { code: 'EBADF' });
    } finally {
      await handle.close();
    }
  });
});
