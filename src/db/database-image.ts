/**
 * The database as of a shadow WAL position, streamed page by page: the
 * database file with the newest copy of every page in the shadow's frames
 * laid over it. Read while the pin holds a read mark at or before that
 * position, which is where every sync leaves it: a checkpoint can then only
 * write the file's pages from frames up to the mark, all of which are laid
 * over, and cannot truncate the file or restart the WAL under it. This
 * reads at disk speed, where SQLite's backup API (page by page through the
 * pager, into a temporary database) took six times as long.
 */
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { WalsyncError } from '../errors.js';
import { readFileChunks, readRange } from '../fsx/file-io.js';
import { WAL_HEADER_SIZE, frameSizeFor } from '../wal/format.js';
import { createWalPageIndex, indexFramePages, pagesInOrder } from '../wal/page-index.js';
import type { DatabaseFile } from './database-file.js';
import { databaseFileSize, readDatabaseFile } from './database-file.js';

const CHUNK_SIZE = 4 * 1024 * 1024;
const INDEX_FRAMES_PER_READ = 256;
const MAX_SPAN_SIZE = 1024 * 1024;
const SPAN_READS_AT_ONCE = 4;

export interface DatabaseImageSource {
  /** The database file the pin's connection has open: read through it, never another file at the same path. */
  readonly file: DatabaseFile;
  /** The shadow WAL of the position's index, and the position's offset in it (the end of a commit). */
  readonly shadowPath: string;
  readonly end: number;
  readonly pageSize: number;
}

export interface DatabaseImage {
  readonly pageCount: number;
  readonly size: number;
  /** The image in chunks; each is valid until the next one is asked for. */
  readonly chunks: AsyncGenerator<Uint8Array>;
}

export async function openDatabaseImage(source: DatabaseImageSource): Promise<DatabaseImage> {
  const { pageSize } = source;
  const index = createWalPageIndex();
  const readSize = frameSizeFor(pageSize) * INDEX_FRAMES_PER_READ;
  let offset = WAL_HEADER_SIZE;
  for await (const frames of readFileChunks(source.shadowPath, WAL_HEADER_SIZE, source.end, readSize)) {
    indexFramePages(frames, offset, pageSize, index);
    offset += frames.byteLength;
  }
  // A WAL index with no commit yet starts right after a complete checkpoint,
  // which leaves the file exactly the database's size.
  const pageCount = index.commitPageCount || Math.floor(databaseFileSize(source.file) / pageSize);
  return { pageCount, size: pageCount * pageSize, chunks: streamPages(source, pageCount, pagesInOrder(index)) };
}

async function* streamPages(
  source: DatabaseImageSource,
  pageCount: number,
  walPages: { pageNumbers: Uint32Array; dataOffsets: Float64Array },
): AsyncGenerator<Uint8Array> {
  const { pageSize } = source;
  const chunkPages = Math.max(1, Math.floor(CHUNK_SIZE / pageSize));
  const buffers = [new Uint8Array(chunkPages * pageSize), new Uint8Array(chunkPages * pageSize)];
  const scratches = Array.from({ length: SPAN_READS_AT_ONCE }, () => new Uint8Array(MAX_SPAN_SIZE));
  const shadow = await fs.open(source.shadowPath, 'r');
  let walPageAt = 0;
  const fill = async (buffer: Uint8Array, firstPage: number): Promise<Uint8Array> => {
    const count = Math.min(chunkPages, pageCount - firstPage + 1);
    const chunk = buffer.subarray(0, count * pageSize);
    const fileBytes = await readDatabaseFile(source.file, chunk, (firstPage - 1) * pageSize);
    const firstMissing = firstPage + Math.floor(fileBytes / pageSize);
    const last = firstPage + count;
    const from = walPageAt;
    while (walPageAt < walPages.pageNumbers.length && walPages.pageNumbers[walPageAt]! < last) walPageAt++;
    await layOver(shadow, walPages, from, walPageAt, pageSize, scratches, (pageNumber) => chunk.subarray((pageNumber - firstPage) * pageSize, (pageNumber - firstPage + 1) * pageSize));
    let laidOver = 0;
    for (let i = from; i < walPageAt; i++) if (walPages.pageNumbers[i]! >= firstMissing) laidOver++;
    if (laidOver < firstPage + count - firstMissing) {
      throw new WalsyncError('IO', `${source.file.dbPath}: database file ends at page ${firstMissing - 1} and the WAL does not hold the pages after it`);
    }
    return chunk;
  };
  let pending: Promise<Uint8Array> | undefined;
  try {
    let turn = 0;
    pending = pageCount > 0 ? fill(buffers[turn]!, 1) : undefined;
    for (let firstPage = 1; pending; firstPage += chunkPages) {
      const chunk = await pending;
      turn ^= 1;
      // Read the next chunk while this one is compressed and written.
      pending = firstPage + chunkPages <= pageCount ? fill(buffers[turn]!, firstPage + chunkPages) : undefined;
      yield chunk;
    }
  } finally {
    await pending?.catch(() => undefined);
    await shadow.close();
  }
}

/**
 * Copies the pages `from..to` of `walPages` out of the shadow WAL. Pages in
 * page order are often in nearby frames (a transaction that wrote them in
 * order), so frames close together are read in one span, and spans are read
 * several at a time: one read per page would wait on the disk once per page.
 */
async function layOver(
  shadow: FileHandle,
  walPages: { pageNumbers: Uint32Array; dataOffsets: Float64Array },
  from: number,
  to: number,
  pageSize: number,
  scratches: readonly Uint8Array[],
  pageIn: (pageNumber: number) => Uint8Array,
): Promise<void> {
  const maxGap = 2 * frameSizeFor(pageSize);
  const spans: { start: number; end: number; first: number; last: number }[] = [];
  for (let i = from; i < to; ) {
    const start = walPages.dataOffsets[i]!;
    let j = i + 1;
    while (
      j < to &&
      walPages.dataOffsets[j]! > walPages.dataOffsets[j - 1]! &&
      walPages.dataOffsets[j]! - walPages.dataOffsets[j - 1]! <= maxGap &&
      walPages.dataOffsets[j]! + pageSize - start <= MAX_SPAN_SIZE
    ) {
      j++;
    }
    spans.push({ start, end: walPages.dataOffsets[j - 1]! + pageSize, first: i, last: j });
    i = j;
  }
  const readSpan = async (span: (typeof spans)[number], scratch: Uint8Array): Promise<void> => {
    const bytes = await readRange(shadow, span.start, span.end - span.start, scratch);
    for (let k = span.first; k < span.last; k++) {
      const at = walPages.dataOffsets[k]! - span.start;
      pageIn(walPages.pageNumbers[k]!).set(bytes.subarray(at, at + pageSize));
    }
  };
  let next = 0;
  const worker = async (scratch: Uint8Array): Promise<void> => {
    while (next < spans.length) await readSpan(spans[next++]!, scratch);
  };
  await Promise.all(scratches.slice(0, spans.length).map(worker));
}
