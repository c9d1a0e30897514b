/**
 * SQLite WAL checksum — https://www.sqlite.org/fileformat2.html#walformat
 * ("Checksum Algorithm"), on WAL files written by real SQLite.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { walChecksum } from '../../../src/wal/checksum.js';
import type { RealWal } from '../../helpers/real-wal.js';
import { frameOffset, makeWal } from '../../helpers/real-wal.js';

describe('§4.1 checksum algorithm', () => {
  let real: RealWal;
  before(async () => {
    real = await makeWal((app) => app.insert(3));
  });

  it('reproduces the header checksum SQLite stored in bytes 24..32', () => {
    const [c1, c2] = walChecksum(real.wal.subarray(0, 24), false);
    assert.equal(c1, real.wal.readUInt32BE(24));
    assert.equal(c2, real.wal.readUInt32BE(28));
  });

  it('chains from the header checksum through the first frame header and page', () => {
    const at = frameOffset(real.pageSize, 0);
    const header = walChecksum(real.wal.subarray(0, 24), false);
    const afterHeader = walChecksum(real.wal.subarray(at, at + 8), false, header);
    const afterPage = walChecksum(real.wal.subarray(at + 24, at + 24 + real.pageSize), false, afterHeader);
    assert.deepEqual(afterPage, [real.wal.readUInt32BE(at + 16), real.wal.readUInt32BE(at + 20)]);
  });

  it('gives the same result incrementally as in one pass over the concatenation', () => {
    const bytes = real.wal.subarray(32, 32 + 4096);
    const whole = walChecksum(bytes, false);
    let running = walChecksum(bytes.subarray(0, 8), false);
    for (let at = 8; at < bytes.length; at += 1024) running = walChecksum(bytes.subarray(at, Math.min(at + 1024, bytes.length)), false, running);
    assert.deepEqual(running, whole);
  });

  it('reads words in the byte order the magic selects', () => {
    const bytes = real.wal.subarray(0, 24);
    assert.notDeepEqual(walChecksum(bytes, true), walChecksum(bytes, false));
    const swapped = Buffer.from(bytes).swap32();
    assert.deepEqual(walChecksum(swapped, true), walChecksum(bytes, false));
  });

  it('gives the same result on a buffer that is not 4-byte aligned', () => {
    const shifted = Buffer.alloc(4096 + 1);
    real.wal.copy(shifted, 1, 32, 32 + 4096);
    const unaligned = shifted.subarray(1);
    assert.notEqual(unaligned.byteOffset % 4, 0);
    assert.deepEqual(walChecksum(unaligned, false), walChecksum(real.wal.subarray(32, 32 + 4096), false));
  });

  it('refuses input that is not a multiple of 8 bytes', () => {
    assert.throws(() => walChecksum(new Uint8Array(12), false), /multiple of 8 bytes/);
  });
});
