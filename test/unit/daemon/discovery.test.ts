/** What a directory entry finds (src/daemon/discovery.ts), on a temp tree of real files, where each found database's replica goes, and that a rescan leaves running databases locked. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { DirConfig, ReplicaConfig } from '../../../src/config/config.js';
import { DEFAULT_CHECKPOINT_POLICY } from '../../../src/config/defaults.js';
import { dbConfigFor, scanDirEntry } from '../../../src/daemon/discovery.js';
import { existsSync } from 'node:fs';
import { openJobContext } from '../../../src/job/context.js';
import { silentLogger } from '../../../src/log.js';
import { run as runSync } from '../../../jobs/sync.js';
import { startAppInTempDir } from '../../helpers/app.js';
import { tempDir } from '../../helpers/tmp.js';

function makeDb(file: string): void {
  const db = new Database(file);
  db.exec('CREATE TABLE t (x)');
  db.close();
}

function entryFor(dir: string, options: Partial<DirConfig> = {}, replicas: ReplicaConfig[] = []): DirConfig {
  return { key: 'dbs[0]', dir, pattern: '*.db', recursive: false, watch: false, template: { busyTimeoutMs: 5000, checkpoint: DEFAULT_CHECKPOINT_POLICY, replicas }, ...options };
}

const interval = { kind: 'interval', ms: 1000, text: '1s' } as const;
const replicaBase = { name: 'backup', syncInterval: interval, snapshotInterval: interval, retentionMs: 1000, retentionCheckInterval: interval };

describe('directory discovery', () => {
  it('finds databases matching the pattern, in subdirectories only when recursive, never in a shadow directory', async (t) => {
    const dir = tempDir(t);
    await fs.mkdir(path.join(dir, 'acme', 'deep'), { recursive: true });
    await fs.mkdir(path.join(dir, '.top.db-walsync'));
    makeDb(path.join(dir, 'top.db'));
    makeDb(path.join(dir, 'acme', 'app.db'));
    makeDb(path.join(dir, 'acme', 'deep', 'x.db'));
    makeDb(path.join(dir, '.top.db-walsync', 'lock.db'));
    makeDb(path.join(dir, 'acme', 'other.sqlite'));
    await fs.writeFile(path.join(dir, 'acme', 'fake.db'), 'no header here');
    await fs.writeFile(path.join(dir, 'empty.db'), '');

    const flat = await scanDirEntry(entryFor(dir));
    assert.deepEqual(flat.found, [path.join(dir, 'top.db')]);
    assert.deepEqual(flat.skipped, [{ path: path.join(dir, 'empty.db'), reason: 'empty: not a SQLite database (yet)' }]);

    const deep = await scanDirEntry(entryFor(dir, { recursive: true }));
    assert.deepEqual(deep.found, [path.join(dir, 'top.db'), path.join(dir, 'acme', 'app.db'), path.join(dir, 'acme', 'deep', 'x.db')]);
    assert.deepEqual(
      deep.skipped.map((skip) => [path.relative(dir, skip.path), skip.reason]),
      [
        ['empty.db', 'empty: not a SQLite database (yet)'],
        ['acme/fake.db', 'not a SQLite database (no SQLite header)'],
      ],
    );
  });

  it('reports a directory that does not exist as skipped, not as an error', async (t) => {
    const dir = path.join(tempDir(t), 'absent');
    assert.deepEqual(await scanDirEntry(entryFor(dir)), { found: [], skipped: [{ path: dir, reason: 'cannot read the directory (ENOENT)' }], dirs: [] });
  });

  it("gives each database its own replica location: the entry's, extended by the database's path relative to dir", () => {
    const entry = entryFor('/data/tenants', { recursive: true }, [
      { ...replicaBase, type: 'file', url: '/backup/tenants', location: '/backup/tenants' },
      { ...replicaBase, name: 'url', type: 'file', url: 'file:///backup/by-url', location: 'file:///backup/by-url' },
      { ...replicaBase, name: 's3', type: 's3', url: 's3://bkt/tenants', location: { bucket: 'bkt', path: 'tenants', region: 'auto' } },
      { ...replicaBase, name: 'root', type: 's3', url: 's3://bkt', location: { bucket: 'bkt', path: '' } },
    ]);
    const db = dbConfigFor(entry, '/data/tenants/acme/app.db');
    assert.equal(db.path, '/data/tenants/acme/app.db');
    assert.deepEqual(
      db.replicas.map((replica) => [replica.name, replica.url]),
      [
        ['backup', '/backup/tenants/acme/app.db'],
        ['url', '/backup/by-url/acme/app.db'],
        ['s3', 's3://bkt/tenants/acme/app.db'],
        ['root', 's3://bkt/acme/app.db'],
      ],
    );
    assert.deepEqual(db.replicas[2]!.location, { bucket: 'bkt', path: 'tenants/acme/app.db', region: 'auto' });
  });

  it("rescans a directory without dropping the locks of the databases it runs: the app's last close leaves the WAL", async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { kind: 'python' });
    await app.insert(5);
    const ctx = await openJobContext(dbPath, { policy: DEFAULT_CHECKPOINT_POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: true, lock: { role: 'one-shot', what: 'test' } });
    t.after(() => ctx.close());
    await runSync(ctx);
    const rescan = await scanDirEntry(entryFor(path.dirname(dbPath)), path.dirname(dbPath), (file) => file === dbPath);
    assert.deepEqual(rescan.found, [dbPath]);
    // The app's connection is the last of any other process: had the rescan opened and closed the
    // database file, this process's SHARED lock would be gone, and SQLite would checkpoint and delete the WAL.
    await app.insert(1);
    await app.close();
    assert.ok(existsSync(`${dbPath}-wal`), 'the WAL is still there');
  });
});
