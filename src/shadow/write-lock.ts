/**
 * Taking and giving back the app's write lock around a sync, and moving the
 * pin while it is held.
 */
import type { FileHandle } from 'node:fs/promises';
import type { LiveDb } from '../db/live-db.js';
import { WalsyncError } from '../errors.js';
import type { WalHeader } from '../wal/format.js';
import { readWalFileHeader, readWalHeaderAt } from './wal-file.js';

const MAX_HEADER_ATTEMPTS = 3;

/**
 * Takes the write lock on a WAL that has a valid header, and opens the WAL
 * (the caller closes it). An empty or headerless WAL (after a TRUNCATE
 * checkpoint, or a fresh database) gets one write to walsync's own table
 * first, so there is a header to copy.
 */
export async function lockWithWalHeader(db: LiveDb): Promise<{ wal: FileHandle; header: WalHeader }> {
  for (let attempt = 1; ; attempt++) {
    const head = await readWalHeaderAt(db.walPath);
    if (head.kind !== 'ok') {
      db.unpinWal();
      await db.writeSeq();
    }
    await db.lockWrites();
    let wal: FileHandle | undefined;
    try {
      wal = await db.openWal();
      const locked = await readWalFileHeader(wal);
      if (locked.kind === 'ok') return { wal, header: locked.header };
    } catch (error) {
      // An I/O error must not leave the app locked out of its own database.
      await wal?.close();
      db.unlockWrites();
      throw error;
    }
    await wal.close();
    db.unlockWrites();
    if (attempt === MAX_HEADER_ATTEMPTS) {
      throw new WalsyncError('WAL_CORRUPT', `${db.walPath}: no valid WAL header after ${attempt} attempts`);
    }
  }
}

/**
 * Moves the pin to the newest commit while writes are still locked out, then
 * lets the app write. Only when the WAL grew: SQLite gives a read that starts
 * on a fully checkpointed WAL no read mark in it (it reads the database file
 * alone), and such a pin would no longer stop the app from restarting the
 * WAL. A pin that moves past new frames always lands on a mark, because the
 * old pin still holds back the checkpoint while the new one starts.
 */
export function releaseWriteLock(db: LiveDb, walGrew: boolean): void {
  try {
    if (walGrew || !db.isWalPinned) db.pinWal();
  } finally {
    db.unlockWrites();
  }
}
