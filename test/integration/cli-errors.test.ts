/**
 * Bad input gets one line naming the file or flag, the right exit code, and
 * nothing created or half-written.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { startApp, startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { metaDirOf } from '../helpers/shadow.js';
import { tempDir } from '../helpers/tmp.js';

async function listing(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true })).map(String).sort();
}

async function expectRefusal(dir: string, args: string[], exitCode: number, line: RegExp): Promise<void> {
  const before = await listing(dir);
  const result = await runCli(args, { cwd: dir });
  assert.equal(result.code, exitCode, result.stderr);
  const lines = errorLines(result.stderr);
  assert.equal(lines.length, 1, result.stderr);
  assert.match(lines[0]!, line);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  assert.equal(result.stdout, '');
  assert.deepEqual(await listing(dir), before, 'nothing created');
}

describe('bad input', () => {
  it('a missing database: exit 2, one line naming the path', async (t) => {
    const dir = tempDir(t);
    await expectRefusal(dir, ['sync', '--once', 'missing.db'], 2, /^walsync: DB_NOT_FOUND: .*missing\.db: no such database file$/);
    await expectRefusal(dir, ['verify', 'missing.db'], 2, /^walsync: DB_NOT_FOUND: .*missing\.db/);
  });

  it('a replica that starts like a URL and is not one (s3:/bucket, s3//bucket): exit 2, one line, nothing backed up locally', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t);
    await app.insert(5);
    await app.close();
    for (const typo of ['s3:/bucket/app', 's3//bucket/app', 'sftp:/host/backups', 'gs://bucket/app']) {
      await expectRefusal(dir, ['sync', '--once', dbPath, typo], 2, new RegExp(`^walsync: USAGE: ${typo.replaceAll('.', '\\.')}: (not a well-formed replica URL|unsupported replica URL scheme)`));
    }
    await expectRefusal(dir, ['restore', '-o', path.join(dir, 'out.db'), 's3:/bucket/app'], 2, /^walsync: USAGE: s3:\/bucket\/app: not a well-formed replica URL/);
  });

  it('a listing of a replica directory that does not exist: exit 2, one line, not an empty table', async (t) => {
    const dir = tempDir(t);
    for (const what of ['generations', 'snapshots', 'wal']) {
      await expectRefusal(dir, [what, path.join(dir, 'no-such-replica')], 2, /^walsync: USAGE: .*no-such-replica: no such replica directory$/);
    }
  });

  it('a directory: exit 2, one line naming the path', async (t) => {
    const dir = tempDir(t);
    await fs.mkdir(path.join(dir, 'data.db'));
    await expectRefusal(dir, ['sync', '--once', 'data.db'], 2, /^walsync: DB_INVALID: .*data\.db: is a directory/);
  });

  it('a file that is not SQLite: exit 2, one line naming the path', async (t) => {
    const dir = tempDir(t);
    await fs.writeFile(path.join(dir, 'notes.txt'), 'just some text that is long enough to fill a SQLite header of one hundred bytes, or nearly so..');
    await fs.writeFile(path.join(dir, 'short.db'), 'SQLite');
    await expectRefusal(dir, ['sync', '--once', 'notes.txt'], 2, /^walsync: DB_INVALID: .*notes\.txt: not a SQLite database/);
    await expectRefusal(dir, ['sync', '--once', 'short.db'], 2, /^walsync: DB_INVALID: .*short\.db: not a SQLite database/);
  });

  it('unknown flags, a missing database argument and bad durations: exit 2', async (t) => {
    const dir = tempDir(t);
    await expectRefusal(dir, ['sync', '--once', '--frobnicate', 'x.db'], 2, /^walsync: USAGE: Unknown argument: frobnicate$/);
    await expectRefusal(dir, ['sync', '--once'], 2, /^walsync: USAGE: DB: missing the database path$/);
    await expectRefusal(dir, ['replicate'], 2, /^walsync: USAGE: Unknown argument: replicate$/);
    await expectRefusal(dir, ['sync', '--interval', '2x', 'x.db'], 2, /^walsync: USAGE: --interval: "2x" is not a duration/);
    await expectRefusal(dir, ['sync', '--once', '--checkpoint-min-pages', '0', 'x.db'], 2, /^walsync: USAGE: --checkpoint-min-pages: 0 is not a positive/);
    await expectRefusal(dir, ['restore', '--integrity-check', 'fast', '-o', 'out.db', 'replica'], 2, /^walsync: USAGE: --integrity-check: "fast" is not one of none, quick, full$/);
    await expectRefusal(dir, ['restore', '--parallelism', '0', '-o', 'out.db', 'replica'], 2, /^walsync: USAGE: --parallelism: 0 is not a number of downloads from 1 to 64$/);
    await expectRefusal(dir, ['restore', '--follow', '--follow-interval', '2x', '-o', 'out.db', 'replica'], 2, /^walsync: USAGE: --follow-interval: "2x" is not a duration/);
  });

  it('an unwritable shadow directory: exit 2, one line naming it, nothing written in it', async (t) => {
    const dir = tempDir(t);
    const dbPath = path.join(dir, 'app.db');
    const app = await startApp({ dbPath, autocheckpoint: 0 });
    await app.insert(3);
    await app.close();
    const metaDir = metaDirOf(dbPath);
    await fs.mkdir(metaDir, { mode: 0o755 });
    await fs.chmod(metaDir, 0o555);
    // root ignores permission bits: the run keeps root's uid (it can still read the checkout,
    // wherever it lives) without the capabilities that let it past them.
    const result = await runCli(['sync', '--once', dbPath], { obeyPermissions: true });
    assert.equal(result.code, 2, result.stderr);
    const lines = errorLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^walsync: META_UNWRITABLE: .*\.app\.db-walsync: cannot write the shadow directory: EACCES$/);
    assert.deepEqual(await fs.readdir(metaDir), []);
  });

  it('a shadow path taken by a file: exit 2, one line naming it', async (t) => {
    const { dbPath } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await fs.writeFile(metaDirOf(dbPath), '');
    const result = await runCli(['sync', '--once', dbPath]);
    assert.equal(result.code, 2);
    assert.match(errorLines(result.stderr)[0]!, /META_UNWRITABLE: .*\.app\.db-walsync: cannot write the shadow directory: it is not a directory/);
  });

  it('a database in rollback-journal mode is switched to WAL by sync, logged once, and refused by verify', async (t) => {
    const dir = tempDir(t);
    const dbPath = path.join(dir, 'legacy.db');
    const db = new Database(dbPath);
    db.exec('CREATE TABLE a (x); INSERT INTO a VALUES (1);');
    db.close();
    const refused = await runCli(['verify', dbPath]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /DB_INVALID: .*legacy\.db: not in WAL mode \(journal_mode=delete\)/);
    const synced = await runCli(['sync', '--once', dbPath]);
    assert.equal(synced.code, 0, synced.stderr);
    assert.equal(synced.stderr.match(/switched database to WAL mode/g)?.length, 1);
    const again = await runCli(['sync', '--once', dbPath]);
    assert.doesNotMatch(again.stderr, /switched database to WAL mode/);
    const check = new Database(dbPath, { readonly: true });
    assert.equal(check.pragma('journal_mode', { simple: true }), 'wal');
    check.close();
  });
});
