/**
 * SQLite WAL layout constants and the arithmetic on them
 * (sqlite.org/fileformat2.html §4, docs/formats.md "The WAL file").
 */

export const WAL_HEADER_SIZE = 32;
export const WAL_FRAME_HEADER_SIZE = 24;
/** Checksum words are little-endian. x86 and ARM SQLite write this one. */
export const WAL_MAGIC_LE = 0x377f0682;
/** Checksum words are big-endian. */
export const WAL_MAGIC_BE = 0x377f0683;
export const WAL_FORMAT_VERSION = 3007000;
export const MIN_PAGE_SIZE = 512;
export const MAX_PAGE_SIZE = 65536;

export type Checksum = readonly [number, number];
export const ZERO_CHECKSUM: Checksum = [0, 0];

export interface WalHeader {
  readonly magic: number;
  readonly formatVersion: number;
  readonly pageSize: number;
  readonly checkpointSeq: number;
  readonly salt1: number;
  readonly salt2: number;
  readonly checksum: Checksum;
}

export interface FrameHeader {
  readonly pageNumber: number;
  /** Database size in pages after the commit; non-zero only on a commit frame. */
  readonly commitPageCount: number;
  readonly salt1: number;
  readonly salt2: number;
  readonly checksum: Checksum;
}

export function isBigEndianWal(header: WalHeader): boolean {
  return header.magic === WAL_MAGIC_BE;
}

export function frameSizeFor(pageSize: number): number {
  return WAL_FRAME_HEADER_SIZE + pageSize;
}

/** Rounds a byte offset down to the last frame boundary at or before it. */
export function frameAlign(offset: number, pageSize: number): number {
  if (offset < WAL_HEADER_SIZE) return 0;
  const frameSize = frameSizeFor(pageSize);
  return WAL_HEADER_SIZE + Math.floor((offset - WAL_HEADER_SIZE) / frameSize) * frameSize;
}

export function walSizeFor(frameCount: number, pageSize: number): number {
  return WAL_HEADER_SIZE + frameCount * frameSizeFor(pageSize);
}

/** Number of whole frames between the header and `offset`. */
export function frameCountAt(offset: number, pageSize: number): number {
  if (offset <= WAL_HEADER_SIZE) return 0;
  return Math.floor((offset - WAL_HEADER_SIZE) / frameSizeFor(pageSize));
}

export function isValidPageSize(pageSize: number): boolean {
  return pageSize >= MIN_PAGE_SIZE && pageSize <= MAX_PAGE_SIZE && (pageSize & (pageSize - 1)) === 0;
}

export function sameChecksum(a: Checksum, b: Checksum): boolean {
  return a[0] === b[0] && a[1] === b[1];
}
