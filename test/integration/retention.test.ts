/** Retention, as Litestream 0.3 keeps a replica: snapshots newer than the period, nothing a kept snapshot needs. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { currentGeneration, dumpTables } from '../helpers/shadow.js';
import { openReplica } from '../../src/replica/url.js';
import { enforceRetention } from '../../src/replication/retention.js';

async function age(filePath: string, ms: number): Promise<void> {
  const time = new Date(Date.now() - ms);
  await fs.utimes(filePath, time, time);
}

describe('retention', () => {
  it('deletes older generations whole and what lies below the oldest kept snapshot, keeping what restores', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    await app.insert(20);
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    const oldGeneration = await currentGeneration(dbPath);
    // Start a second generation: the app restarts the WAL behind walsync's back.
    await app.checkpoint('RESTART');
    await app.insert(20);
    for (let round = 0; round < 3; round++) {
      assert.equal((await runCli(['sync', '--once', '--checkpoint-min-pages', '10', dbPath, replica])).code, 0);
      await app.insert(20, { size: 400 });
    }
    const generation = await currentGeneration(dbPath);
    assert.notEqual(generation, oldGeneration);
    assert.equal((await runCli(['snapshot', dbPath, replica])).code, 0);
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    const genDir = path.join(replica, 'generations', generation);
    for (const sub of ['snapshots', 'wal']) for (const name of await fs.readdir(path.join(genDir, sub))) await age(path.join(genDir, sub, name), 3 * 3_600_000);
    for (const name of await fs.readdir(path.join(replica, 'generations', oldGeneration), { recursive: true })) {
      await age(path.join(replica, 'generations', oldGeneration, String(name)), 48 * 3_600_000);
    }
    const snapshotsBefore = await fs.readdir(path.join(genDir, 'snapshots'));
    assert.ok(snapshotsBefore.length >= 2, `snapshots at several indexes: ${snapshotsBefore.join(', ')}`);

    const result = await runCli(['retention', '--json', '--retention', '1h', replica]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as { deletedGenerations: string[]; deletedSnapshots: number; deletedWalSegments: number };
    assert.deepEqual(summary.deletedGenerations, [oldGeneration]);
    const snapshotsAfter = await fs.readdir(path.join(genDir, 'snapshots'));
    assert.deepEqual(snapshotsAfter, [snapshotsBefore.sort().at(-1)], 'only the newest snapshot of the current generation remains');
    const lowest = Number.parseInt(snapshotsAfter[0]!.slice(0, 8), 16);
    for (const name of await fs.readdir(path.join(genDir, 'wal'))) assert.ok(Number.parseInt(name.slice(0, 8), 16) >= lowest, name);
    assert.ok(summary.deletedWalSegments > 0);

    const out = path.join(dir, 'restored.db');
    assert.equal((await runCli(['restore', '-o', out, replica])).code, 0);
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
    const again = await runCli(['retention', '--json', '--retention', '1h', replica]);
    assert.deepEqual(JSON.parse(again.stdout), { ...JSON.parse(again.stdout), deletedGenerations: [], deletedSnapshots: 0, deletedWalSegments: 0 }, 'a second run is a no-op');
  });

  it('names another writer: a second database replicating to the same location has snapshots after the current generation began', async (t) => {
    const first = await startAppInTempDir(t, { autocheckpoint: 0 });
    const second = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(first.dir, 'shared-replica');
    await first.app.insert(10, { size: 100, perTx: 10 });
    await second.app.insert(10, { size: 100, perTx: 10 });
    assert.equal((await runCli(['sync', '--once', first.dbPath, replica])).code, 0);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal((await runCli(['sync', '--once', second.dbPath, replica])).code, 0);
    const client = openReplica(replica);
    const firstGeneration = await currentGeneration(first.dbPath);
    const secondGeneration = await currentGeneration(second.dbPath);
    const seen = await enforceRetention(client, { retentionMs: 3_600_000, currentGenerationId: firstGeneration });
    assert.deepEqual(seen.otherWriters.map((w) => w.generationId), [secondGeneration]);
    assert.deepEqual(seen.deletedGenerations, [], 'both are recent: nothing deleted');
    // The later writer's view: the first one has written nothing since it began.
    assert.deepEqual((await enforceRetention(client, { retentionMs: 3_600_000, currentGenerationId: secondGeneration })).otherWriters, []);
  });
});
