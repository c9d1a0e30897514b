/**
 * An idle database's sync in a long-running process: `PRAGMA data_version`
 * alone tells it nothing was committed, so it reads no file. Every commit
 * by the app, every sync that ran in between (walsync's own checkpoint and
 * restart) and a shadow that vanished while idle are still seen.
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { run as runSync } from '../../jobs/sync.js';
import { openJobContext } from '../../src/job/context.js';
import { silentLogger } from '../../src/log.js';
import { syncShadow } from '../../src/shadow/sync-shadow.js';
import { startAppInTempDir } from '../helpers/app.js';
import { metaDirOf } from '../helpers/shadow.js';
import { policyWithMinPages } from '../helpers/sync-once.js';

const POLICY = policyWithMinPages(1000);

describe('idle syncs', () => {
  it('find nothing new without reading a file, and still see every commit, a sync in between and a vanished shadow', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(10);
    const ctx = await openJobContext(dbPath, { policy: POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: true, lock: { role: 'one-shot', what: 'test' } });
    t.after(() => ctx.close());
    const first = await runSync(ctx);

    // The quiet path does not even look at the shadow: a vanished one goes unnoticed until the next commit.
    await fs.rename(metaDirOf(dbPath), `${metaDirOf(dbPath)}.away`);
    const idle = await runSync(ctx);
    assert.equal(idle.cursor, first.cursor, 'the idle sync returned the previous cursor as it was');
    assert.equal(idle.byteCount, 0);
    await fs.rename(`${metaDirOf(dbPath)}.away`, metaDirOf(dbPath));

    await app.insert(1);
    const committed = await runSync(ctx);
    assert.equal(committed.transactionCount, 1, "the app's commit changed data_version");

    // A sync whose result the job never saw: walsync's own checkpoint restarts the WAL (its write
    // does not change its own data_version), and the job's next sync must not trust its old cursor.
    const restarted = await syncShadow(ctx.db, { metaDir: ctx.metaDir, policy: { ...POLICY, minPageCount: 1 }, log: silentLogger, previous: ctx.state.shadow });
    assert.equal(restarted.checkpoint?.restarted, true);
    const after = await runSync(ctx);
    assert.equal(after.index, restarted.index);
    assert.equal(after.generationId, first.generationId);

    await fs.rm(metaDirOf(dbPath), { recursive: true });
    await app.insert(1);
    const rebuilt = await runSync(ctx);
    assert.notEqual(rebuilt.generationId, first.generationId);
    assert.ok(rebuilt.newGenerationReason, 'a new generation, with its reason');
  });

  it('at rest hold only the pin and the checkpoint connection, and the next commit reopens what a sync needs, with no descriptors piling up', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(10);
    const ctx = await openJobContext(dbPath, { policy: POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: true, lock: { role: 'one-shot', what: 'test' } });
    t.after(() => ctx.close());
    await runSync(ctx);
    const synced = openFilesOf(dbPath);
    // The pin, its spare and the checkpoint and lock connections: a database file and a WAL each, one -shm for all.
    assert.deepEqual(synced, { db: 4, wal: 4, shm: 1 });

    // SQLite keeps a closed connection's database descriptor while the pin holds its POSIX lock
    // (closing it would drop the lock) and gives it to the next connection it opens: no growth.
    const atRest = { db: 4, wal: 2, shm: 1 };
    ctx.db.rest();
    assert.deepEqual(openFilesOf(dbPath), atRest, 'the pin and the checkpoint connection, with their WALs');
    const idle = await runSync(ctx);
    assert.equal(idle.byteCount, 0);
    assert.deepEqual(openFilesOf(dbPath), atRest, 'a sync that finds nothing committed opens nothing');

    for (let round = 0; round < 3; round++) {
      await app.insert(3, { perTx: 1 });
      const committed = await runSync(ctx);
      assert.equal(committed.transactionCount, 3);
      assert.deepEqual(openFilesOf(dbPath), synced);
      ctx.db.rest();
      assert.deepEqual(openFilesOf(dbPath), atRest, `after round ${round + 1}`);
    }
  });
});

/** This process's open descriptors of the database's files (the lock file in the shadow directory is not one). */
function openFilesOf(dbPath: string): { db: number; wal: number; shm: number } {
  const counts = { db: 0, wal: 0, shm: 0 };
  for (const fd of readdirSync('/proc/self/fd')) {
    let target: string;
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue;
    }
    if (target === dbPath) counts.db++;
    else if (target === `${dbPath}-wal`) counts.wal++;
    else if (target === `${dbPath}-shm`) counts.shm++;
  }
  return counts;
}
