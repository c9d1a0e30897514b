/**
 * `walsync run` over a directory entry (`dir:`, Litestream 0.5's keys): a
 * few hundred databases under nested directories, written by a separate
 * process, each backed up to its own replica location; what cannot be
 * backed up is skipped with one line while the rest replicate.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openReplica } from '../../src/replica/url.js';
import { restore } from '../../src/restore/restore.js';
import { runCli } from '../helpers/cli.js';
import { signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import { dumpTables } from '../helpers/shadow.js';
import { makeDatabases, makeTenants, tenantPath } from '../helpers/tenants.js';
import { tempDir } from '../helpers/tmp.js';

const DATABASE_COUNT = 240;
const WRITTEN_COUNT = 60;

/** python3's sqlite3, an SQLite of its own, writes to the databases. */
function python(script: string, ...args: string[]): void {
  execFileSync('python3', ['-c', script, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

const WRITE = `
import random, sqlite3, sys
paths = sys.argv[1:]
conns = [sqlite3.connect(p) for p in paths]
for c in conns:
    c.execute('pragma journal_mode=wal')
for round in range(20):
    for c in random.sample(conns, len(conns) // 2):
        c.execute('insert into t (v) values (?)', (f'round {round} ' + 'x' * random.randint(1, 3000),))
        c.commit()
for c in conns:
    c.execute('insert into t (v) values (?)', ('last',))
    c.commit()
# The connections stay open until the process ends: SQLite would checkpoint and delete the WAL on the last close.
`;

describe('walsync run with a directory entry', () => {
  it(`backs up each of ${DATABASE_COUNT} databases to its own replica location, and skips what cannot be backed up with one line each`, async (t) => {
    const dir = tempDir(t);
    const tenants = path.join(dir, 'tenants');
    const replicas = path.join(dir, 'replicas');
    const all = makeTenants(tenants, DATABASE_COUNT, 24);
    await fs.writeFile(path.join(tenants, 'notes.db'), 'not a database, though its name says so');
    python("import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('create table t (v)'); c.execute(\"insert into t values ('x')\"); c.commit()", path.join(tenants, 'frozen.db'));
    await fs.chmod(path.join(tenants, 'frozen.db'), 0o444);
    await fs.mkdir(path.join(tenants, 'locked'));
    makeDatabases([path.join(tenants, 'locked', 'inside.db')]);
    await fs.chmod(path.join(tenants, 'locked'), 0o000);
    await fs.writeFile(path.join(tenants, 'readme.txt'), 'not matched by the pattern: not even looked at');

    const config = ['dbs:', `  - dir: ${tenants}`, '    pattern: "*.db"', '    recursive: true', '    replicas:', '      - name: backup', `        path: ${replicas}`, '        sync-interval: 1s'].join('\n');
    const run = await startRun(dir, `${config}\n`, { obeyPermissions: true });
    t.after(() => run.child.kill('SIGKILL'));
    const snapshotted = () => run.stderr().match(/INFO job done .*job=snapshot /g)?.length ?? 0;
    await waitFor(`every database's first snapshot`, () => snapshotted() === DATABASE_COUNT, 120_000);

    const written = [...all].sort(() => Math.random() - 0.5).slice(0, WRITTEN_COUNT);
    python(WRITE, ...written);
    const result = await signalAndWait(run.child, run.done);
    await fs.chmod(path.join(tenants, 'locked'), 0o755);
    assert.equal(result.code, 0, result.stderr);

    const skipped = result.stderr.split('\n').filter((line) => / database skipped /.test(line));
    assert.equal(skipped.length, 3, skipped.join('\n'));
    assert.match(result.stderr, new RegExp(`WARN database skipped db=${path.join(tenants, 'notes.db')} entry=dbs\\[0\\] reason="not a SQLite database \\(no SQLite header\\)"`));
    assert.match(result.stderr, new RegExp(`WARN database skipped db=${path.join(tenants, 'frozen.db')} reason="[^"]*(readonly|read-only|permission)`, 'i'));
    assert.match(result.stderr, new RegExp(`WARN database skipped db=${path.join(tenants, 'locked')} entry=dbs\\[0\\] reason="cannot read the directory \\(EACCES\\)"`));
    assert.doesNotMatch(result.stderr, /readme\.txt|ERROR/);
    assert.match(result.stderr, /(INFO|WARN) open-file limit[^\n]* limit=\d+ open=\d+ perDatabase=[\d.]+ databasesAllowed=\d+/);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');

    for (const dbPath of all) {
      const replica = path.join(replicas, path.relative(tenants, dbPath));
      const out = path.join(dir, 'restored', path.relative(tenants, dbPath));
      await fs.mkdir(path.dirname(out), { recursive: true });
      await restore({ client: openReplica(replica), outputPath: out });
      assert.deepEqual(dumpTables(out), dumpTables(dbPath), `${dbPath} restores from ${replica}`);
    }
    assert.equal((await fs.readdir(path.join(replicas))).includes('notes.db'), false);

    // Past a screenful, status summarises; --db lists the databases whose path holds the text.
    const configFile = path.join(dir, 'walsync.yml');
    const summary = await runCli(['status', '--config', configFile]);
    assert.equal(summary.code, 0, summary.stderr);
    // Run as root, status reads what walsync run could not: the read-only and the locked databases.
    assert.match(summary.stdout, /^(\d+) databases: \1 healthy, 0 lagging \(over max-lag 60s\), 0 failing/);
    assert.ok(Number(/^(\d+) databases/.exec(summary.stdout)?.[1]) >= DATABASE_COUNT);
    assert.doesNotMatch(summary.stdout, /generation=/);
    const one = await runCli(['status', '--config', configFile, '--db', path.relative(tenants, all[3]!)]);
    assert.equal(one.code, 0, one.stderr);
    assert.match(one.stdout, new RegExp(`^${all[3]}: not running generation=[0-9a-f]{16} `, 'm'));
    assert.equal(one.stdout.split('\n').filter((line) => / generation=/.test(line)).length, 1);
  });

  it('with watch: true, starts a database created during the run and lets go of one deleted, whose replica stays', async (t) => {
    const dir = tempDir(t);
    const tenants = path.join(dir, 'tenants');
    const replicas = path.join(dir, 'replicas');
    makeTenants(tenants, 30, 24);
    const config = ['dbs:', `  - dir: ${tenants}`, '    pattern: "*.db"', '    recursive: true', '    watch: true', '    replicas:', '      - name: backup', `        path: ${replicas}`, '        sync-interval: 1s'].join('\n');
    const run = await startRun(dir, `${config}\n`);
    t.after(() => run.child.kill('SIGKILL'));
    const snapshotted = () => run.stderr().match(/INFO job done .*job=snapshot /g)?.length ?? 0;
    await waitFor('every database\'s first snapshot', () => snapshotted() === 30, 60_000);

    // A new tenant, in a new directory, made by another process while walsync runs.
    const created = path.join(tenants, 'neworg', 'fresh.db');
    makeDatabases([created]);
    python(WRITE, created);
    await waitFor('the new database to start', () => run.stderr().includes(`INFO runner started db=${created} `), 20_000);
    await waitFor('its first snapshot', () => snapshotted() === 31, 20_000);

    const deleted = tenantPath(tenants, 3, 24);
    const deletedReplica = path.join(replicas, path.relative(tenants, deleted));
    const before = dumpTables(deleted);
    const replicaBefore = await listTree(deletedReplica);
    for (const suffix of ['', '-wal', '-shm']) await fs.rm(`${deleted}${suffix}`, { force: true });
    await waitFor('the deleted database to be let go of', () => run.stderr().includes(`INFO database let go; its replicas stay as they are db=${deleted} reason="deleted or renamed away"`), 20_000);

    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /ERROR|database skipped/);
    assert.deepEqual(await listTree(deletedReplica), replicaBefore, 'the let-go database\'s replica is as it was');

    const restoredFresh = path.join(dir, 'fresh.db');
    await restore({ client: openReplica(path.join(replicas, 'neworg', 'fresh.db')), outputPath: restoredFresh });
    assert.deepEqual(dumpTables(restoredFresh), dumpTables(created));
    const restoredDeleted = path.join(dir, 'deleted.db');
    await restore({ client: openReplica(deletedReplica), outputPath: restoredDeleted });
    assert.deepEqual(dumpTables(restoredDeleted), before);
  });
});

async function listTree(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath ?? entry.path, entry.name)).sort();
}

