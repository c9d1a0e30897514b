/**
 * SQLite's rollback journal (sqlite.org/fileformat2.html, "The Rollback
 * Journal"), the bytes only: a header padded to a sector, then one record
 * per page — its number, its content before the change, a checksum. A
 * follower writes one before it changes pages of the database it keeps, so
 * that if it dies part-way SQLite itself rolls the database back (the
 * journal is "hot": no process holds a lock on the database) before anyone
 * reads it, and a reader never sees half an apply.
 */

const JOURNAL_MAGIC = Uint8Array.of(0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7);
/** The sector the header is padded to; SQLite reads it back from the header. */
export const JOURNAL_SECTOR_SIZE = 512;

export interface JournalHeaderFields {
  readonly recordCount: number;
  /** Seeds every record's checksum. */
  readonly nonce: number;
  /** The database's size in pages before the change: a rollback cuts the file back to it. */
  readonly initialPageCount: number;
  readonly pageSize: number;
}

export function journalHeader(fields: JournalHeaderFields): Uint8Array {
  const header = new Uint8Array(JOURNAL_SECTOR_SIZE);
  const view = new DataView(header.buffer);
  header.set(JOURNAL_MAGIC, 0);
  view.setUint32(8, fields.recordCount);
  view.setUint32(12, fields.nonce >>> 0);
  view.setUint32(16, fields.initialPageCount);
  view.setUint32(20, JOURNAL_SECTOR_SIZE);
  view.setUint32(24, fields.pageSize);
  return header;
}

export function journalRecordSize(pageSize: number): number {
  return 4 + pageSize + 4;
}

/** The nonce plus every 200th byte of the page, from the end: SQLite's (weak, but its own) record check. */
export function journalChecksum(page: Uint8Array, nonce: number): number {
  let checksum = nonce >>> 0;
  for (let i = page.byteLength - 200; i > 0; i -= 200) checksum = (checksum + page[i]!) >>> 0;
  return checksum;
}

/** Writes the record of `pageNumber`, whose content before the change is `page`, at `at` in `into`. */
export function putJournalRecord(into: Uint8Array, at: number, pageNumber: number, page: Uint8Array, nonce: number): void {
  const view = new DataView(into.buffer, into.byteOffset, into.byteLength);
  view.setUint32(at, pageNumber);
  into.set(page, at + 4);
  view.setUint32(at + 4 + page.byteLength, journalChecksum(page, nonce));
}
