/**
 * A database file replaced at its path while walsync backs it up: another
 * database renamed over it, deleted and made again at once, deleted and made
 * again ten seconds later. Under `walsync run` (a `path:` entry and a
 * watched `dir:` entry) the replica restores to the new file's rows within
 * moments, a new generation names the reason, and /healthz reports the
 * window the file was missing; between two `sync --once` runs, the shadow's
 * record of the file it followed gives the reason. The apps are separate
 * processes, each the only writer of its file.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import type { App } from '../helpers/app.js';
import { startApp } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import type { Daemon } from '../helpers/daemon.js';
import { freePort, signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import { dumpTables } from '../helpers/shadow.js';
import { syncOnceJson } from '../helpers/sync-once.js';
import { tempDir } from '../helpers/tmp.js';

const SYNC_INTERVAL_MS = 1000;
const REPLACED = /database file replaced at its path \(inode \d+ (-> \d+|made again, born \S+ -> \S+)\)/;

interface HealthBody {
  healthy: boolean;
  missing: string[];
  dbs: { db: string; missing?: { from: string; to?: string } }[];
}

async function healthz(port: number): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: (await response.json()) as HealthBody };
}

/** The database and the -wal and -shm that belong to it: a file replaced or deleted goes with them. */
async function removeDatabase(dbPath: string): Promise<void> {
  for (const suffix of ['', '-wal', '-shm']) await fs.rm(`${dbPath}${suffix}`, { force: true });
}

/** A new database at `dbPath`, made by an app of its own; `rows` rows in it. */
async function makeDatabase(dbPath: string, rows: number, size = 300): Promise<void> {
  const maker = await startApp({ dbPath });
  await maker.insert(rows, { size, perTx: 10 });
  // The last connection's close checkpoints and deletes its WAL: a complete file to move.
  await maker.close();
}

/** Whether the replica restores to exactly the rows of the database at `dbPath` now. */
async function restoresTo(dir: string, replica: string, dbPath: string): Promise<boolean> {
  const out = path.join(dir, `restored-${Date.now()}-${Math.random().toString(16).slice(2)}.db`);
  const restored = await runCli(['restore', '-o', out, replica]);
  if (restored.code !== 0) return false;
  const same = JSON.stringify(dumpTables(out)) === JSON.stringify(dumpTables(dbPath));
  await fs.rm(out, { force: true });
  return same;
}

/** The `new generation` lines for `dbPath` in a daemon's log, with their reasons. */
function newGenerationReasons(stderr: string, dbPath: string): string[] {
  return stderr
    .split('\n')
    .filter((line) => line.includes(' new generation ') && line.includes(`db=${dbPath} `))
    .map((line) => /reason="([^"]*)"/.exec(line)?.[1] ?? '');
}

type Way = 'rename over' | 'delete, then create' | 'delete, nothing for 10 s, then create';
const WAYS: readonly Way[] = ['rename over', 'delete, then create', 'delete, nothing for 10 s, then create'];

/**
 * Replaces the database at `dbPath` (its app stopped) in one of the ways,
 * then starts a new app on it that commits; returns that app and when it
 * first committed. `whileMissing` runs in the ten seconds without a file.
 */
async function replace(t: TestContext, way: Way, dir: string, dbPath: string, whileMissing: () => Promise<void>): Promise<{ app: App; firstCommitAt: number }> {
  if (way === 'rename over') {
    const other = path.join(dir, `other-${Date.now()}.db`);
    await makeDatabase(other, 30);
    await removeDatabase(dbPath);
    await fs.rename(other, dbPath);
  } else {
    await removeDatabase(dbPath);
    if (way === 'delete, nothing for 10 s, then create') {
      const until = Date.now() + 10_000;
      await whileMissing();
      await sleep(until - Date.now());
    }
  }
  const app = await startApp({ dbPath });
  t.after(() => app.close());
  await app.insert(40, { size: 200, perTx: 4 });
  const firstCommitAt = Date.now();
  await app.insert(20, { size: 200, perTx: 4 });
  return { app, firstCommitAt };
}

/** Each way in turn under one running walsync: the replica follows each new file, and says so. */
/** A `path:` entry alarms while its file is missing (and counts each replacement in `replacedCount`); a `dir:` tenant is let go of. */
interface Entry {
  readonly kind: 'path' | 'dir';
  readonly replacedCount?: number;
}

async function replaceEachWay(t: TestContext, run: Daemon, port: number, dir: string, dbPath: string, replica: string, entry: Entry): Promise<void> {
  let app = await startApp({ dbPath });
  await app.insert(2000, { size: 300, perTx: 100 });
  await waitFor('the first file in the replica', () => restoresTo(dir, replica, dbPath), 20_000);
  for (const [i, way] of WAYS.entries()) {
    await app.close();
    const replaced = await replace(t, way, dir, dbPath, async () => {
      if (entry.kind === 'path') {
        await waitFor(`${way}: /healthz to say the database is missing`, async () => (await healthz(port)).status === 503, 5000);
        assert.deepEqual((await healthz(port)).body.missing, [`${dbPath}: database missing`]);
      }
    });
    app = replaced.app;
    await waitFor(`${way}: the replica to restore to the new file's rows`, () => restoresTo(dir, replica, dbPath), 2 * SYNC_INTERVAL_MS + 3000);
    assert.ok(Date.now() - replaced.firstCommitAt < 2 * SYNC_INTERVAL_MS + 4000, `${way}: in the replica ${Date.now() - replaced.firstCommitAt} ms after the first commit`);
    const reasons = newGenerationReasons(run.stderr(), dbPath);
    assert.equal(reasons.length, 2 + i, `${way}: one new generation for the new file (${reasons.join('; ')})`);
    assert.match(reasons.at(-1)!, REPLACED, way);
    if (way === 'delete, nothing for 10 s, then create') {
      await waitFor(`${way}: /healthz healthy again`, async () => (await healthz(port)).status === 200, 5000);
      const { missing } = (await healthz(port)).body.dbs.find((db) => db.db === dbPath)!;
      assert.ok(missing?.from && missing.to, `${way}: the missing window is reported (${JSON.stringify(missing)})`);
      assert.ok(Date.parse(missing.to) - Date.parse(missing.from) >= 9000, `${way}: missing from ${missing.from} to ${missing.to}`);
    }
  }
  await app.close();
  if (entry.replacedCount !== undefined) {
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, new RegExp(`^walsync_database_replaced_total\\{db="${dbPath}"\\} ${entry.replacedCount}$`, 'm'));
  }
  const stopped = await signalAndWait(run.child, run.done);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.match(stopped.stderr, /WARN database replaced db=\S+ generation=[0-9a-f]{16} reason="database file replaced at its path/);
  assert.doesNotMatch(stopped.stderr, /job failed/);
  assert.ok(await restoresTo(dir, replica, dbPath), 'after the final sync');
}

function replicaConfig(replica: string): string[] {
  return ['    replicas:', '      - name: backup', `        path: ${replica}`, `        sync-interval: ${SYNC_INTERVAL_MS}ms`, '        snapshot-interval: 1h'];
}

/** `walsync run` over a watched `dir:` entry holding one tenant, `acme.db`, made with `rows` rows of `size` bytes. */
async function startTenantRun(t: TestContext, rows: number, size: number, head: string[] = []): Promise<{ dir: string; dbPath: string; replica: string; run: Daemon }> {
  const dir = tempDir(t);
  const tenants = path.join(dir, 'tenants');
  const replicas = path.join(dir, 'replicas');
  await fs.mkdir(tenants, { recursive: true });
  const dbPath = path.join(tenants, 'acme.db');
  await makeDatabase(dbPath, rows, size);
  const config = [...head, 'dbs:', `  - dir: ${tenants}`, '    pattern: "*.db"', '    watch: true', ...replicaConfig(replicas)].join('\n');
  const run = await startRun(dir, `${config}\n`);
  t.after(() => run.child.kill('SIGKILL'));
  return { dir, dbPath, replica: path.join(replicas, 'acme.db'), run };
}

describe('a database file replaced at its path', () => {
  it('under walsync run with a path: entry, each way: the replica follows the new file, a new generation says why, /healthz reports the missing window', async (t) => {
    const dir = tempDir(t);
    const dbPath = path.join(dir, 'app.db');
    const replica = path.join(dir, 'replica');
    await makeDatabase(dbPath, 1);
    const port = await freePort();
    const config = [`addr: 127.0.0.1:${port}`, 'dbs:', `  - path: ${dbPath}`, ...replicaConfig(replica)].join('\n');
    const run = await startRun(dir, `${config}\n`);
    t.after(() => run.child.kill('SIGKILL'));
    await replaceEachWay(t, run, port, dir, dbPath, replica, { kind: 'path', replacedCount: WAYS.length });
    // The file deleted and made again at once may or may not be seen missing in between.
    const missingLines = run.stderr().split('\n').filter((line) => / ERROR database missing /.test(line)).length;
    assert.ok(missingLines >= 1 && missingLines <= 2, `one ERROR line each time the file went missing (${missingLines})`);
  });

  it('under walsync run with a watched dir: entry, each way, the same', async (t) => {
    const port = await freePort();
    const { dir, dbPath, replica, run } = await startTenantRun(t, 1, 300, [`addr: 127.0.0.1:${port}`]);
    await replaceEachWay(t, run, port, dir, dbPath, replica, { kind: 'dir' });
  });

  it('between two sync --once runs: renamed over, or deleted and made again, the next run starts a new generation that says why', async (t) => {
    const dir = tempDir(t);
    const dbPath = path.join(dir, 'app.db');
    const replica = path.join(dir, 'replica');
    await makeDatabase(dbPath, 500);
    const first = await syncOnceJson(dbPath, { replicas: [replica] });
    assert.equal(first.summary.reason, 'first sync of this database');
    assert.equal((await syncOnceJson(dbPath, { replicas: [replica] })).summary.newGeneration, false, 'the same file: the generation goes on');

    const other = path.join(dir, 'other.db');
    await makeDatabase(other, 20);
    await removeDatabase(dbPath);
    await fs.rename(other, dbPath);
    const renamed = await syncOnceJson(dbPath, { replicas: [replica] });
    assert.equal(renamed.summary.newGeneration, true);
    assert.match(renamed.summary.reason!, REPLACED);
    assert.ok(await restoresTo(dir, replica, dbPath));

    // Deleted and made again: the inode number may well be given out again; the birth time differs.
    await removeDatabase(dbPath);
    await makeDatabase(dbPath, 7);
    const remade = await syncOnceJson(dbPath, { replicas: [replica] });
    assert.equal(remade.summary.newGeneration, true);
    assert.match(remade.summary.reason!, REPLACED);
    assert.ok(await restoresTo(dir, replica, dbPath));
  });

  it("a tenant deleted and made again, smaller: its first snapshot is the new file's bytes, not a page of the old one", async (t) => {
    const { dir, dbPath, replica, run } = await startTenantRun(t, 3000, 500);
    await waitFor('the first file in the replica', () => restoresTo(dir, replica, dbPath), 20_000);

    await removeDatabase(dbPath);
    const app = await startApp({ dbPath });
    t.after(() => app.close());
    await app.insert(50, { size: 100, perTx: 10 });
    await waitFor('the new file in the replica', () => restoresTo(dir, replica, dbPath), 2 * SYNC_INTERVAL_MS + 3000);
    const stopped = await signalAndWait(run.child, run.done);
    assert.equal(stopped.code, 0, stopped.stderr);

    // The new file as SQLite has it, every page in the file: the app's own full checkpoint, then its close.
    await app.checkpoint('TRUNCATE');
    await app.close();
    const restored = path.join(dir, 'restored.db');
    const result = await runCli(['restore', '-o', restored, replica]);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(Buffer.from(await fs.readFile(restored)).equals(await fs.readFile(dbPath)), 'the restored file is the new database, byte for byte');
  });
});
