/** Scratch buffers lent out and taken back between syncs. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_IDLE_BYTES, borrowBuffer, returnBuffer, withBuffers } from '../../../src/fsx/buffer-pool.js';

describe('buffer pool', () => {
  it('lends a returned buffer again, and never one that is still out', () => {
    const first = borrowBuffer(12345);
    const second = borrowBuffer(12345);
    assert.notEqual(first, second);
    returnBuffer(first);
    assert.equal(borrowBuffer(12345), first);
    assert.equal(borrowBuffer(12346).byteLength, 12346);
  });

  it('takes the buffers back when the work using them fails', async () => {
    let lent: Uint8Array[] = [];
    await assert.rejects(
      withBuffers([777, 777], async (buffers) => {
        lent = buffers;
        throw new Error('disk full');
      }),
      /disk full/,
    );
    const again = [borrowBuffer(777), borrowBuffer(777)];
    assert.deepEqual(new Set(again), new Set(lent));
  });

  it(`keeps no more than ${MAX_IDLE_BYTES} idle bytes`, () => {
    const size = 1024 * 1024 + 1;
    const count = Math.floor(MAX_IDLE_BYTES / size) + 4;
    const lent = Array.from({ length: count }, () => borrowBuffer(size));
    for (const buffer of lent) returnBuffer(buffer);
    const again = Array.from({ length: count }, () => borrowBuffer(size));
    const reused = again.filter((buffer) => lent.includes(buffer)).length;
    assert.ok(reused * size <= MAX_IDLE_BYTES, `${reused} buffers of ${size} bytes kept`);
    assert.ok(reused > 0);
  });
});
