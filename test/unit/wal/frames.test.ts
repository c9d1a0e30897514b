/**
 * WAL frames — https://www.sqlite.org/fileformat2.html#walformat ("WAL
 * Frame Format", commit frames, and which frames are valid), on WAL files
 * written by real SQLite. Offsets are asserted exactly.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { frameSizeFor } from '../../../src/wal/format.js';
import { chainStart, parseFrameHeader, startWalk, walkFrames, walkWal } from '../../../src/wal/frames.js';
import { parseWalHeader } from '../../../src/wal/header.js';
import type { RealWal } from '../../helpers/real-wal.js';
import { commitFrameIndexes, frameCountOf, frameOffset, makeWal, toBigEndianWal, withFlippedByte } from '../../helpers/real-wal.js';

function headerOf(wal: Buffer) {
  const parsed = parseWalHeader(wal);
  assert.ok(parsed.ok);
  return parsed.header;
}

describe('§4 WAL frames', () => {
  let real: RealWal;
  let frameSize: number;
  let commits: number[];
  before(async () => {
    // Create table, then 12 transactions of 1 to 3 rows big enough to span pages.
    real = await makeWal(async (app) => {
      for (let i = 0; i < 12; i++) await app.insert(1 + (i % 3), { size: 1500, perTx: 1 + (i % 3) });
    });
    frameSize = frameSizeFor(real.pageSize);
    commits = commitFrameIndexes(real.wal, real.pageSize);
  });

  it('walks a clean WAL to its end: every frame valid, the last one a commit', () => {
    const walk = walkWal(real.wal, headerOf(real.wal));
    const frameCount = frameCountOf(real.wal, real.pageSize);
    assert.equal(real.wal.length, 32 + frameCount * frameSize);
    assert.equal(walk.stop, 'end');
    assert.equal(walk.commitEnd.offset, real.wal.length);
    assert.equal(walk.validEnd.offset, real.wal.length);
    assert.equal(walk.frameCount, frameCount);
    assert.equal(walk.committedFrameCount, frameCount);
    assert.equal(walk.commitCount, commits.length);
    assert.equal(walk.commitCount, 13, 'CREATE TABLE and 12 inserts');
    const last = parseFrameHeader(real.wal, real.wal.length - frameSize);
    assert.deepEqual(walk.commitEnd.checksum, last.checksum);
    assert.equal(walk.lastCommitPageCount, last.commitPageCount);
  });

  it('reads the commit frame fields: page number, database size after commit, salts', () => {
    const header = headerOf(real.wal);
    const frame = parseFrameHeader(real.wal, frameOffset(real.pageSize, commits[0]!));
    assert.ok(frame.commitPageCount >= 2);
    assert.ok(frame.pageNumber >= 1);
    assert.deepEqual([frame.salt1, frame.salt2], [header.salt1, header.salt2]);
  });

  it('gives the same result walked chunk by chunk as in one pass', () => {
    const header = headerOf(real.wal);
    let state = startWalk(chainStart(header));
    for (let at = 32; at < real.wal.length; at += 3 * frameSize) {
      state = walkFrames(real.wal.subarray(at, Math.min(at + 3 * frameSize, real.wal.length)), header, state);
    }
    assert.deepEqual(state, walkWal(real.wal, header));
  });

  it('stops at a frame with a wrong salt, and ends the committed part at the commit before it', () => {
    const k = commits[5]! + 1;
    const broken = Buffer.from(real.wal);
    broken.writeUInt32BE(broken.readUInt32BE(frameOffset(real.pageSize, k) + 8) + 1, frameOffset(real.pageSize, k) + 8);
    const walk = walkWal(broken, headerOf(broken));
    assert.equal(walk.stop, 'salt-mismatch');
    assert.equal(walk.validEnd.offset, frameOffset(real.pageSize, k));
    assert.equal(walk.commitEnd.offset, frameOffset(real.pageSize, commits[5]! + 1));
    assert.equal(walk.commitCount, 6);
  });

  it('stops at a frame whose page fails the checksum chain', () => {
    const k = commits[7]!;
    const walk = walkWal(withFlippedByte(real.wal, frameOffset(real.pageSize, k) + 24 + 100), headerOf(real.wal));
    assert.equal(walk.stop, 'checksum-mismatch');
    assert.equal(walk.validEnd.offset, frameOffset(real.pageSize, k));
    assert.equal(walk.commitEnd.offset, frameOffset(real.pageSize, commits[6]! + 1));
  });

  it('stops at a torn last frame and keeps only whole transactions', () => {
    const torn = real.wal.subarray(0, real.wal.length - frameSize / 2);
    const walk = walkWal(torn, headerOf(torn));
    assert.equal(walk.stop, 'partial-frame');
    assert.equal(walk.commitEnd.offset, frameOffset(real.pageSize, commits[commits.length - 2]! + 1));
  });

  it('leaves the frames of an uncommitted transaction that spilled into the WAL after the committed end', async () => {
    const spilled = await makeWal(
      async (app) => {
        await app.insert(3);
        await app.beginHold(200, 2000);
      },
      { cacheSize: 10 },
    );
    const walk = walkWal(spilled.wal, headerOf(spilled.wal));
    const spilledCommits = commitFrameIndexes(spilled.wal, spilled.pageSize);
    assert.equal(walk.commitCount, 4, 'CREATE TABLE and three inserts');
    assert.equal(walk.commitEnd.offset, frameOffset(spilled.pageSize, spilledCommits[3]! + 1));
    assert.ok(walk.validEnd.offset > walk.commitEnd.offset + 20 * frameSizeFor(spilled.pageSize), 'spilled frames chain but do not commit');
  });

  it('walks a big-endian WAL the same way, and a little-endian reading of it breaks at frame 0', () => {
    const bigEndian = toBigEndianWal(real.wal, real.pageSize);
    const walk = walkWal(bigEndian, headerOf(bigEndian));
    assert.equal(walk.stop, 'end');
    assert.equal(walk.commitEnd.offset, real.wal.length);
    const misread = walkWal(bigEndian, { ...headerOf(bigEndian), magic: 0x377f0682 });
    assert.equal(misread.stop, 'checksum-mismatch');
    assert.equal(misread.validEnd.offset, 32);
  });

  it('stops at frames left from an older WAL cycle after a restart', async () => {
    const restarted = await makeWal(async (app) => {
      await app.insert(20, { size: 1500 });
      await app.checkpoint('RESTART');
      await app.insert(1);
    });
    const walk = walkWal(restarted.wal, headerOf(restarted.wal));
    assert.equal(walk.stop, 'salt-mismatch');
    assert.equal(walk.commitEnd.offset, walk.validEnd.offset);
    assert.ok(walk.commitEnd.offset < restarted.wal.length, 'old frames remain past the new end');
  });
});
