/**
 * One apply to the database a follower keeps, crash-safe the way SQLite's
 * own writes are: the pages about to change go to `<db>-journal` first
 * (fsynced), then the new pages go in, then the journal is deleted — the
 * moment the apply counts. The caller holds SQLite's EXCLUSIVE lock on the
 * database throughout, so no reader is inside it; if the follower dies
 * part-way, the lock dies with it and the next connection to open the
 * database finds the journal hot and rolls it back.
 */
import { randomInt } from 'node:crypto';
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { onFile } from '../../errors.js';
import { fsyncPath } from '../../fsx/durable.js';
import { withBuffers } from '../../fsx/buffer-pool.js';
import { writeAll } from '../../fsx/file-io.js';
import type { IndexedWal } from '../apply-wal.js';
import { readExactSync, writeIndexedPages } from '../apply-wal.js';
import { JOURNAL_SECTOR_SIZE, journalHeader, journalRecordSize, putJournalRecord } from './rollback-journal.js';

const JOURNAL_BATCH_BYTES = 4 * 1024 * 1024;
/** Where the file change counter and its copy, "version-valid-for", sit in the header. */
const CHANGE_COUNTER_OFFSET = 24;
const VERSION_VALID_FOR_OFFSET = 92;

export async function applyJournaled(dbPath: string, db: FileHandle, wal: FileHandle, indexed: IndexedWal): Promise<void> {
  const { pageSize } = indexed.header;
  const initialPageCount = Math.floor((await db.stat()).size / pageSize);
  // Page 1 always changes (the change counter below); pages past the end need no old copy: the rollback cuts them off.
  const journaled = [1, ...Array.from(indexed.pages.pageNumbers).filter((pageNumber) => pageNumber !== 1 && pageNumber <= initialPageCount)];
  const journalPath = `${dbPath}-journal`;
  await onFile(journalPath, () => writeRollbackJournal(journalPath, db, journaled, pageSize));
  await onFile(path.dirname(dbPath), () => fsyncPath(path.dirname(dbPath)));
  await onFile(dbPath, async () => {
    await writeIndexedPages(db, wal, indexed);
    await stampHeader(db);
    await db.sync();
  });
  await onFile(journalPath, () => fs.rm(journalPath));
}

/** Journals the current content of `pageNumbers` (all inside the file) of the database open at `db`. */
export async function writeRollbackJournal(journalPath: string, db: FileHandle, pageNumbers: readonly number[], pageSize: number): Promise<void> {
  const initialPageCount = Math.floor((await db.stat()).size / pageSize);
  const nonce = randomInt(2 ** 32);
  // Readable by whoever may read the standby (the umask decides, as for the standby itself).
  const journal = await fs.open(journalPath, 'w', 0o666);
  try {
    await writeAll(journal, journalHeader({ recordCount: pageNumbers.length, nonce, initialPageCount, pageSize }), 0);
    const recordSize = journalRecordSize(pageSize);
    const perBatch = Math.max(1, Math.floor(JOURNAL_BATCH_BYTES / recordSize));
    await withBuffers([perBatch * recordSize, pageSize], async ([batch, page]) => {
      for (let from = 0; from < pageNumbers.length; from += perBatch) {
        const to = Math.min(pageNumbers.length, from + perBatch);
        for (let k = from; k < to; k++) {
          readExactSync(db.fd, page!, (pageNumbers[k]! - 1) * pageSize);
          putJournalRecord(batch!, (k - from) * recordSize, pageNumbers[k]!, page!, nonce);
        }
        await writeAll(journal, batch!.subarray(0, (to - from) * recordSize), JOURNAL_SECTOR_SIZE + from * recordSize);
      }
    });
    await journal.sync();
  } finally {
    await journal.close();
  }
}

/**
 * Readers of a rollback-journal database keep their page cache while the
 * change counter stays the same, and the primary (in WAL mode) does not
 * write page 1 with every commit: every apply moves it on. The header also
 * keeps saying "rollback journal", whatever page 1 the primary sent.
 */
async function stampHeader(db: FileHandle): Promise<void> {
  const header = new Uint8Array(100);
  readExactSync(db.fd, header, 0);
  const view = new DataView(header.buffer);
  const counter = (view.getUint32(CHANGE_COUNTER_OFFSET) + 1) >>> 0;
  view.setUint32(CHANGE_COUNTER_OFFSET, counter);
  view.setUint32(VERSION_VALID_FOR_OFFSET, counter);
  header[18] = 1;
  header[19] = 1;
  await writeAll(db, header, 0);
}
