/**
 * Replicas: the shadow shipped to a directory in Litestream 0.3's layout
 * restores to the app's database, to the latest moment or an earlier one;
 * killed uploads resume without gap or overlap; a broken replica loses
 * nothing; a damaged one is refused naming the object.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { App } from '../helpers/app.js';
import { startAppInTempDir } from '../helpers/app.js';
import { cliPath, collect, errorLines, runCli, spawnCli } from '../helpers/cli.js';
import { currentGeneration, dumpTables, integrityCheck, listTmpFiles, shadowFiles } from '../helpers/shadow.js';
import { syncOnceJson } from '../helpers/sync-once.js';
import type { SyncSummary } from '../helpers/sync-once.js';

async function syncTo(dbPath: string, replica: string, ...flags: string[]): Promise<SyncSummary> {
  return (await syncOnceJson(dbPath, { flags, replicas: [replica] })).summary;
}

async function restoreTo(replica: string, out: string, ...flags: string[]) {
  return runCli(['restore', '--json', '-o', out, ...flags, replica]);
}

function rowsOf(dbPath: string) {
  return dumpTables(dbPath, { exclude: ['_walsync_seq'] });
}

async function appRows(app: App) {
  return app.query<{ n: number }>('SELECT count(*) AS n FROM t');
}

describe('file replica', () => {
  it('round trip while sync runs: inserts, updates, deletes, a schema change and a multi-MB blob across >= 3 checkpoints restore row for row', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const child = spawnCli(['sync', '--json', '--interval', '300ms', '--checkpoint-min-pages', '200', dbPath, replica]);
    const done = collect(child);
    for (let round = 0; round < 10; round++) {
      await app.insert(60 + round, { size: 700, perTx: 3 });
      if (round === 3) await app.exec('ALTER TABLE t ADD COLUMN note TEXT; CREATE INDEX t_note ON t (note); UPDATE t SET note = hex(id) WHERE id % 3 = 0;');
      if (round === 5) await app.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB); INSERT INTO blobs (data) VALUES (randomblob(3 * 1024 * 1024));');
      if (round % 4 === 1) await app.exec(`UPDATE t SET body = randomblob(40) WHERE id % 5 = ${round % 5}; DELETE FROM t WHERE id % 13 = ${round % 13};`);
      await sleep(400);
    }
    await sleep(700);
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const restarts = result.stdout.trim().split('\n').filter((line) => (JSON.parse(line) as SyncSummary).checkpoint?.restarted).length;
    assert.ok(restarts >= 3, `${restarts} walsync checkpoints`);
    const out = path.join(dir, 'restored.db');
    const restored = await restoreTo(replica, out);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(integrityCheck(out), 'ok');
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
    const verify = await runCli(['verify', dbPath, '--replica', replica]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /restores: .* equals /);
    // The restored copy verify compares with, and the -wal and -shm its read-only connection left, are gone.
    assert.deepEqual((await fs.readdir(path.join(dir, '.app.db-walsync'))).filter((name) => name.startsWith('verify')), []);
    // Local shadow files every replica holds whole are gone; the current one stays.
    assert.equal((await shadowFiles(dbPath, await currentGeneration(dbPath))).length, 1);
  });

  it('point in time: each of 12 recorded positions restores, by --index and by --timestamp, to exactly the rows committed then', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const moments: { at: string; count: number; index: number }[] = [];
    for (let round = 0; round < 13; round++) {
      await app.insert(15 + round, { size: 300, perTx: 3 });
      if (round % 5 === 4) await app.exec(`DELETE FROM t WHERE id % 7 = ${round % 7}`);
      // Every sync ends its WAL index with a checkpoint, so index k holds exactly rounds 0..k.
      const summary = await syncTo(dbPath, replica, '--checkpoint-min-pages', '1');
      assert.equal(summary.checkpoint?.restarted, true);
      await sleep(25);
      moments.push({ at: new Date().toISOString(), count: (await appRows(app))[0]!.n, index: summary.index - 1 });
      await sleep(25);
    }
    // The first sync checkpoints before its snapshot, so restores start at index 1: positions from round 1 on.
    for (const [i, moment] of moments.slice(1).entries()) {
      const byTime = path.join(dir, `time-${i}.db`);
      const timed = await restoreTo(replica, byTime, '--timestamp', moment.at);
      assert.equal(timed.code, 0, timed.stderr);
      assert.equal((rowsOf(byTime).t ?? []).length, moment.count, `--timestamp ${moment.at}`);
      const byIndex = path.join(dir, `index-${i}.db`);
      const indexed = await restoreTo(replica, byIndex, '--index', String(moment.index));
      assert.equal(indexed.code, 0, indexed.stderr);
      assert.equal((rowsOf(byIndex).t ?? []).length, moment.count, `--index ${moment.index}`);
    }
  });

  it('sync killed with SIGKILL mid-upload resumes without a gap, a duplicate or an overlap', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await syncTo(dbPath, replica);
    for (let round = 0; round < 30; round++) {
      await app.insert(100, { size: 4000, perTx: 10 });
      const child = spawnCli(['sync', '--once', '--checkpoint-min-pages', '400', dbPath, replica]);
      const done = collect(child);
      await sleep(60 + Math.floor(Math.random() * 200));
      child.kill('SIGKILL');
      await done;
    }
    await syncTo(dbPath, replica);
    const list = await runCli(['wal', '--json', replica]);
    const segments = JSON.parse(list.stdout) as { generation: string; index: string; offset: number }[];
    const keys = segments.map((s) => `${s.generation}/${s.index}/${s.offset}`);
    assert.equal(new Set(keys).size, keys.length, 'no duplicate segment');
    assert.deepEqual(await listTmpFiles(replica), [], 'no half-written object');
    const out = path.join(dir, 'restored.db');
    const restored = await restoreTo(replica, out, '--generation', await currentGeneration(dbPath));
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
  });

  it('an unwritable replica fails the run with one line, loses nothing, and the next run catches up', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.insert(10);
    await syncTo(dbPath, replica);
    await fs.rename(replica, `${replica}.away`);
    await fs.writeFile(replica, 'not a directory');
    await app.insert(10);
    const failed = await runCli(['sync', '--once', dbPath, replica]);
    assert.equal(failed.code, 1);
    const lines = errorLines(failed.stderr);
    assert.equal(lines.length, 1, failed.stderr);
    assert.match(lines[0]!, /^walsync: REPLICA_IO: file:\/\/.*replica\/generations(\/[0-9a-f]{16}(\/wal(\/[0-9a-f_]+\.wal\.lz4)?)?)?: (ENOTDIR|EEXIST)$/);
    await fs.rm(replica);
    await fs.rename(`${replica}.away`, replica);
    await syncTo(dbPath, replica);
    const out = path.join(dir, 'restored.db');
    assert.equal((await restoreTo(replica, out)).code, 0);
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
  });

  it('a replica whose next shadow WAL a sync naming fewer replicas deleted starts again from a snapshot, and restores to the app', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const [first, second] = [path.join(dir, 'first'), path.join(dir, 'second')];
    await app.insert(30, { size: 500 });
    const both = await runCli(['sync', '--once', dbPath, first, second]);
    assert.equal(both.code, 0, both.stderr);
    for (let round = 0; round < 3; round++) {
      await app.insert(30, { size: 500 });
      // Each checkpoint starts a new index; the shadow files below go once `first` (all this sync knows of) holds them.
      await syncTo(dbPath, first, '--checkpoint-min-pages', '1');
    }
    await app.insert(10, { size: 500 });
    const result = await runCli(['sync', '--once', '--json', dbPath, first, second]);
    assert.equal(result.code, 0, result.stderr);
    const warning = result.stderr.split('\n').map((line) => (line ? (JSON.parse(line) as Record<string, string>) : {})).find((line) => line.level === 'warn');
    assert.equal(warning?.msg, 'shadow WAL missing for replica; it starts again from a snapshot');
    assert.equal(warning?.replica, `file://${second}`);
    assert.equal(warning?.index, '00000001');
    const summary = JSON.parse(result.stdout) as SyncSummary;
    assert.equal(summary.replicas[1]!.snapshotIndex, summary.index);
    for (const replica of [first, second]) {
      const out = path.join(dir, `${path.basename(replica)}.db`);
      const restored = await restoreTo(replica, out);
      assert.equal(restored.code, 0, restored.stderr);
      assert.deepEqual(rowsOf(out), rowsOf(dbPath));
    }
  });

  it('a missing segment, a missing index and a corrupt object are errors naming the object; nothing appears at the output', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    for (let round = 0; round < 4; round++) {
      await app.insert(30, { size: 400 });
      await syncTo(dbPath, replica, '--checkpoint-min-pages', '1000');
    }
    const generation = await currentGeneration(dbPath);
    const walDir = path.join(replica, 'generations', generation, 'wal');
    const names = (await fs.readdir(walDir)).sort();
    assert.equal(names.length, 4);
    const out = path.join(dir, 'out.db');

    const corrupt = path.join(walDir, names[2]!);
    const original = await fs.readFile(corrupt);
    const flipped = Buffer.from(original);
    flipped[flipped.length - 2]! ^= 0xff; // inside the content checksum: always detected
    await fs.writeFile(corrupt, flipped);
    const corrupted = await restoreTo(replica, out);
    assert.equal(corrupted.code, 1);
    assert.match(errorLines(corrupted.stderr)[0]!, new RegExp(`REPLICA_CORRUPT: .*${names[2]!.replace('.', '\\.')}: LZ4`));
    await assert.rejects(fs.stat(out));
    await fs.writeFile(corrupt, original);

    await fs.rename(path.join(walDir, names[1]!), path.join(dir, 'aside'));
    const gap = await restoreTo(replica, out);
    assert.equal(gap.code, 1);
    assert.match(errorLines(gap.stderr)[0]!, new RegExp(`RESTORE_GAP: .*${generation}/wal/${names[1]!.replace('.', '\\.')}: missing`));
    await assert.rejects(fs.stat(out));
    assert.deepEqual((await fs.readdir(dir)).filter((n) => n.startsWith('out.db')), [], 'no temp files left');
    await fs.rename(path.join(dir, 'aside'), path.join(walDir, names[1]!));

    await fs.rename(path.join(walDir, names[0]!), path.join(dir, 'aside'));
    const noFirst = await restoreTo(replica, out);
    assert.match(errorLines(noFirst.stderr)[0]!, /RESTORE_GAP: .*\/wal\/00000000_00000000\.wal\.lz4: missing/);
  });

  it('objects are standard LZ4 frames: lz4 -d of the segments gives the shadow WAL byte for byte', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    for (let round = 0; round < 3; round++) {
      await app.insert(20, { size: 1000 });
      await syncTo(dbPath, replica, '--checkpoint-min-pages', '100000');
    }
    const generation = await currentGeneration(dbPath);
    const walDir = path.join(replica, 'generations', generation, 'wal');
    const decoded = (await fs.readdir(walDir))
      .sort()
      .map((name) => execFileSync('lz4', ['-d', '-c', path.join(walDir, name)]));
    const [shadow] = await shadowFiles(dbPath, generation);
    assert.deepEqual(Buffer.concat(decoded), await fs.readFile(shadow!));
    const snapshot = execFileSync('lz4', ['-d', '-c', path.join(replica, 'generations', generation, 'snapshots', '00000000.snapshot.lz4')]);
    assert.equal(snapshot.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
  });

  it('the held read transaction still blocks the app from restarting the WAL after a snapshot', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.insert(20);
    const child = spawnCli(['sync', '--json', '--interval', '100ms', dbPath, replica]);
    const done = collect(child);
    for (let i = 0; i < 50 && !(await fs.stat(path.join(replica, 'generations')).catch(() => undefined)); i++) await sleep(100);
    await sleep(300);
    await app.insert(5);
    await sleep(300);
    // A walsync that lost its POSIX locks (by opening and closing the database file) no longer pins the WAL.
    const [busy] = await app.checkpoint('RESTART');
    assert.equal(busy, 1, 'the RESTART checkpoint is blocked by walsync\'s read transaction');
    await app.insert(5);
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const generations = new Set(result.stdout.trim().split('\n').map((line) => (JSON.parse(line) as SyncSummary).generation));
    assert.equal(generations.size, 1, 'one generation throughout');
  });

  it('a segment that decompresses but breaks the WAL checksum chain is refused naming it, not restored shorter', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    for (let round = 0; round < 3; round++) {
      await app.insert(10, { size: 400 });
      await syncTo(dbPath, replica);
    }
    const walDir = path.join(replica, 'generations', await currentGeneration(dbPath), 'wal');
    const [, second] = (await fs.readdir(walDir)).sort();
    const segment = path.join(walDir, second!);
    const wal = execFileSync('lz4', ['-d', '-c', segment]);
    wal[24 + 1000]! ^= 0xff;
    execFileSync('lz4', ['-f', '-q', '-', segment], { input: wal });
    const out = path.join(dir, 'out.db');
    const result = await restoreTo(replica, out);
    assert.equal(result.code, 1);
    assert.match(errorLines(result.stderr)[0]!, new RegExp(`REPLICA_CORRUPT: .*${second!.replace('.', '\\.')}: WAL frames stop being whole, valid transactions at offset \\d+ of index 0$`));
    await assert.rejects(fs.stat(out));
  });

  it('verify --replica exits 3 naming the table when the replica restores to something else', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.exec('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER); INSERT INTO accounts (balance) VALUES (100), (200);');
    await app.insert(50);
    await app.checkpoint('TRUNCATE');
    await syncTo(dbPath, replica);
    // A snapshot of another database: the WAL replay does not touch the accounts page.
    const other = path.join(dir, 'other.db');
    await fs.copyFile(dbPath, other);
    const db = new Database(other);
    db.exec('UPDATE accounts SET balance = 999 WHERE id = 2');
    db.close();
    const snapshot = path.join(replica, 'generations', await currentGeneration(dbPath), 'snapshots', '00000000.snapshot.lz4');
    execFileSync('lz4', ['-f', '-q', other, snapshot]);
    const result = await runCli(['verify', dbPath, '--replica', replica]);
    assert.equal(result.code, 3, result.stderr);
    assert.match(errorLines(result.stderr).join('\n'), /replica: restored at [0-9a-f]{16}\/00000000:\d+ differs from .*app\.db: table accounts differs at row 2 \(rowid 2\)$/);
  });

  it('restore shows progress on a terminal and nothing extra otherwise', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.insert(100, { size: 1000 });
    await syncTo(dbPath, replica);
    const quiet = await runCli(['restore', '-o', path.join(dir, 'quiet.db'), replica]);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, '');
    const command = `${process.execPath} ${cliPath} restore -o ${path.join(dir, 'tty.db')} ${replica}`;
    const onTerminal = execFileSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8' });
    assert.match(onTerminal, /restoring: [\d.]+ MiB, \d+\/\d+ objects/);
    assert.match(onTerminal, /restored .*tty\.db/);
  });

  it('refuses an existing output, no backups, a bad timestamp and --index with --timestamp: one line, non-zero, nothing at the output', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.insert(5);
    await syncTo(dbPath, replica);
    const existing = path.join(dir, 'existing.db');
    await fs.writeFile(existing, 'keep me');
    const cases: [string[], number, RegExp, string][] = [
      [['-o', existing, replica], 2, /^walsync: OUTPUT_EXISTS: .*existing\.db: already exists/, existing],
      [['-o', path.join(dir, 'a.db'), path.join(dir, 'empty-replica')], 1, /^walsync: NO_BACKUPS: .*empty-replica: no backups found$/, path.join(dir, 'a.db')],
      [['-o', path.join(dir, 'b.db'), '--timestamp', 'yesterday', replica], 2, /^walsync: USAGE: --timestamp: "yesterday" is not an RFC 3339 time/, path.join(dir, 'b.db')],
      [['-o', path.join(dir, 'c.db'), '--index', '0', '--timestamp', '2026-01-01T00:00:00Z', replica], 2, /^walsync: USAGE: Arguments index and timestamp are mutually exclusive$/, path.join(dir, 'c.db')],
      [['-o', path.join(dir, 'd.db'), '--generation', '0123456789abcdef', replica], 1, /^walsync: NO_BACKUPS: .*generation 0123456789abcdef not found/, path.join(dir, 'd.db')],
    ];
    for (const [args, code, line, out] of cases) {
      const result = await runCli(['restore', ...args]);
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      assert.deepEqual(errorLines(result.stderr).length, 1, result.stderr);
      assert.match(errorLines(result.stderr)[0]!, line);
      if (out === existing) assert.equal(await fs.readFile(existing, 'utf8'), 'keep me');
      else await assert.rejects(fs.stat(out), `nothing at ${out}`);
    }
  });

  it('a restore that fails its integrity check (full or quick) names the object and leaves nothing at the output; --integrity-check none skips it', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.insert(400, { size: 500, perTx: 50 });
    await app.checkpoint('TRUNCATE');
    await syncTo(dbPath, replica);
    const generation = await currentGeneration(dbPath);
    const snapshotPath = path.join(replica, 'generations', generation, 'snapshots', '00000000.snapshot.lz4');
    const snapshot = execFileSync('lz4', ['-d', '-c', snapshotPath]);
    // Scribble over the middle of a b-tree page the WAL never rewrites.
    snapshot.fill(0x5a, 4096 * 10 + 100, 4096 * 10 + 2000);
    execFileSync('lz4', ['-f', '-q', '-', snapshotPath], { input: snapshot });
    const out = path.join(dir, 'out.db');
    const result = await restoreTo(replica, out);
    assert.equal(result.code, 1);
    assert.match(errorLines(result.stderr)[0]!, /^walsync: REPLICA_CORRUPT: .*\.lz4: integrity check failed after applying it: /);
    await assert.rejects(fs.stat(out));
    const quick = await restoreTo(replica, out, '--integrity-check', 'quick');
    assert.equal(quick.code, 1);
    assert.match(errorLines(quick.stderr)[0]!, /^walsync: REPLICA_CORRUPT: .*\.lz4: integrity check failed after applying it: /);
    await assert.rejects(fs.stat(out));
    // Unchecked, the damaged copy is what the replica holds: the check is what refused it.
    const unchecked = await restoreTo(replica, out, '--integrity-check', 'none');
    assert.equal(unchecked.code, 0, unchecked.stderr);
    assert.ok((await fs.readFile(out)).subarray(4096 * 10 + 100, 4096 * 10 + 2000).every((byte) => byte === 0x5a));
  });
});
