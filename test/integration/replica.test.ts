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
import { currentGeneration, dumpTables, listTmpFiles, shadowFiles } from '../helpers/shadow.js';

interface SyncSummary {
  generation: string;
  index: number;
  checkpoint: { restarted: boolean } | null;
  replicas: { replica: string; snapshotIndex: number | null; segments: number; position: string }[];
}

async function syncTo(dbPath: string, replica: string, ...flags: string[]): Promise<SyncSummary> {
  const result = await runCli(['sync', '--once', '--json', ...flags, dbPath, replica]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as SyncSummary;
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
  it('round trip over several WAL indexes: restore equals the app row for row, and verify --replica agrees', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    for (let round = 0; round < 12; round++) {
      await app.insert(30 + round, { size: 300, perTx: 3 });
      if (round % 4 === 3) await app.exec(`UPDATE t SET body = randomblob(40) WHERE id % 5 = ${round % 5}; DELETE FROM t WHERE id % 13 = 0;`);
      const summary = await syncTo(dbPath, replica, '--checkpoint-min-pages', '25');
      assert.equal(summary.replicas.length, 1);
    }
    const out = path.join(dir, 'restored.db');
    const restored = await restoreTo(replica, out);
    assert.equal(restored.code, 0, restored.stderr);
    assert.ok((JSON.parse(restored.stdout) as { lastIndex: number }).lastIndex >= 2, 'several indexes replayed');
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
    const verify = await runCli(['verify', dbPath, '--replica', replica]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /restores: .* equals /);
    // Local shadow files every replica holds whole are gone; the current one stays.
    assert.equal((await shadowFiles(dbPath, await currentGeneration(dbPath))).length, 1);
  });

  it('point-in-time restore by timestamp and by index gives the database as it was then', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const moments: { at: string; count: number; index: number }[] = [];
    for (let round = 0; round < 6; round++) {
      await app.insert(40, { size: 300, perTx: 4 });
      const summary = await syncTo(dbPath, replica, '--checkpoint-min-pages', '30');
      await sleep(30);
      moments.push({ at: new Date().toISOString(), count: (await appRows(app))[0]!.n, index: summary.index });
      await sleep(30);
    }
    for (const moment of [moments[1]!, moments[3]!]) {
      const out = path.join(dir, `at-${moment.count}.db`);
      const result = await restoreTo(replica, out, '--timestamp', moment.at);
      assert.equal(result.code, 0, result.stderr);
      assert.equal((rowsOf(out).t ?? []).length, moment.count, `restore at ${moment.at}`);
    }
    const byIndex = path.join(dir, 'index-0.db');
    const result = await restoreTo(replica, byIndex, '--index', '0');
    assert.equal(result.code, 0, result.stderr);
    const lastInIndex0 = moments.filter((m) => m.index === 0).at(-1);
    if (lastInIndex0) assert.ok((rowsOf(byIndex).t ?? []).length >= lastInIndex0.count);
    assert.ok((rowsOf(byIndex).t ?? []).length < moments.at(-1)!.count);
  });

  it('sync killed with SIGKILL mid-upload resumes without a gap, a duplicate or an overlap', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await syncTo(dbPath, replica);
    for (let round = 0; round < 15; round++) {
      await app.insert(150, { size: 4000, perTx: 15 });
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
});
