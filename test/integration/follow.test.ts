/**
 * `walsync restore --follow`: a standby kept current from a file replica
 * while the app writes, read all along by an independent SQLite (python3)
 * that must only ever see whole commits, and killed with SIGKILL over and
 * over; a new generation on the primary; promotion to a primary of its own.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, errorLines, runCli, spawnCli } from '../helpers/cli.js';
import { restoreEquals, signalAndWait, waitFor } from '../helpers/daemon.js';
import { dumpTables, integrityCheck, metaDirOf } from '../helpers/shadow.js';
import { startS3Server } from '../helpers/s3-server.js';

/** Holds a read transaction on the standby for the given seconds, and says when it has it and when it let go. */
const LONG_READER = String.raw`
import sqlite3, sys, time
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True, isolation_level=None)
db.execute("BEGIN")
db.execute("SELECT count(*) FROM sqlite_master").fetchone()
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
print("released", flush=True)
`;

/** Opens the standby read-only in a loop, each read one transaction: its counter, its log's size and top, and integrity_check. */
const READER = String.raw`
import json, sqlite3, sys, time
path, stop_file = sys.argv[1], sys.argv[2]
import os
while not os.path.exists(stop_file):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5, isolation_level=None)
        try:
            db.execute("BEGIN")
            n = db.execute("SELECT n FROM counter").fetchone()[0]
            count, top = db.execute("SELECT count(*), coalesce(max(seq), 0) FROM log").fetchone()
            check = db.execute("PRAGMA integrity_check").fetchone()[0]
            db.execute("COMMIT")
            print(json.dumps({"n": n, "count": count, "top": top, "check": check}), flush=True)
        finally:
            db.close()
    except sqlite3.Error as error:
        print(json.dumps({"unavailable": str(error)}), flush=True)
    time.sleep(0.02)
`;

const SYNC_FLAGS = ['--interval', '1s', '--checkpoint-min-pages', '50'];

function followArgs(replica: string, out: string): string[] {
  return ['restore', '--follow', '--json', '--follow-interval', '200ms', '-o', out, replica];
}

async function startFollower(replica: string, out: string): Promise<{ child: ChildProcess; done: ReturnType<typeof collect> }> {
  const child = spawnCli(followArgs(replica, out));
  return { child, done: collect(child, 600_000) };
}

/** A primary with `rows` rows (ten to a commit), synced once to a file replica, and where its standby goes. */
async function syncedPrimary(t: TestContext, rows: number) {
  const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
  const replica = path.join(dir, 'replica');
  await app.insert(rows, { size: 300, perTx: 10 });
  assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
  return { dir, dbPath, app, replica, out: path.join(dir, 'standby.db') };
}

function rowsOf(dbPath: string) {
  return dumpTables(dbPath, { exclude: ['_walsync_seq'] });
}

/** Whether the standby holds the primary's rows (not yet, while it is still missing or being swapped in). */
function standbyEquals(out: string, primary: string | Record<string, unknown[]>): boolean {
  try {
    return JSON.stringify(rowsOf(out)) === JSON.stringify(typeof primary === 'string' ? rowsOf(primary) : primary);
  } catch {
    return false;
  }
}

describe('restore --follow', () => {
  it('keeps a standby that readers only ever see at whole commits, through 20+ SIGKILLs, and that ends equal to the primary', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 200 });
    await app.exec('CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0); CREATE TABLE log (seq INTEGER PRIMARY KEY, body BLOB); CREATE TABLE churn (id INTEGER PRIMARY KEY, v)');
    const replica = path.join(dir, 'replica');
    const out = path.join(dir, 'standby.db');
    const sync = spawnCli(['sync', ...SYNC_FLAGS, dbPath, replica]);
    const syncDone = collect(sync, 600_000);
    t.after(() => sync.kill('SIGKILL'));
    await app.exec("INSERT INTO log (seq, body) VALUES (1, randomblob(300)); UPDATE counter SET n = 1");
    await waitFor('a first sync', async () => (await fs.readdir(replica).catch(() => [])).length > 0);
    let follower = await startFollower(replica, out);
    t.after(() => follower.child.kill('SIGKILL'));
    const stopFile = path.join(dir, 'stop-reading');
    const readerScript = path.join(dir, 'reader.py');
    await fs.writeFile(readerScript, READER);
    const reader = spawn('python3', [readerScript, out, stopFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    let readerOut = '';
    reader.stdout!.on('data', (chunk) => (readerOut += chunk));
    t.after(() => reader.kill('SIGKILL'));

    let n = 1;
    let kills = 0;
    const end = Date.now() + 62_000;
    let nextKill = Date.now() + 1500;
    while (Date.now() < end) {
      n++;
      // Each transaction moves the counter with its log row: a reader must see them together.
      const extra = n % 7 === 0 ? `DELETE FROM churn WHERE id % 3 = ${n % 3}; ` : n % 5 === 0 ? 'UPDATE churn SET v = randomblob(200) WHERE id % 4 = 1; ' : '';
      await app.exec(`BEGIN; INSERT INTO log (seq, body) VALUES (${n}, randomblob(${200 + (n % 9) * 300})); INSERT INTO churn (v) VALUES (randomblob(500)); ${extra}UPDATE counter SET n = ${n}; COMMIT`);
      if (n === 400) await app.exec('ALTER TABLE churn ADD COLUMN note TEXT; CREATE INDEX churn_v ON churn (v)');
      if (Date.now() >= nextKill) {
        follower.child.kill('SIGKILL');
        await follower.done;
        kills++;
        follower = await startFollower(replica, out);
        nextKill = Date.now() + 800 + Math.random() * 1600;
      }
      await sleep(5);
    }
    assert.ok(kills >= 20, `killed ${kills} times`);
    // The last commits reach the replica, then the standby.
    const final = rowsOf(dbPath);
    await waitFor('the standby to catch up with the primary', () => standbyEquals(out, final), 30_000);
    await fs.writeFile(stopFile, '');
    await new Promise((resolve) => reader.once('exit', resolve));
    const stopped = await signalAndWait(follower.child, follower.done);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(integrityCheck(out), 'ok');

    const reads = readerOut.trim().split('\n').map((line) => JSON.parse(line) as { n?: number; count?: number; top?: number; check?: string; unavailable?: string });
    const seen = reads.filter((read) => read.n !== undefined);
    assert.ok(seen.length > 200, `the reader read the standby ${seen.length} times`);
    let last = 0;
    for (const read of seen) {
      assert.equal(read.check, 'ok', JSON.stringify(read));
      assert.equal(read.top, read.n, `a whole commit: ${JSON.stringify(read)}`);
      assert.equal(read.count, read.n, `a whole commit: ${JSON.stringify(read)}`);
      assert.ok(read.n! >= last, `never older than a read before: ${read.n} after ${last}`);
      last = read.n!;
    }
    // Unavailable only while missing before the first restore, locked for an apply, or rolling back after a kill.
    for (const read of reads.filter((r) => r.unavailable)) assert.match(read.unavailable!, /locked|unable to open|no such table|readonly|busy/i, read.unavailable);
    sync.kill('SIGTERM');
    await syncDone;
  });

  it('follows a new generation: the standby is restored afresh from it and says so', async (t) => {
    const { dbPath, app, replica, out } = await syncedPrimary(t, 50);
    const follower = await startFollower(replica, out);
    t.after(() => follower.child.kill('SIGKILL'));
    let stdout = '';
    follower.child.stdout!.on('data', (chunk) => (stdout += chunk));
    await waitFor('the first restore', () => /"restored":"first restore"/.test(stdout));
    // The primary's shadow is lost: its next sync starts a new generation.
    await fs.rm(metaDirOf(dbPath), { recursive: true });
    await app.insert(30, { size: 300, perTx: 10 });
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    await waitFor('the new generation to be followed', () => /"restored":"the replica has a new generation/.test(stdout));
    await app.insert(20, { size: 300, perTx: 5 });
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    await waitFor('the standby to equal the primary', () => standbyEquals(out, dbPath), 20_000);
    const stopped = await signalAndWait(follower.child, follower.done, 'SIGINT');
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stderr, /"msg":"follow restoring afresh".*"reason":"the replica has a new generation/);
  });

  it('a standby that fell behind a retention pass is restored afresh from the newest snapshot, never skipping what it lacks', async (t) => {
    const { dbPath, app, replica, out } = await syncedPrimary(t, 30);
    const first = await startFollower(replica, out);
    await waitFor('the first restore', () => standbyEquals(out, dbPath), 20_000);
    assert.equal((await signalAndWait(first.child, first.done)).code, 0);
    // While it is stopped: more WAL indexes (walsync restarts the WAL), a snapshot, and a retention pass that keeps only that.
    for (let round = 0; round < 3; round++) {
      await app.insert(100, { size: 1000, perTx: 20 });
      assert.equal((await runCli(['sync', '--once', '--checkpoint-min-pages', '5', '--checkpoint-truncate-pages', '10', dbPath, replica])).code, 0);
    }
    assert.equal((await runCli(['snapshot', dbPath, replica])).code, 0);
    await sleep(50);
    assert.equal((await runCli(['retention', '--retention', '10ms', replica])).code, 0);
    const [generation] = await fs.readdir(path.join(replica, 'generations'));
    assert.ok(!(await fs.readdir(path.join(replica, 'generations', generation!, 'wal'))).some((name) => name.startsWith('00000000_')), 'index 0 is gone from the replica');
    const again = await startFollower(replica, out);
    t.after(() => again.child.kill('SIGKILL'));
    await waitFor('the standby to equal the primary', () => standbyEquals(out, dbPath), 20_000);
    const stopped = await signalAndWait(again.child, again.done);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stopped.stdout, /"restored":"[^"]*are gone from the replica \(retention removed them/);
  });

  it('follows an S3 replica by polling, listing past the position it holds, and rides out the store going away', async (t) => {
    const cleanups: (() => Promise<void>)[] = [];
    t.after(async () => {
      for (const cleanup of cleanups) await cleanup();
    });
    const server = await startS3Server((stop) => cleanups.push(stop));
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = server.url('follow');
    const out = path.join(dir, 'standby.db');
    await app.insert(40, { size: 300, perTx: 10 });
    assert.equal((await runCli(['sync', '--once', dbPath, replica], { env: server.env() })).code, 0);
    const child = spawnCli(['restore', '--follow', '--json', '--follow-interval', '300ms', '-o', out, replica], { env: server.env() });
    const done = collect(child);
    t.after(() => child.kill('SIGKILL'));
    for (let round = 0; round < 4; round++) {
      await app.insert(20, { size: 300, perTx: 5 });
      assert.equal((await runCli(['sync', '--once', dbPath, replica], { env: server.env() })).code, 0);
      await waitFor(`round ${round} in the standby`, () => standbyEquals(out, dbPath), 20_000);
    }
    // The store goes away: each look fails with one line, and the follower keeps trying until it is back.
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await server.stop();
    await waitFor('a follow failed line', () => /follow failed/.test(stderr) && /REPLICA_IO/.test(stderr), 30_000);
    assert.equal(child.exitCode, null, 'the follower keeps running while the store is down');
    await server.start();
    await app.insert(20, { size: 300, perTx: 5 });
    assert.equal((await runCli(['sync', '--once', dbPath, replica], { env: server.env() })).code, 0);
    await waitFor('the standby catching up once the store is back', () => standbyEquals(out, dbPath), 30_000);
    const stopped = await signalAndWait(child, done);
    assert.equal(stopped.code, 0, stopped.stderr);
    const applied = stopped.stdout.trim().split('\n').map((line) => JSON.parse(line) as { segments: number });
    // The first round may land before the first restore lists the replica.
    assert.ok(applied.filter((line) => line.segments > 0).length >= 3, stopped.stdout);
    // Polling lists from the position: no listing of the whole generation after the first restore.
    const walListings = server.requests.filter((r) => r.method === 'GET' && /list-type=2/.test(r.url) && /%2Fwal%2F(&|$)/.test(r.url));
    assert.ok(walListings.filter((r) => /start-after=/.test(r.url)).length >= 4, 'the looks list past the position');
    assert.ok(walListings.filter((r) => !/start-after=/.test(r.url)).length <= 2, 'only the first restore lists every segment');
  });

  it('a reader that holds the standby past the wait: one follow failed line (DB_BUSY), and the apply goes through once it lets go', async (t) => {
    const { dbPath, app, replica, out } = await syncedPrimary(t, 30);
    const follower = await startFollower(replica, out);
    t.after(() => follower.child.kill('SIGKILL'));
    let stderr = '';
    follower.child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await waitFor('the first restore', () => standbyEquals(out, dbPath), 20_000);
    // Longer than the 10 s an apply waits for readers.
    const reader = spawn('python3', ['-c', LONG_READER, out, '14'], { stdio: ['ignore', 'pipe', 'inherit'] });
    t.after(() => reader.kill('SIGKILL'));
    let readerOut = '';
    reader.stdout.on('data', (chunk: Buffer) => (readerOut += chunk.toString()));
    const readerDone = new Promise((resolve) => reader.once('exit', resolve));
    await waitFor('the reader to hold the standby', () => readerOut.includes('holding'));
    await app.insert(20, { size: 300, perTx: 5 });
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    await waitFor('a follow failed line', () => /"msg":"follow failed".*"code":"DB_BUSY"/.test(stderr), 20_000);
    assert.ok(!readerOut.includes('released'), 'the apply gave up while the reader still held the standby');
    assert.equal(follower.child.exitCode, null, 'the follower keeps running');
    await readerDone;
    await waitFor('the apply once the reader let go', () => standbyEquals(out, dbPath), 20_000);
    const stopped = await signalAndWait(follower.child, follower.done);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.match(stderr, /"msg":"follow failed".*readers held it for 10 s/);
  });

  it('promotion: stop the follower, open the standby read-write, replicate it to a new location; that restores equal to it', async (t) => {
    const { dir, dbPath, app, replica, out } = await syncedPrimary(t, 80);
    const follower = await startFollower(replica, out);
    t.after(() => follower.child.kill('SIGKILL'));
    await app.insert(40, { size: 300, perTx: 10 });
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    await waitFor('the standby to equal the primary', () => standbyEquals(out, dbPath), 20_000);
    assert.equal((await signalAndWait(follower.child, follower.done)).code, 0);

    // Fail over: the standby becomes the primary of its own replica.
    const db = new Database(out);
    db.pragma('journal_mode = WAL');
    db.exec("CREATE TABLE after_promotion (x); INSERT INTO after_promotion VALUES ('written on the promoted standby')");
    const promotedReplica = path.join(dir, 'promoted-replica');
    const first = await runCli(['sync', '--once', out, promotedReplica]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /new generation .*reason="promoted standby \(it followed generation [0-9a-f]{16} of file:\/\/.*replica\)"/);
    db.exec("INSERT INTO after_promotion VALUES ('and more')");
    assert.equal((await runCli(['sync', '--once', out, promotedReplica])).code, 0);
    await restoreEquals(dir, promotedReplica, out);
    db.close();
    // It is a primary now: following into it again is refused.
    const again = await runCli(followArgs(replica, out));
    assert.equal(again.code, 2);
    assert.match(errorLines(again.stderr)[0]!, /^walsync: OUTPUT_EXISTS: .*standby\.db: already exists and was not followed from a replica/);
  });

  it('refuses a point in time, a standby of another replica, and a database it did not follow: one line, exit 2', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.insert(10, { size: 100, perTx: 10 });
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    const out = path.join(dir, 'standby.db');
    const atTime = await runCli(['restore', '--follow', '--timestamp', '2026-01-01T00:00:00Z', '-o', out, replica]);
    assert.equal(atTime.code, 2);
    assert.match(errorLines(atTime.stderr)[0]!, /^walsync: USAGE: --timestamp: --follow follows the newest generation/);
    const follower = spawnCli(followArgs(replica, out));
    const done = collect(follower);
    await waitFor('the first restore', async () => (await fs.stat(`${out}.walsync-follow`).catch(() => undefined)) !== undefined);
    // While it is followed, neither a second follower nor a sync may work on it.
    await waitFor('the follower to hold the database', async () => (await fs.stat(path.join(metaDirOf(out), 'lock-holder.json')).catch(() => undefined)) !== undefined);
    for (const args of [followArgs(replica, out), ['sync', '--once', out, path.join(dir, 'elsewhere')]]) {
      const refused = await runCli(args);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(errorLines(refused.stderr)[0]!, /^walsync: LOCKED: .*standby\.db: another walsync restore --follow \(pid \d+\)/);
    }
    assert.equal((await signalAndWait(follower, done)).code, 0);
    const other = path.join(dir, 'other-replica');
    await fs.cp(replica, other, { recursive: true });
    const wrongReplica = await runCli(followArgs(other, out));
    assert.equal(wrongReplica.code, 2);
    assert.match(errorLines(wrongReplica.stderr)[0]!, /^walsync: USAGE: .*standby\.db\.walsync-follow: .*standby\.db follows file:\/\/.*\/replica, not file:\/\/.*\/other-replica$/);
    await fs.rm(`${out}.walsync-follow`);
    const notFollowed = await runCli(followArgs(replica, out));
    assert.equal(notFollowed.code, 2);
    assert.match(errorLines(notFollowed.stderr)[0]!, /^walsync: OUTPUT_EXISTS: /);
  });
});
