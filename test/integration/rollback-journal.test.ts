/**
 * The rollback journal a follower writes before each apply is one SQLite
 * itself plays back: a follower killed after changing pages (and growing
 * the file) leaves a database that SQLite returns to its state before the
 * apply, and that a read-only reader refuses rather than reads half-changed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { writeRollbackJournal } from '../../src/restore/follow/journaled-apply.js';
import { tempDir } from '../helpers/tmp.js';

describe('rollback journal', () => {
  it('is played back by SQLite: pages and size return to before the interrupted apply; a read-only reader refuses until then', async (t) => {
    const dir = tempDir(t);
    const dbPath = path.join(dir, 'standby.db');
    const db = new Database(dbPath);
    db.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO t (body) SELECT randomblob(600) FROM n");
    db.close();
    const before = await fs.readFile(dbPath);
    const pageSize = before.readUInt16BE(16);
    const pageCount = before.length / pageSize;

    const handle = await fs.open(dbPath, 'r+');
    const changed = [1, 2, 5, pageCount];
    await writeRollbackJournal(`${dbPath}-journal`, handle, changed, pageSize);
    // The apply, cut short: some pages overwritten, the file grown by three pages.
    for (const pageNumber of changed.slice(0, 3)) await handle.write(Buffer.alloc(pageSize, 0xee), 0, pageSize, (pageNumber - 1) * pageSize);
    await handle.write(Buffer.alloc(3 * pageSize, 0xaa), 0, 3 * pageSize, pageCount * pageSize);
    await handle.close();

    const readOnly = execFileSync('python3', ['-c', `
import sqlite3
try:
    db = sqlite3.connect("file:${dbPath}?mode=ro", uri=True)
    print(db.execute("SELECT count(*) FROM t").fetchone()[0])
except sqlite3.Error as error:
    print("refused:", error)
`], { encoding: 'utf8' });
    assert.match(readOnly, /^refused: /, 'a read-only reader does not read the half-applied file');

    const reopened = new Database(dbPath);
    assert.equal((reopened.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 300);
    reopened.close();
    assert.ok((await fs.readFile(dbPath)).equals(before), 'SQLite rolled the file back byte for byte');
    await assert.rejects(fs.stat(`${dbPath}-journal`), 'and removed the journal');
  });
});
