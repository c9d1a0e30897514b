/**
 * walsync and the app share SQLite's locks: uncommitted frames are never
 * copied, an app holding the write lock makes a sync fail cleanly, and two
 * syncs at once keep one consistent shadow.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, errorLines, runCli, spawnCli } from '../helpers/cli.js';
import { currentGeneration, listGenerations, shadowFiles } from '../helpers/shadow.js';
import { syncOnceJson } from '../helpers/sync-once.js';
import type { SyncSummary } from '../helpers/sync-once.js';

async function syncJson(dbPath: string, ...flags: string[]): Promise<SyncSummary> {
  return (await syncOnceJson(dbPath, { flags })).summary;
}

describe('locking', () => {
  it('a transaction larger than the page cache is not in the shadow until it commits', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0, cacheSize: 10 });
    await app.insert(2);
    const before = await syncJson(dbPath);
    await app.beginHold(200, 2000);
    const walSize = (await fs.stat(`${dbPath}-wal`)).size;
    assert.ok(walSize > before.offset + 20 * 4120, `frames spilled into the WAL before commit (${walSize} bytes)`);

    const during = await runCli(['sync', '--once', '--json', '--busy-timeout', '200ms', dbPath]);
    assert.equal(during.code, 1);
    const shadow = (await shadowFiles(dbPath, before.generation))[0]!;
    assert.equal((await fs.stat(shadow)).size, before.offset, 'nothing of the open transaction was copied');

    await app.commitHold();
    const after = await syncJson(dbPath);
    assert.equal(after.generation, before.generation);
    assert.equal(after.transactions, 1);
    assert.ok(after.offset > walSize - 4120);
    const verify = await runCli(['verify', dbPath]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  it('an app holding the write lock past the busy timeout fails the run with exit 1 and one line saying it stayed busy', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0, kind: 'python' });
    await app.insert(2);
    await syncJson(dbPath);
    await app.beginHold(1);
    const result = await runCli(['sync', '--once', '--busy-timeout', '300ms', dbPath]);
    assert.equal(result.code, 1);
    assert.deepEqual(errorLines(result.stderr).length, 1);
    assert.match(result.stderr, /^walsync: DB_BUSY: .*app\.db: database stayed busy/m);
    await app.commitHold();
    const next = await syncJson(dbPath);
    assert.equal(next.transactions, 1, 'the next run catches up');
  });

  it('two sync --once started at the same moment: each syncs or is refused in one line (LOCKED), and the shadow stays consistent', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    for (let round = 0; round < 5; round++) {
      await app.insert(50, { size: 2000, perTx: 5 });
      const both = await Promise.all([0, 1].map(() => collect(spawnCli(['sync', '--once', '--checkpoint-min-pages', '60', dbPath]))));
      for (const result of both) {
        const refused = result.code === 1 && /^walsync: LOCKED: .*another walsync sync --once \(pid \d+\) is working on this database/m.test(result.stderr);
        assert.ok(result.code === 0 || refused, result.stderr);
      }
      assert.ok(both.some((result) => result.code === 0), 'one of them synced');
      const verify = await runCli(['verify', dbPath]);
      assert.equal(verify.code, 0, `round ${round}: ${verify.stderr}`);
    }
    const final = await syncJson(dbPath);
    assert.equal(final.transactions, 0, 'everything was already copied');
    assert.equal(await currentGeneration(dbPath), final.generation);
    assert.deepEqual(await listGenerations(dbPath), [final.generation], 'one generation');
  });
});
