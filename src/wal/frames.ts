/**
 * Walking WAL frames in a buffer: the salt and checksum chain, and where the
 * last valid commit frame ends. Pure: the caller reads the bytes and feeds
 * them in, chunk by chunk, carrying the returned state forward.
 */
import { walChecksum } from './checksum.js';
import type { Checksum, FrameHeader, WalHeader } from './format.js';
import { WAL_FRAME_HEADER_SIZE, WAL_HEADER_SIZE, frameSizeFor, isBigEndianWal, sameChecksum } from './format.js';

export function parseFrameHeader(bytes: Uint8Array, at = 0): FrameHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, WAL_FRAME_HEADER_SIZE);
  return {
    pageNumber: view.getUint32(0),
    commitPageCount: view.getUint32(4),
    salt1: view.getUint32(8),
    salt2: view.getUint32(12),
    checksum: [view.getUint32(16), view.getUint32(20)],
  };
}

/** A point in a WAL's checksum chain: a frame boundary and the checksum so far. */
export interface ChainPoint {
  readonly offset: number;
  readonly checksum: Checksum;
}

/** The chain point right after the header, where frame 0 starts. */
export function chainStart(header: WalHeader): ChainPoint {
  return { offset: WAL_HEADER_SIZE, checksum: header.checksum };
}

export type WalkStop = 'end' | 'partial-frame' | 'salt-mismatch' | 'checksum-mismatch';

export interface WalkState {
  /** After the last frame whose salts and checksum chain hold (committed or not). */
  readonly validEnd: ChainPoint;
  /** After the last valid commit frame: everything before it is whole transactions. */
  readonly commitEnd: ChainPoint;
  /** Valid frames walked, and how many of them end at or before commitEnd. */
  readonly frameCount: number;
  readonly committedFrameCount: number;
  /** Commit frames walked: one per transaction. */
  readonly commitCount: number;
  /** Database size in pages after the last commit walked, 0 when there was none. */
  readonly lastCommitPageCount: number;
  /** Why the last walkFrames call stopped. */
  readonly stop: WalkStop;
}

export function startWalk(from: ChainPoint): WalkState {
  return {
    validEnd: from,
    commitEnd: from,
    frameCount: 0,
    committedFrameCount: 0,
    commitCount: 0,
    lastCommitPageCount: 0,
    stop: 'end',
  };
}

/**
 * Walks the frames in `bytes`, which hold the WAL from `state.validEnd.offset`
 * on, and stops at the first frame that is torn, carries other salts or
 * breaks the checksum chain. While `stop` is 'end' the walk can go on over
 * the next chunk of the file with the returned state.
 */
export function walkFrames(bytes: Uint8Array, header: WalHeader, state: WalkState): WalkState {
  const frameSize = frameSizeFor(header.pageSize);
  const bigEndian = isBigEndianWal(header);
  const base = state.validEnd.offset;
  let { validEnd, commitEnd, frameCount, committedFrameCount, commitCount, lastCommitPageCount } = state;
  let checksum = validEnd.checksum;
  let stop: WalkStop = 'end';
  let at = 0;
  for (; at + frameSize <= bytes.byteLength; at += frameSize) {
    const frame = parseFrameHeader(bytes, at);
    if (frame.salt1 !== header.salt1 || frame.salt2 !== header.salt2) {
      stop = 'salt-mismatch';
      break;
    }
    checksum = walChecksum(bytes.subarray(at, at + 8), bigEndian, checksum);
    checksum = walChecksum(bytes.subarray(at + WAL_FRAME_HEADER_SIZE, at + frameSize), bigEndian, checksum);
    if (!sameChecksum(checksum, frame.checksum)) {
      stop = 'checksum-mismatch';
      break;
    }
    frameCount++;
    validEnd = { offset: base + at + frameSize, checksum };
    if (frame.commitPageCount !== 0) {
      commitEnd = validEnd;
      committedFrameCount = frameCount;
      commitCount++;
      lastCommitPageCount = frame.commitPageCount;
    }
  }
  if (stop === 'end' && at < bytes.byteLength) stop = 'partial-frame';
  return { validEnd, commitEnd, frameCount, committedFrameCount, commitCount, lastCommitPageCount, stop };
}

/** Convenience for a whole WAL image in memory: header plus frames. */
export function walkWal(wal: Uint8Array, header: WalHeader): WalkState {
  return walkFrames(wal.subarray(WAL_HEADER_SIZE), header, startWalk(chainStart(header)));
}
