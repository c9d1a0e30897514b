/**
 * Which frame holds each page — https://www.sqlite.org/fileformat2.html#walformat
 * ("a reader ... uses the last valid instance of that page in the WAL"), on
 * WAL files written by real SQLite: a snapshot lays these pages over the
 * database file.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { WAL_HEADER_SIZE, frameSizeFor } from '../../../src/wal/format.js';
import { createWalPageIndex, indexFramePages, pagesInOrder } from '../../../src/wal/page-index.js';
import type { RealWal } from '../../helpers/real-wal.js';
import { commitFrameIndexes, frameCountOf, frameOffset, makeWal } from '../../helpers/real-wal.js';

describe('§4 the newest frame of each page', () => {
  let real: RealWal;
  before(async () => {
    // Inserts grow the table; the updates write the same pages again in later frames.
    real = await makeWal(async (app) => {
      await app.insert(40, { size: 900, perTx: 8 });
      await app.exec('UPDATE t SET body = randomblob(900) WHERE id % 4 = 0');
      await app.exec('DELETE FROM t WHERE id > 30');
      await app.insert(3, { size: 200, perTx: 1 });
    });
  });

  it('maps every page to its last frame and takes the database size from the last commit', () => {
    const expected = new Map<number, number>();
    for (let i = 0; i < frameCountOf(real.wal, real.pageSize); i++) {
      expected.set(real.wal.readUInt32BE(frameOffset(real.pageSize, i)), frameOffset(real.pageSize, i));
    }
    const lastCommit = commitFrameIndexes(real.wal, real.pageSize).at(-1)!;
    const index = createWalPageIndex();
    indexFramePages(real.wal.subarray(WAL_HEADER_SIZE), WAL_HEADER_SIZE, real.pageSize, index);
    assert.deepEqual(index.frameOffsets, expected);
    assert.ok(expected.size < frameCountOf(real.wal, real.pageSize), 'the WAL writes some pages twice');
    assert.equal(index.commitPageCount, real.wal.readUInt32BE(frameOffset(real.pageSize, lastCommit) + 4));
  });

  it('gives the same index fed one frame at a time as fed the whole WAL', () => {
    const whole = createWalPageIndex();
    indexFramePages(real.wal.subarray(WAL_HEADER_SIZE), WAL_HEADER_SIZE, real.pageSize, whole);
    const piecewise = createWalPageIndex();
    const frameSize = frameSizeFor(real.pageSize);
    for (let at = WAL_HEADER_SIZE; at < real.wal.length; at += frameSize) {
      indexFramePages(real.wal.subarray(at, at + frameSize), at, real.pageSize, piecewise);
    }
    assert.deepEqual(piecewise, whole);
  });

  it('lists the pages in page order with the offset of each page image, past its frame header', () => {
    const index = createWalPageIndex();
    indexFramePages(real.wal.subarray(WAL_HEADER_SIZE), WAL_HEADER_SIZE, real.pageSize, index);
    const { pageNumbers, dataOffsets } = pagesInOrder(index);
    assert.deepEqual([...pageNumbers], [...index.frameOffsets.keys()].sort((a, b) => a - b));
    pageNumbers.forEach((pageNumber, i) => assert.equal(dataOffsets[i], index.frameOffsets.get(pageNumber)! + 24));
  });

  it('leaves the database size at 0 when the frames hold no commit', () => {
    const index = createWalPageIndex();
    const firstFrame = real.wal.subarray(WAL_HEADER_SIZE, WAL_HEADER_SIZE + frameSizeFor(real.pageSize));
    assert.equal(firstFrame.readUInt32BE(4), 0, 'the first frame of a multi-page transaction is not its commit');
    indexFramePages(firstFrame, WAL_HEADER_SIZE, real.pageSize, index);
    assert.equal(index.commitPageCount, 0);
  });
});
