/**
 * Which frame holds the newest copy of each page in a run of WAL frames,
 * and the database size the last commit among them leaves. A database image
 * at a WAL position is the database file with those pages laid over it.
 * Pure: the caller reads the frames and feeds them in, chunk by chunk.
 */
import { WAL_FRAME_HEADER_SIZE, frameSizeFor } from './format.js';

export interface WalPageIndex {
  /** Page number -> WAL offset of the newest frame holding it. */
  readonly frameOffsets: Map<number, number>;
  /** Database size in pages after the last commit frame seen; 0 before one. */
  commitPageCount: number;
}

export function createWalPageIndex(): WalPageIndex {
  return { frameOffsets: new Map(), commitPageCount: 0 };
}

/** Records the whole frames in `bytes`, which start at WAL offset `offset` on a frame boundary. */
export function indexFramePages(bytes: Uint8Array, offset: number, pageSize: number, index: WalPageIndex): void {
  const frameSize = frameSizeFor(pageSize);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at + frameSize <= bytes.byteLength; at += frameSize) {
    index.frameOffsets.set(view.getUint32(at), offset + at);
    const commitPageCount = view.getUint32(at + 4);
    if (commitPageCount !== 0) index.commitPageCount = commitPageCount;
  }
}

/** The indexed pages in page order, as parallel arrays, with the offset of each page's data (past its frame header). */
export function pagesInOrder(index: WalPageIndex): { pageNumbers: Uint32Array; dataOffsets: Float64Array } {
  const pageNumbers = Uint32Array.from(index.frameOffsets.keys()).sort();
  const dataOffsets = new Float64Array(pageNumbers.length);
  pageNumbers.forEach((pageNumber, i) => (dataOffsets[i] = index.frameOffsets.get(pageNumber)! + WAL_FRAME_HEADER_SIZE));
  return { pageNumbers, dataOffsets };
}
