/**
 * The first sync of a new walsync process (a restarted daemon, each cron
 * one-shot) copies what the app committed since the last process without
 * the app's write lock, from where the shadow on disk ends.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { run as runSync } from '../../jobs/sync.js';
import { openJobContext } from '../../src/job/context.js';
import { defaultMetaDir, shadowWalPath } from '../../src/layout.js';
import { silentLogger } from '../../src/log.js';
import { startAppInTempDir } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { policyWithMinPages } from '../helpers/sync-once.js';

const POLICY = policyWithMinPages(100_000);

async function syncInNewProcessContext(dbPath: string) {
  const ctx = await openJobContext(dbPath, { policy: POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: true, lock: { role: 'one-shot', what: 'test' } });
  try {
    return await runSync(ctx);
  } finally {
    await ctx.close();
  }
}

describe("a process's first sync", () => {
  it('copies the commits made since the last process before it takes the write lock', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(10);
    const first = await syncInNewProcessContext(dbPath);

    await app.insert(200, { size: 1000, perTx: 10 });
    const next = await syncInNewProcessContext(dbPath);
    assert.equal(next.generationId, first.generationId);
    assert.equal(next.transactionCount, 20);
    assert.ok(next.lockHoldMs !== undefined, 'the sync took the write lock');
    assert.equal(next.unlockedByteCount, next.byteCount, 'every new commit was copied before the lock');

    const verify = await runCli(['verify', dbPath]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  it('leaves a torn shadow tail to the locked path, which cuts it back', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(10);
    const first = await syncInNewProcessContext(dbPath);
    fs.appendFileSync(shadowWalPath(defaultMetaDir(dbPath), first.generationId, first.index), Buffer.alloc(100, 7));

    await app.insert(5);
    const next = await syncInNewProcessContext(dbPath);
    assert.equal(next.generationId, first.generationId);
    assert.equal(next.cutBackByteCount, 100);
    assert.equal(next.transactionCount, 5);
    assert.equal(next.unlockedByteCount, 0);

    const verify = await runCli(['verify', dbPath]);
    assert.equal(verify.code, 0, verify.stderr);
  });
});
