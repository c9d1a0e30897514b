/** WAL arithmetic — https://www.sqlite.org/fileformat2.html#walformat (frame k starts at 32 + k * (24 + pageSize)). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frameAlign, frameCountAt, frameSizeFor, isValidPageSize, walSizeFor } from '../../../src/wal/format.js';

describe('§4 WAL arithmetic', () => {
  it('sizes a frame as 24 header bytes plus one page', () => {
    assert.equal(frameSizeFor(4096), 4120);
    assert.equal(frameSizeFor(65536), 65560);
  });

  it('aligns offsets down to frame boundaries, with everything inside the header at 0', () => {
    assert.equal(frameAlign(0, 4096), 0);
    assert.equal(frameAlign(31, 4096), 0);
    assert.equal(frameAlign(32, 4096), 32);
    assert.equal(frameAlign(32 + 4119, 4096), 32);
    assert.equal(frameAlign(32 + 4120, 4096), 4152);
    assert.equal(frameAlign(32 + 3 * 4120 + 7, 4096), 32 + 3 * 4120);
  });

  it('sizes a WAL of n frames and counts the frames before an offset', () => {
    assert.equal(walSizeFor(0, 4096), 32);
    assert.equal(walSizeFor(3, 1024), 32 + 3 * 1048);
    assert.equal(frameCountAt(32, 4096), 0);
    assert.equal(frameCountAt(walSizeFor(5, 4096), 4096), 5);
    assert.equal(frameCountAt(walSizeFor(5, 4096) + 100, 4096), 5);
  });

  it('accepts only powers of two from 512 to 65536 as page sizes', () => {
    for (const size of [512, 1024, 4096, 65536]) assert.ok(isValidPageSize(size), String(size));
    for (const size of [0, 256, 3000, 131072]) assert.ok(!isValidPageSize(size), String(size));
  });
});
