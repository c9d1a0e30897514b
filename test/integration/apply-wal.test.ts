/**
 * Restore's one-pass replay of a WAL index gives the very bytes SQLite's own
 * checkpoint gives, on files a separate SQLite process wrote: pages
 * rewritten many times, a database that grows and then shrinks, and a chain
 * broken part-way.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { applyWalIndex } from '../../src/restore/apply-wal.js';
import { startAppInTempDir } from '../helpers/app.js';
import { frameOffset } from '../helpers/real-wal.js';

async function applied(dbFile: string, walFile: string): Promise<ReturnType<typeof applyWalIndex>> {
  const db = await fs.open(dbFile, 'r+');
  const wal = await fs.open(walFile, 'r');
  try {
    return await applyWalIndex(db, wal, (await wal.stat()).size);
  } finally {
    await wal.close();
    await db.close();
  }
}

/** The database after SQLite itself checkpoints `walFile` into a copy of `dbFile`. */
async function checkpointedBySqlite(dir: string, dbFile: string, walFile: string): Promise<Buffer> {
  const target = path.join(dir, 'by-sqlite.db');
  await fs.copyFile(dbFile, target);
  await fs.copyFile(walFile, `${target}-wal`);
  const db = new Database(target);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return fs.readFile(target);
}

describe('one-pass WAL replay', () => {
  it('equals SQLite checkpointing the same WAL, byte for byte, through growth, rewrites and a shrink', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.exec('PRAGMA auto_vacuum = FULL; VACUUM;');
    await app.insert(200, { size: 1500, perTx: 20 });
    await app.checkpoint('TRUNCATE');
    const base = path.join(dir, 'base.db');
    await fs.copyFile(dbPath, base);
    // The WAL: more rows, the same rows rewritten over and over, a new table, then most rows gone (auto_vacuum shrinks the file).
    await app.insert(300, { size: 1500, perTx: 10 });
    for (let i = 0; i < 30; i++) await app.exec(`UPDATE t SET body = randomblob(1400) WHERE id % 9 = ${i % 9}`);
    await app.exec('CREATE TABLE extra (x); INSERT INTO extra VALUES (1), (2);');
    await app.exec('DELETE FROM t WHERE id % 4 != 0');
    const walCopy = path.join(dir, 'copy.wal');
    await fs.copyFile(`${dbPath}-wal`, walCopy);

    const ours = path.join(dir, 'ours.db');
    await fs.copyFile(base, ours);
    const check = await applied(ours, walCopy);
    assert.equal(check.ok, true);
    const expected = await checkpointedBySqlite(dir, base, walCopy);
    assert.ok((await fs.readFile(ours)).equals(expected), 'the one-pass replay differs from SQLite’s checkpoint');
  });

  it('refuses a chain broken part-way, naming where the whole transactions stop, and leaves the result to the caller', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(50, { size: 800, perTx: 5 });
    await app.checkpoint('TRUNCATE');
    const base = path.join(dir, 'base.db');
    await fs.copyFile(dbPath, base);
    await app.insert(50, { size: 800, perTx: 5 });
    const walCopy = path.join(dir, 'copy.wal');
    await fs.copyFile(`${dbPath}-wal`, walCopy);
    const pageSize = (await fs.readFile(walCopy)).readUInt32BE(8);
    const wal = await fs.open(walCopy, 'r+');
    // A flipped byte in the data of frame 3 breaks the checksum chain there.
    await wal.write(Buffer.from([0xff]), 0, 1, frameOffset(pageSize, 3) + 24 + 100);
    await wal.close();
    const check = await applied(path.join(dir, 'base.db'), walCopy);
    assert.equal(check.ok, false);
    assert.ok(!check.ok && check.validEnd <= frameOffset(pageSize, 3), `stops at or before frame 3: ${JSON.stringify(check)}`);
    assert.match(!check.ok ? check.problem : '', /stop being whole, valid transactions/);
  });
});
