/**
 * WAL files written by real SQLite, for the byte-level tests: an app process
 * with wal_autocheckpoint=0 builds the WAL, which is copied while the app
 * still holds its connection (SQLite deletes the WAL on the last close).
 * Corrupt cases are byte edits of such a copy.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { App, AppKind } from './app.js';
import { startApp } from './app.js';
import { walChecksum } from '../../src/wal/checksum.js';
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE, WAL_MAGIC_BE, frameSizeFor } from '../../src/wal/format.js';

export interface RealWal {
  readonly wal: Buffer;
  readonly pageSize: number;
}

export async function makeWal(build: (app: App) => Promise<void>, options: { kind?: AppKind; pageSize?: number; cacheSize?: number } = {}): Promise<RealWal> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walsync-wal-'));
  const dbPath = path.join(dir, 'app.db');
  const app = await startApp({ dbPath, kind: options.kind, autocheckpoint: 0, pageSize: options.pageSize, cacheSize: options.cacheSize });
  try {
    await build(app);
    const wal = await fs.readFile(`${dbPath}-wal`);
    return { wal, pageSize: wal.readUInt32BE(8) };
  } finally {
    await app.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export function frameOffset(pageSize: number, frameIndex: number): number {
  return WAL_HEADER_SIZE + frameIndex * frameSizeFor(pageSize);
}

export function frameCountOf(wal: Buffer, pageSize: number): number {
  return Math.floor((wal.length - WAL_HEADER_SIZE) / frameSizeFor(pageSize));
}

/** Indexes of the commit frames (non-zero "database size" field). */
export function commitFrameIndexes(wal: Buffer, pageSize: number): number[] {
  const indexes: number[] = [];
  for (let i = 0; i < frameCountOf(wal, pageSize); i++) {
    if (wal.readUInt32BE(frameOffset(pageSize, i) + 4) !== 0) indexes.push(i);
  }
  return indexes;
}

export function withFlippedByte(wal: Buffer, offset: number): Buffer {
  const copy = Buffer.from(wal);
  copy[offset]! ^= 0xff;
  return copy;
}

/**
 * The same WAL as a big-endian machine would write it: magic 0x377f0683 and
 * every checksum recomputed over big-endian words.
 */
export function toBigEndianWal(wal: Buffer, pageSize: number): Buffer {
  const copy = Buffer.from(wal);
  copy.writeUInt32BE(WAL_MAGIC_BE, 0);
  let checksum = walChecksum(copy.subarray(0, 24), true);
  copy.writeUInt32BE(checksum[0], 24);
  copy.writeUInt32BE(checksum[1], 28);
  for (let i = 0; i < frameCountOf(copy, pageSize); i++) {
    const at = frameOffset(pageSize, i);
    checksum = walChecksum(copy.subarray(at, at + 8), true, checksum);
    checksum = walChecksum(copy.subarray(at + WAL_FRAME_HEADER_SIZE, at + frameSizeFor(pageSize)), true, checksum);
    copy.writeUInt32BE(checksum[0], at + 16);
    copy.writeUInt32BE(checksum[1], at + 20);
  }
  return copy;
}
