/**
 * Snapshots: the database file with the shadow's newest pages laid over it,
 * read while the app keeps writing and checkpointing, is a consistent
 * database on its own; and a snapshot only goes up once the replica holds
 * every WAL byte it contains, so no restore to a point in time replays an
 * older WAL prefix over it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { App } from '../helpers/app.js';
import { startAppInTempDir } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { currentGeneration, dumpTables, integrityCheck } from '../helpers/shadow.js';

const LEDGER_SCHEMA = 'CREATE TABLE ledger (id INTEGER PRIMARY KEY, body BLOB); CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0);';
// Each transaction keeps count(ledger) = counter.n: a torn snapshot breaks that or the b-trees.
const LEDGER_TRANSACTION = 'BEGIN; INSERT INTO ledger (body) VALUES (randomblob(3000)), (randomblob(5000)); UPDATE counter SET n = n + 2; COMMIT;';

async function snapshotTo(dbPath: string, replica: string): Promise<{ generation: string; index: number }> {
  const result = await runCli(['snapshot', '--json', dbPath, replica]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as { generation: string; index: number };
}

/** The snapshot object decoded into a database file of its own. */
async function decodeSnapshot(replica: string, snapshot: { generation: string; index: number }, out: string): Promise<string> {
  const name = `${snapshot.index.toString(16).padStart(8, '0')}.snapshot.lz4`;
  execFileSync('lz4', ['-d', '-f', '-q', path.join(replica, 'generations', snapshot.generation, 'snapshots', name), out]);
  return out;
}

function ledgerBalance(dbPath: string): { rows: number; counted: number } {
  const db = new Database(dbPath, { readonly: true });
  try {
    const rows = (db.prepare('SELECT count(*) AS n FROM ledger').get() as { n: number }).n;
    const counted = (db.prepare('SELECT n FROM counter').get() as { n: number }).n;
    return { rows, counted };
  } finally {
    db.close();
  }
}

async function writeUntil(app: App, stop: { done: boolean }): Promise<number> {
  let transactions = 0;
  while (!stop.done) {
    await app.exec(LEDGER_TRANSACTION);
    if (++transactions % 25 === 0) await app.checkpoint('PASSIVE');
  }
  return transactions;
}

describe('snapshots', () => {
  it('a snapshot taken while the app writes and checkpoints on its own is a consistent database by itself, and equals the app once it pauses', async (t) => {
    // SQLite's default autocheckpoint, plus explicit PASSIVE checkpoints: the app backfills the database file while it is read.
    const { dir, dbPath, app } = await startAppInTempDir(t, {});
    const replica = path.join(dir, 'replica');
    await app.exec(LEDGER_SCHEMA);
    for (let i = 0; i < 200; i++) await app.exec(LEDGER_TRANSACTION);
    const stop = { done: false };
    const writing = writeUntil(app, stop);
    try {
      for (let round = 0; round < 4; round++) {
        const out = await decodeSnapshot(replica, await snapshotTo(dbPath, replica), path.join(dir, `snapshot-${round}.db`));
        assert.equal(integrityCheck(out), 'ok');
        const balance = ledgerBalance(out);
        assert.equal(balance.rows, balance.counted, `snapshot ${round} is torn`);
        assert.ok(balance.rows >= 400);
      }
    } finally {
      stop.done = true;
    }
    assert.ok((await writing) > 0);
    const out = await decodeSnapshot(replica, await snapshotTo(dbPath, replica), path.join(dir, 'snapshot-paused.db'));
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
  });

  it('walsync snapshot first ships the WAL the snapshot holds, so a restore to the snapshot\'s time equals the app then', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.exec(LEDGER_SCHEMA);
    for (let i = 0; i < 20; i++) await app.exec(LEDGER_TRANSACTION);
    const synced = await runCli(['sync', '--once', dbPath, replica]);
    assert.equal(synced.code, 0, synced.stderr);
    // Commits the replica does not have yet when the snapshot is asked for.
    for (let i = 0; i < 20; i++) await app.exec(LEDGER_TRANSACTION);
    const snapshot = await snapshotTo(dbPath, replica);
    const atSnapshot = dumpTables(dbPath, { exclude: ['_walsync_seq'] });
    for (let i = 0; i < 20; i++) await app.exec(LEDGER_TRANSACTION);

    const generation = await currentGeneration(dbPath);
    const listed = (kind: string) => runCli([kind, '--json', '--generation', generation, replica]).then((r) => JSON.parse(r.stdout) as { index: string; created: string }[]);
    const snapshotCreated = (await listed('snapshots')).find((s) => Number.parseInt(s.index, 16) === snapshot.index)!.created;
    const segments = (await listed('wal')).filter((s) => Number.parseInt(s.index, 16) === snapshot.index);
    assert.ok(segments.length >= 2, 'the commits after the first sync went up as their own segment');
    for (const segment of segments) assert.ok(segment.created <= snapshotCreated, `segment created ${segment.created} after the snapshot ${snapshotCreated}`);

    const out = path.join(dir, 'at-snapshot.db');
    const restored = await runCli(['restore', '-o', out, '--timestamp', snapshotCreated, replica]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(dumpTables(out, { exclude: ['_walsync_seq'] }), atSnapshot);
    await fs.rm(out);
  });
});
