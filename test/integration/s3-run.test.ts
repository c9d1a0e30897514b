/**
 * `walsync run` with an S3 replica on a real S3 server on 127.0.0.1: what it
 * costs when idle (requests counted by the server and by walsync), and
 * what happens when the store goes away mid-run and comes back.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { RequestCounts } from '../../src/replica/request-counter.js';
import type { StatusFile } from '../../src/daemon/status.js';
import type { App } from '../helpers/app.js';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import type { S3Server } from '../helpers/s3-server.js';
import { S3_TEST_BUCKET, startS3Server } from '../helpers/s3-server.js';
import { dumpTables, metaDirOf } from '../helpers/shadow.js';

function configFor(dbPath: string, server: S3Server, prefix: string): string {
  return [
    'dbs:',
    `  - path: ${dbPath}`,
    '    checkpoint:',
    // The idle checkpoint is a real write (a new WAL index to ship), not what these tests measure.
    '      idle-interval: 10m',
    '    replicas:',
    '      - name: s3',
    '        type: s3',
    `        bucket: ${S3_TEST_BUCKET}`,
    `        path: ${prefix}`,
    `        endpoint: ${server.endpoint}`,
    '        access-key-id: ${TEST_KEY_ID}',
    '        secret-access-key: ${TEST_SECRET}',
    '        sync-interval: 1s',
    '        snapshot-interval: 24h',
    '        retention-check-interval: 1h',
  ].join('\n');
}

interface Daemon {
  child: ChildProcess;
  done: Promise<CliResult>;
  stderr: () => string;
}

async function startRun(dir: string, dbPath: string, server: S3Server, prefix: string): Promise<Daemon> {
  const file = path.join(dir, 'walsync.yml');
  await fs.writeFile(file, configFor(dbPath, server, prefix));
  const env = { ...process.env, TEST_KEY_ID: 'S3RVER', TEST_SECRET: 'S3RVER' };
  const child = spawnCli(['run', '--config', file], { env });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = collect(child, 300_000);
  for (let i = 0; i < 100 && !/runner started/.test(stderr); i++) await sleep(100);
  assert.match(stderr, /runner started/);
  return { child, done, stderr: () => stderr };
}

async function readStatus(dbPath: string): Promise<StatusFile> {
  return JSON.parse(await fs.readFile(path.join(metaDirOf(dbPath), 'status.json'), 'utf8')) as StatusFile;
}

async function waitFor(what: string, check: () => Promise<boolean>, limitMs = 60_000): Promise<void> {
  for (const end = Date.now() + limitMs; Date.now() < end; await sleep(250)) {
    if (await check()) return;
  }
  assert.fail(`timed out waiting for ${what}`);
}

async function writeFor(app: App, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(50)) await app.insert(10, { size: 200, perTx: 2 });
}

async function restoreEquals(dir: string, server: S3Server, prefix: string, dbPath: string): Promise<void> {
  const out = path.join(dir, `restored-${Date.now()}.db`);
  const restored = await runCli(['restore', '-o', out, server.url(prefix)], { env: server.env() });
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual(dumpTables(out), dumpTables(dbPath));
}

describe('walsync run with an S3 replica', () => {
  it('a start uploads the first snapshot once, and a restart with a snapshot younger than snapshot-interval uploads none', async (t) => {
    const server = await startS3Server((stop) => t.after(stop));
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(50, { size: 500 });
    const snapshotPuts = () => server.requests.filter((request) => request.method === 'PUT' && /\/snapshots\//.test(request.url)).length;
    for (const start of ['first start', 'restart']) {
      const daemon = await startRun(dir, dbPath, server, 'start/app');
      // The snapshot job's first run comes after the first sync's, in the database's queue.
      await waitFor(`${start}: the snapshot job's first run`, async () => /INFO job done .*job=snapshot replica=s3/.test(daemon.stderr()));
      daemon.child.kill('SIGTERM');
      const stopped = await daemon.done;
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.equal(snapshotPuts(), 1, `${start}: snapshot uploads on s3rver's request log`);
    }
    await restoreEquals(dir, server, 'start/app', dbPath);
  });

  it('an idle database makes zero S3 requests for 60 s at a 1 s sync interval once the replica is up to date', async (t) => {
    const server = await startS3Server((stop) => t.after(stop));
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(50, { size: 500 });
    const daemon = await startRun(dir, dbPath, server, 'idle/app');
    await waitFor('the first sync to reach the replica', async () => (await readStatus(dbPath).catch(() => undefined))?.jobs['sync:s3']?.runs !== undefined);
    // One more tick and a status flush (at most once a second) with nothing new.
    await sleep(2500);
    const serverCountBefore = server.requests.length;
    const statusBefore = await readStatus(dbPath);
    await sleep(60_000);
    const statusAfter = await readStatus(dbPath);
    const idleRequests = server.requests.slice(serverCountBefore);
    assert.deepEqual(idleRequests, [], 'requests the S3 server received while the database was idle');
    assert.deepEqual(statusAfter.requests?.s3, statusBefore.requests?.s3, "walsync's own request count did not move");
    // Nobody wrote, so the kernel reported no change and the ticks ran no sync: the safety poll's one at most.
    const syncRuns = statusAfter.jobs['sync:s3']!.runs - statusBefore.jobs['sync:s3']!.runs;
    assert.ok(syncRuns <= 1, `${syncRuns} syncs ran while idle`);
    assert.equal(statusAfter.jobs['sync:s3']!.failures, 0);
    const counts = statusBefore.requests!.s3! as RequestCounts;
    assert.ok(counts.PUT >= 2 && counts.LIST >= 1, JSON.stringify(counts));

    const status = await runCli(['status', '--config', path.join(dir, 'walsync.yml')], { env: { ...process.env, TEST_KEY_ID: 'S3RVER', TEST_SECRET: 'S3RVER' } });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /requests since start: GET=\d+ PUT=\d+ LIST=\d+ DELETE=\d+ up=\d+B down=\d+B/);

    // The first commit after the idle minute is seen at the next tick.
    await app.insert(5, { size: 500 });
    const committed = server.requests.length;
    await waitFor('the commit to reach the replica', async () => server.requests.slice(committed).some((request) => request.method === 'PUT'));
    await restoreEquals(dir, server, 'idle/app', dbPath);
    daemon.child.kill('SIGTERM');
    assert.equal((await daemon.done).code, 0);
  });

  it('the S3 server stopped mid-run: jobs fail with one-line errors, the daemon keeps running, and catches up once it is back', async (t) => {
    const server = await startS3Server((stop) => t.after(stop));
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const daemon = await startRun(dir, dbPath, server, 'outage/app');
    await writeFor(app, 3000);
    await server.stop();
    await writeFor(app, 6000);
    await waitFor('a failed sync', async () => /job failed/.test(daemon.stderr()));
    const failures = daemon.stderr().split('\n').filter((line) => /job failed/.test(line));
    for (const line of failures) {
      assert.match(line, /ERROR job failed .*job=sync replica=s3 .*code=REPLICA_IO error="s3:\/\/walsync-test\/outage\/app\/generations\/[^"]*: (ECONNREFUSED|ECONNRESET|EPIPE)/);
    }
    assert.doesNotMatch(daemon.stderr(), /^\s+at /m, 'no stack trace');
    assert.equal(daemon.child.exitCode, null, 'the daemon keeps running');

    await server.start();
    await writeFor(app, 2000);
    await waitFor('the replica to hold every commit once the server came back', () => restoreEquals(dir, server, 'outage/app', dbPath).then(() => true, () => false));
    daemon.child.kill('SIGTERM');
    const result = await daemon.done;
    assert.equal(result.code, 0, result.stderr);
  });

  it('SIGTERM while a sync waits on a store that never answers: walsync gives up its final sync at its shutdown limit and exits', async (t) => {
    // A store that takes the connection and the request and never says a word: each request
    // would wait the SDK's 60 s socket timeout, far past what docker stop or systemd allow.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      for (const socket of sockets) socket.destroy();
      silent.close();
    });
    const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(10);
    const daemon = await startRun(dir, dbPath, { endpoint } as S3Server, 'silent/app');
    await waitFor('a request to the silent store', async () => sockets.size > 0);
    daemon.child.kill('SIGTERM');
    const result = await daemon.done;
    assert.match(result.stderr, /ERROR shutdown took too long; exiting anyway limitMs=\d+/);
    assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace');
    assert.equal(result.signal, null, 'walsync ended itself');
  });
});
