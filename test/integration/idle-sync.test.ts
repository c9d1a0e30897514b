/**
 * An idle database's sync in a long-running process: `PRAGMA data_version`
 * alone tells it nothing was committed, so it reads no file. Every commit
 * by the app, every sync that ran in between (walsync's own checkpoint and
 * restart) and a shadow that vanished while idle are still seen.
 */
import assert from 'node:assert/strict';
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
});
