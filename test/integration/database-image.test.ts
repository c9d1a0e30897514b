/**
 * The database image a snapshot streams: the database file with the WAL's
 * newest pages laid over it, on files written by real SQLite.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { DatabaseFile } from '../../src/db/database-file.js';
import { openDatabaseImage } from '../../src/db/database-image.js';
import { identityAt } from '../../src/db/file-identity.js';
import { startAppInTempDir } from '../helpers/app.js';
import { dumpTables } from '../helpers/shadow.js';

async function imageBytes(source: Parameters<typeof openDatabaseImage>[0]): Promise<Buffer> {
  const image = await openDatabaseImage(source);
  const parts: Buffer[] = [];
  for await (const chunk of image.chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts);
}

function fileAt(dbPath: string): DatabaseFile {
  return { dbPath, identity: identityAt(dbPath)! };
}

describe('database image', () => {
  it('is the database as of the WAL position, and refuses a database file that ends before pages the WAL does not hold', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(300, { size: 500, perTx: 50 });
    await app.checkpoint('TRUNCATE');
    // New, updated and deleted rows in the WAL only: the file alone is the older database.
    await app.insert(40, { size: 500, perTx: 10 });
    await app.exec('UPDATE t SET body = randomblob(30) WHERE id % 7 = 0; DELETE FROM t WHERE id % 11 = 0;');
    const fileCopy = path.join(dir, 'file.db');
    const walCopy = path.join(dir, 'wal-copy');
    await fs.copyFile(dbPath, fileCopy);
    await fs.copyFile(`${dbPath}-wal`, walCopy);
    const pageSize = (await fs.readFile(walCopy)).readUInt32BE(8);
    const end = (await fs.stat(walCopy)).size;

    const out = path.join(dir, 'image.db');
    await fs.writeFile(out, await imageBytes({ file: fileAt(fileCopy), shadowPath: walCopy, end, pageSize }));
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));

    // A WAL of one small insert holds a few pages; a file cut to two pages lacks the rest.
    await app.checkpoint('TRUNCATE');
    await app.insert(1, { size: 10 });
    const smallWal = path.join(dir, 'small-wal');
    await fs.copyFile(`${dbPath}-wal`, smallWal);
    const short = path.join(dir, 'short.db');
    await fs.copyFile(dbPath, short);
    await fs.truncate(short, 2 * pageSize);
    const smallEnd = (await fs.stat(smallWal)).size;
    await assert.rejects(imageBytes({ file: fileAt(short), shadowPath: smallWal, end: smallEnd, pageSize }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'IO');
      assert.match(error.message, /short\.db: database file ends at page 2 and the WAL does not hold the pages after it$/);
      return true;
    });
  });
});
