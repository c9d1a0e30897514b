/**
 * /healthz, the lag metrics and the heartbeat of `walsync run`, next to an
 * app that keeps committing, through a replica outage (the replica
 * directory replaced by a file) and its recovery.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import type { App } from '../helpers/app.js';
import { startAppInTempDir } from '../helpers/app.js';
import { configFor, freePort, restoreEquals, startRun, signalAndWait, waitFor } from '../helpers/daemon.js';

interface HealthBody {
  healthy: boolean;
  late: string[];
  dbs: { db: string; replicas: { replica: string; healthy: boolean; lagSeconds: number; lagBytes: number; lastSuccess?: string; lastError?: { message: string }; problem?: string }[] }[];
}

async function healthz(port: number): Promise<{ status: number; body: HealthBody }> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  return { status: response.status, body: (await response.json()) as HealthBody };
}

/** A local dead man's switch: counts the GETs it receives. */
async function startHeartbeatServer(t: TestContext): Promise<{ port: number; pings: string[] }> {
  const pings: string[] = [];
  const server = http.createServer((request, response) => {
    pings.push(`${request.method} ${request.url}`);
    response.writeHead(200).end('OK');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as { port: number }).port, pings };
}

/** Commits every 50 ms until the function returned is called (or the test ends). */
function keepWriting(t: TestContext, app: App): () => Promise<void> {
  let writing = true;
  const loop = (async () => {
    while (writing) {
      await app.insert(4, { size: 200, perTx: 2 });
      await sleep(50);
    }
  })();
  const stop = async () => {
    writing = false;
    await loop;
  };
  t.after(stop);
  return stop;
}

const MAX_LAG_MS = 2000;
const SYNC_INTERVAL_MS = 1000;

describe('health', () => {
  it('/healthz turns 503 naming the replica when it cannot be written, and 200 once it can; heartbeats only while healthy; one ERROR and one INFO line for the outage', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const port = await freePort();
    const heartbeat = await startHeartbeatServer(t);
    const config = [
      `addr: 127.0.0.1:${port}`,
      'health:',
      `  max-lag: ${MAX_LAG_MS}ms`,
      `heartbeat-url: http://127.0.0.1:${heartbeat.port}/ping/secret-token-1234`,
      'heartbeat-interval: 500ms',
      configFor(dbPath, replica),
    ].join('\n');
    const stopWriting = keepWriting(t, app);
    const run = await startRun(dir, config);
    const starting = await healthz(port);
    if (starting.status === 503 && starting.body.dbs) assert.match(starting.body.dbs[0]?.replicas[0]?.problem ?? '', /no sync has succeeded yet/);
    await waitFor('a healthy /healthz', async () => (await healthz(port)).status === 200, 10_000);
    assert.ok((await healthz(port)).body.dbs[0]!.replicas[0]!.lastSuccess, 'healthy only once a sync to the replica succeeded');
    await waitFor('two heartbeats', () => heartbeat.pings.length >= 2, 10_000);
    assert.deepEqual(new Set(heartbeat.pings), new Set(['GET /ping/secret-token-1234']));

    await fs.rename(replica, `${replica}.away`);
    await fs.writeFile(replica, 'the backup disk is gone');
    await waitFor('/healthz to turn 503', async () => (await healthz(port)).status === 503, MAX_LAG_MS + SYNC_INTERVAL_MS + 1000);
    // A ping already under way when the replica failed may still land.
    await sleep(600);
    const pingsWhileLate = heartbeat.pings.length;
    await waitFor('the replica to turn late', () => /ERROR replica late/.test(run.stderr()), MAX_LAG_MS + 2000);
    const late = await healthz(port);
    assert.equal(late.status, 503);
    assert.equal(late.body.healthy, false);
    assert.deepEqual(late.body.late, [`${dbPath} backup`]);
    const [backup] = late.body.dbs[0]!.replicas;
    assert.equal(backup!.replica, 'backup');
    assert.equal(backup!.healthy, false);
    assert.ok(backup!.lagSeconds * 1000 > MAX_LAG_MS, `lag ${backup!.lagSeconds} s`);
    assert.ok(backup!.lagBytes > 0, `lag ${backup!.lagBytes} bytes`);
    // A sync under way at the instant the directory went finds a name missing (ENOENT) instead.
    assert.match(backup!.lastError!.message, /ENOTDIR|EEXIST|ENOENT/);
    assert.match(backup!.problem!, /max-lag 2s/);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const lag = Number(/^walsync_replica_lag_seconds\{db="[^"]+",replica="backup"\} (\S+)$/m.exec(metrics)?.[1]);
    assert.ok(lag * 1000 > MAX_LAG_MS, `metric lag ${lag}`);
    assert.match(metrics, /^walsync_replica_last_success_timestamp_seconds\{db="[^"]+",replica="backup"\} \d+(\.\d+)?$/m);
    await sleep(2000);
    assert.equal(heartbeat.pings.length, pingsWhileLate, 'no heartbeat while a replica is late');

    await fs.rm(replica);
    await fs.rename(`${replica}.away`, replica);
    await waitFor('/healthz to return to 200', async () => (await healthz(port)).status === 200, 90_000);
    await waitFor('heartbeats again', () => heartbeat.pings.length > pingsWhileLate, 5000);
    await stopWriting();
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    const lateLines = result.stderr.split('\n').filter((line) => /replica late|replica caught up/.test(line));
    assert.equal(lateLines.length, 2, lateLines.join('\n'));
    assert.match(lateLines[0]!, /ERROR replica late db=\S+app\.db replica=backup lagSeconds=\d+ lagBytes=\d+ maxLag=2s error=/);
    assert.match(lateLines[1]!, /INFO replica caught up db=\S+app\.db replica=backup$/);
    assert.doesNotMatch(result.stderr, /secret-token/);
    await restoreEquals(dir, replica, dbPath);
  });

  it('a heartbeat that fails is a warning line, never a failed job, and never logs the URL past its origin', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const deadPort = await freePort();
    const stopWriting = keepWriting(t, app);
    const run = await startRun(dir, `heartbeat-url: http://127.0.0.1:${deadPort}/ping/secret-token-5678\nheartbeat-interval: 500ms\n${configFor(dbPath, replica)}`);
    await waitFor('a failed heartbeat', () => /WARN heartbeat failed/.test(run.stderr()), 10_000);
    await sleep(1500);
    await stopWriting();
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, new RegExp(`WARN heartbeat failed heartbeat=http://127\\.0\\.0\\.1:${deadPort} `));
    assert.doesNotMatch(result.stderr, /ERROR|secret-token/);
    await restoreEquals(dir, replica, dbPath);
  });
});
