/**
 * A sync that copied the bulk without the lock and then found the app
 * holding the write lock past the busy timeout: it fails (DB_BUSY, the next
 * run catches up), and the next sync goes on from what it copied.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { run as runSync } from '../../jobs/sync.js';
import { openJobContext } from '../../src/job/context.js';
import { silentLogger } from '../../src/log.js';
import { startAppInTempDir } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { policyWithMinPages } from '../helpers/sync-once.js';

const POLICY = policyWithMinPages(100_000);

describe('a sync the app keeps waiting', () => {
  it('fails with DB_BUSY, and the next sync goes on from its unlocked copy instead of re-reading the shadow under the lock', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(10);
    const ctx = await openJobContext(dbPath, { policy: POLICY, busyTimeoutMs: 300, log: silentLogger, switchToWal: true, lock: { role: 'one-shot', what: 'test' } });
    let closed = false;
    t.after(() => (closed ? undefined : ctx.close()));
    await runSync(ctx);

    await app.insert(200, { size: 1000, perTx: 10 });
    await app.beginHold();
    await assert.rejects(runSync(ctx), { code: 'DB_BUSY', message: /stayed busy/ });
    await app.rollbackHold();

    await app.insert(1);
    const next = await runSync(ctx);
    assert.equal(next.transactionCount, 1);
    assert.ok(next.lockHoldMs !== undefined, 'the sync took the write lock');
    assert.ok(next.unlockedByteCount > 0, 'the new commit was copied before the lock');

    await ctx.close();
    closed = true;
    const verify = await runCli(['verify', dbPath]);
    assert.equal(verify.code, 0, verify.stderr);
  });
});
