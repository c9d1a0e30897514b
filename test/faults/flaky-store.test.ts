/**
 * A flaky object store (s3-fault-proxy.ts in front of s3rver): `walsync run`
 * keeps going through 500s, 503 SlowDown, connections reset mid-upload, a
 * 30 s answer and PUTs acknowledged but not stored; it retries, never counts
 * a segment shipped that the store does not hold, and the store restores to
 * the app. A restore reads on through bodies cut short.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { restoreEquals, signalAndWait, startRun, waitFor, writeFor } from '../helpers/daemon.js';
import { startFaultProxy } from '../helpers/s3-fault-proxy.js';
import type { FaultProxy, ProxyFault } from '../helpers/s3-fault-proxy.js';
import { S3_TEST_BUCKET, startS3Server } from '../helpers/s3-server.js';
import type { S3Server } from '../helpers/s3-server.js';

let s3: S3Server;
let stopS3: () => Promise<void>;
before(async () => {
  s3 = await startS3Server((stop) => (stopS3 = stop));
});
after(() => stopS3());

function replicaUrl(endpoint: string, prefix: string): string {
  return `s3://${S3_TEST_BUCKET}/${prefix}?endpoint=${encodeURIComponent(endpoint)}`;
}

function configFor(dbPath: string, url: string): string {
  return ['dbs:', `  - path: ${dbPath}`, '    replicas:', `      - url: ${url}`, '        sync-interval: 1s', '        snapshot-interval: 24h', ''].join('\n');
}

async function proxyFor(t: TestContext): Promise<FaultProxy> {
  return startFaultProxy(s3.endpoint, (close) => t.after(close));
}

/**
 * The app writes for a while through a proxy that injects `fault` into every
 * `every`-th request; then the faults stop, walsync stops with a final sync,
 * and the store itself (not the proxy) must restore to the app.
 */
async function runThrough(t: TestContext, fault: ProxyFault, every: number, methods?: readonly string[], until?: (proxy: FaultProxy) => boolean): Promise<string> {
  const prefix = `flaky-${fault}`;
  const proxy = await proxyFor(t);
  const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
  await app.insert(20, { size: 300 });
  const daemon = await startRun(dir, configFor(dbPath, replicaUrl(proxy.endpoint, prefix)), { env: s3.env() });
  t.after(() => daemon.child.kill('SIGKILL'));
  proxy.schedule(fault, every, methods);
  const started = Date.now();
  if (until) {
    for (let second = 0; second < 60 && !until(proxy); second++) await writeFor(app, 1000);
  } else {
    await writeFor(app, 6000);
  }
  proxy.schedule(undefined);
  const healedAt = Date.now();
  const logBefore = daemon.stderr().length;
  await app.insert(10, { size: 300 });
  await waitFor('a sync once the store is well', () => /INFO job done .*job=sync/.test(daemon.stderr().slice(logBefore)), 120_000).catch((error: unknown) => {
    throw new Error(`${(error as Error).message}; walsync said:\n${daemon.stderr()}`);
  });
  const catchUpMs = Date.now() - healedAt;
  const stopped = await signalAndWait(daemon.child, daemon.done);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.ok((proxy.injected.get(fault) ?? 0) > 0, `no ${fault} was injected`);
  assert.doesNotMatch(stopped.stderr, /^\s+at |Unhandled|code=BUG|final sync failed/m);
  // Straight from the store: every segment walsync counted as shipped is there, in one unbroken chain.
  await restoreEquals(dir, s3.url(prefix), dbPath, { env: s3.env() });
  const verified = await runCli(['verify', dbPath, '--replica', s3.url(prefix)], { env: s3.env() });
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  t.diagnostic(`${fault}: ${proxy.injected.get(fault)} injected over ${Math.round((healedAt - started) / 1000)} s; caught up ${catchUpMs} ms after the store healed`);
  return stopped.stderr;
}

describe('a flaky object store', () => {
  it('500 InternalError on every third request: the SDK retries, nothing is lost', async (t) => {
    await runThrough(t, 'status-500', 3);
  });

  it('503 SlowDown on every second request: retried with backoff, nothing is lost', async (t) => {
    await runThrough(t, 'slow-down-503', 2);
  });

  it('the connection reset half-way through every third upload: retried, nothing is lost', async (t) => {
    await runThrough(t, 'reset-mid-body', 3, ['PUT']);
  });

  it('an answer after 30 s: the run waits it out and goes on, nothing is lost', async (t) => {
    await runThrough(t, 'late-30s', 4, ['PUT'], (proxy) => (proxy.injected.get('late-30s') ?? 0) >= 1);
  });

  it('GET bodies cut short on every second GET (the replica position read after an error): read on, nothing is lost', async (t) => {
    await runThrough(t, 'truncated-get', 2, ['GET'], (proxy) => (proxy.injected.get('truncated-get') ?? 0) >= 1);
  });

  it('a PUT acknowledged but not stored: the upload is not counted as shipped, it is sent again, nothing is lost', async (t) => {
    const stderr = await runThrough(t, 'lost-put', 3, ['PUT']);
    assert.match(stderr, /ERROR job failed .*code=REPLICA_IO .*: the store acknowledged the upload but does not hold the object/);
  });

  for (const fault of ['truncated-get', 'reset-mid-body'] as const) {
    it(`a restore through GET bodies cut short (${fault}) reads on from where each broke off and equals the app`, async (t) => {
      const prefix = `restore-${fault}`;
      const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
      for (let i = 0; i < 4; i++) {
        await app.insert(200, { size: 1000, perTx: 20 });
        const synced = await runCli(['sync', '--once', dbPath, s3.url(prefix)], { env: s3.env() });
        assert.equal(synced.code, 0, synced.stderr);
      }
      const proxy = await proxyFor(t);
      proxy.schedule(fault, 2, ['GET']);
      await restoreEquals(dir, replicaUrl(proxy.endpoint, prefix), dbPath, { env: s3.env() });
      assert.ok((proxy.injected.get(fault) ?? 0) >= 2, `${proxy.injected.get(fault)} GET bodies cut`);
      t.diagnostic(`restore through ${fault}: ${proxy.injected.get(fault)} bodies cut short, restore equals the app`);
    });
  }

  it('a restore through a store that cuts every body short fails naming the object, and nothing appears at OUT', async (t) => {
    const prefix = 'restore-always-cut';
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(200, { size: 1000, perTx: 20 });
    const synced = await runCli(['sync', '--once', dbPath, s3.url(prefix)], { env: s3.env() });
    assert.equal(synced.code, 0, synced.stderr);
    const proxy = await proxyFor(t);
    proxy.schedule('truncated-get', 1, ['GET']);
    const out = path.join(dir, 'out.db');
    const result = await runCli(['restore', '-o', out, replicaUrl(proxy.endpoint, prefix)], { env: s3.env() });
    assert.equal(result.code, 1, result.stderr);
    // Listings are GETs too: the first request it cannot complete is the one named.
    assert.match(result.stderr, new RegExp(`^walsync: REPLICA_IO: s3://${S3_TEST_BUCKET}/${prefix}/\\S*: `, 'm'));
    assert.doesNotMatch(result.stderr, /^\s+at /m);
    await assert.rejects(fs.stat(out));
  });
});
