/**
 * S3 replicas through the real CLI against a real S3 server on 127.0.0.1:
 * the shadow shipped to a bucket restores to the app's database, to the
 * latest moment or an earlier one, including a generation of more than 1000
 * segments; every command works on an s3:// URL.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { run as runSync } from '../../jobs/sync.js';
import { openJobContext } from '../../src/job/context.js';
import { silentLogger } from '../../src/log.js';
import { DEFAULT_CHECKPOINT_POLICY } from '../../src/config/defaults.js';
import { openReplica } from '../../src/replica/url.js';
import type { App } from '../helpers/app.js';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, errorLines, runCli, spawnCli } from '../helpers/cli.js';
import type { S3Server } from '../helpers/s3-server.js';
import { startS3Server } from '../helpers/s3-server.js';
import { currentGeneration, dumpTables, integrityCheck } from '../helpers/shadow.js';
import { syncOnceJson } from '../helpers/sync-once.js';
import type { SyncSummary } from '../helpers/sync-once.js';

const cleanups: (() => Promise<void>)[] = [];
let server: S3Server;
let prefixCount = 0;
before(async () => {
  server = await startS3Server((stop) => cleanups.push(stop));
});
after(() => Promise.all(cleanups.map((cleanup) => cleanup())));

function freshReplica(): string {
  return server.url(`it/${process.pid}-${++prefixCount}/app`);
}

async function cli(args: string[]) {
  return runCli(args, { env: server.env() });
}

async function syncTo(dbPath: string, replica: string, ...flags: string[]): Promise<SyncSummary> {
  return (await syncOnceJson(dbPath, { flags, replicas: [replica], env: server.env() })).summary;
}

async function appRowCount(app: App): Promise<number> {
  return (await app.query<{ n: number }>('SELECT count(*) AS n FROM t'))[0]!.n;
}

describe('S3 replica', () => {
  it('round trip while sync runs: inserts, updates, a schema change and a multi-MB blob across checkpoints restore row for row', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = freshReplica();
    const child = spawnCli(['sync', '--json', '--interval', '300ms', '--checkpoint-min-pages', '100', dbPath, replica], { env: server.env() });
    const done = collect(child);
    for (let round = 0; round < 6; round++) {
      await app.insert(60 + round, { size: 700, perTx: 3 });
      if (round === 2) await app.exec('ALTER TABLE t ADD COLUMN note TEXT; UPDATE t SET note = hex(id) WHERE id % 3 = 0;');
      if (round === 3) await app.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB); INSERT INTO blobs (data) VALUES (randomblob(3 * 1024 * 1024));');
      if (round === 4) await app.exec('DELETE FROM t WHERE id % 13 = 0;');
      await sleep(400);
    }
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const restarts = result.stdout.trim().split('\n').filter((line) => (JSON.parse(line) as SyncSummary).checkpoint?.restarted).length;
    assert.ok(restarts >= 2, `${restarts} walsync checkpoints`);
    const out = path.join(dir, 'restored.db');
    const restored = await cli(['restore', '-o', out, replica]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.equal(integrityCheck(out), 'ok');
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
    const verify = await cli(['verify', dbPath, '--replica', replica]);
    assert.equal(verify.code, 0, verify.stderr);
  });

  it('point in time: each recorded position restores, by --index and by --timestamp, to exactly the rows committed then', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = freshReplica();
    const moments: { at: string; count: number; index: number }[] = [];
    for (let round = 0; round < 6; round++) {
      await app.insert(15 + round, { size: 300, perTx: 3 });
      const summary = await syncTo(dbPath, replica, '--checkpoint-min-pages', '1');
      assert.equal(summary.checkpoint?.restarted, true);
      // S3 LastModified has whole seconds: moments must be further apart than that.
      await sleep(1100);
      moments.push({ at: new Date().toISOString(), count: await appRowCount(app), index: summary.index - 1 });
      await sleep(1100);
    }
    for (const [i, moment] of moments.slice(1).entries()) {
      const byTime = path.join(dir, `time-${i}.db`);
      const timed = await cli(['restore', '-o', byTime, '--timestamp', moment.at, replica]);
      assert.equal(timed.code, 0, timed.stderr);
      assert.equal((dumpTables(byTime).t ?? []).length, moment.count, `--timestamp ${moment.at}`);
      const byIndex = path.join(dir, `index-${i}.db`);
      const indexed = await cli(['restore', '-o', byIndex, '--index', String(moment.index), replica]);
      assert.equal(indexed.code, 0, indexed.stderr);
      assert.equal((dumpTables(byIndex).t ?? []).length, moment.count, `--index ${moment.index}`);
    }
  });

  it('a snapshot of a 70 MiB database goes up as a multipart upload and restores byte for byte', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = freshReplica();
    await app.exec('CREATE TABLE blobs (id INTEGER PRIMARY KEY, data BLOB)');
    for (let i = 0; i < 7; i++) await app.exec('INSERT INTO blobs (data) VALUES (randomblob(10 * 1024 * 1024))');
    await app.checkpoint('TRUNCATE');
    const snapshot = await cli(['snapshot', '--json', dbPath, replica]);
    assert.equal(snapshot.code, 0, snapshot.stderr);
    const { size } = JSON.parse(snapshot.stdout) as { size: number };
    assert.ok(size > 64 * 1024 * 1024, `snapshot object of ${size} bytes`);
    await app.insert(20, { size: 300 });
    await syncTo(dbPath, replica);
    const out = path.join(dir, 'restored.db');
    const restored = await cli(['restore', '-o', out, replica]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(dumpTables(out, { exclude: ['_walsync_seq'] }), dumpTables(dbPath, { exclude: ['_walsync_seq'] }));
    assert.equal(integrityCheck(out), 'ok');
  });

  it('a generation of more than 1000 segments lists, restores and is removed by retention through paginated listings', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = freshReplica();
    const env = server.env();
    // In process, as `walsync run` does: one sync per transaction, each shipping one segment.
    const ctx = await withEnv(env, () =>
      openJobContext(dbPath, { policy: DEFAULT_CHECKPOINT_POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: true, replicas: [{ location: replica }], lock: { role: 'one-shot', what: 'test' } }),
    );
    try {
      for (let round = 0; round < 1030; round++) {
        await app.insert(1, { size: 20 });
        await runSync(ctx);
      }
    } finally {
      await ctx.close();
    }
    const generation = await currentGeneration(dbPath);
    const listed = await cli(['wal', '--json', '--generation', generation, replica]);
    assert.equal(listed.code, 0, listed.stderr);
    const segments = JSON.parse(listed.stdout) as { index: string; offset: number }[];
    assert.ok(segments.length > 1000, `${segments.length} segments`);
    const positions = segments.map((s) => [Number.parseInt(s.index, 16), s.offset] as const);
    assert.deepEqual(positions, [...positions].sort((a, b) => a[0] - b[0] || a[1] - b[1]));
    const out = path.join(dir, 'restored.db');
    const restored = await cli(['restore', '-o', out, replica]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
    // A new snapshot, then retention 0: every index below the snapshot's goes, in batched deletes.
    const snapshot = await cli(['snapshot', '--json', dbPath, replica]);
    assert.equal(snapshot.code, 0, snapshot.stderr);
    const snapshotIndex = (JSON.parse(snapshot.stdout) as { index: number }).index;
    assert.ok(snapshotIndex >= 1, 'the generation went through a walsync checkpoint');
    const retention = await cli(['retention', '--json', '--retention', '0s', replica]);
    assert.equal(retention.code, 0, retention.stderr);
    const deleted = (JSON.parse(retention.stdout) as { deletedWalSegments: number }).deletedWalSegments;
    assert.ok(deleted > 900, `${deleted} segments deleted`);
    const left = await openReplica(replica, undefined, env).listWalSegments(generation);
    assert.deepEqual(left.filter((s) => s.index < snapshotIndex), []);
    assert.equal(left.length, segments.length - deleted);
    const again = path.join(dir, 'again.db');
    assert.equal((await cli(['restore', '-o', again, replica])).code, 0);
    assert.deepEqual(dumpTables(again), dumpTables(dbPath));
  });

  it('a missing bucket, bad credentials, an unreachable endpoint and malformed s3:// URLs are one line each with the right exit code', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(5);
    const endpoint = `endpoint=${encodeURIComponent(server.endpoint)}`;
    const cases: [string[], NodeJS.ProcessEnv, number, RegExp][] = [
      [['sync', '--once', dbPath, `s3://no-such-bucket/app?${endpoint}`], server.env(), 1, /^walsync: REPLICA_IO: s3:\/\/no-such-bucket\/app\/generations\/[0-9a-f]{16}\/: NoSuchBucket: .* \(HTTP 404\)$/],
      [['generations', `s3://walsync-test/app?${endpoint}`], { ...server.env(), WALSYNC_ACCESS_KEY_ID: 'nobody' }, 1, /^walsync: REPLICA_IO: s3:\/\/walsync-test\/app\/generations\/: InvalidAccessKeyId: .* \(HTTP 403\)$/],
      [['restore', '-o', path.join(dir, 'out.db'), 's3://walsync-test/app?endpoint=http://127.0.0.1:1'], server.env(), 1, /^walsync: REPLICA_IO: s3:\/\/walsync-test\/app\/generations\/: ECONNREFUSED \(.*\)$/],
      [['wal', 's3:///app'], server.env(), 2, /^walsync: USAGE: s3:\/\/\/app: no bucket \(use s3:\/\/bucket\/prefix/],
      [['wal', 's3://b/app?endpoint=localhost:9000'], server.env(), 2, /^walsync: USAGE: .*: endpoint: "localhost:9000" is not an http:\/\/ or https:\/\/ URL/],
      [['wal', 's3://b/app?force-path-style=maybe'], server.env(), 2, /^walsync: USAGE: .*: force-path-style=maybe is not true or false/],
      [['wal', 's3://b/app?bucket=c'], server.env(), 2, /^walsync: USAGE: .*: unknown parameter "bucket"/],
      [['sync', '--once', dbPath, 's3://key:secret@b/app'], server.env(), 2, /^walsync: USAGE: .*: credentials do not belong in the URL/],
    ];
    for (const [args, env, code, line] of cases) {
      const result = await runCli(args, { env });
      assert.equal(result.code, code, `${args.join(' ')}: ${result.stderr}`);
      const lines = errorLines(result.stderr);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, line);
      assert.doesNotMatch(result.stderr, /^\s+at /m);
    }
    // The missing bucket was not created on the way.
    const again = await cli(['generations', `s3://no-such-bucket/app?${endpoint}`]);
    assert.match(errorLines(again.stderr)[0]!, /NoSuchBucket/);
  });

  it('a config with a bad S3 replica is refused before anything starts, every problem on its own line (exit 2)', async (t) => {
    const { dir, dbPath } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const file = path.join(dir, 'walsync.yml');
    const config = ['dbs:', `  - path: ${dbPath}`, '    replicas:', '      - type: s3', '        endpoint: minio:9000', '        secret-access-key: ${NOT_SET}'];
    await fs.writeFile(file, config.join('\n'));
    const result = await runCli(['run', '--config', file]);
    assert.equal(result.code, 2, result.stderr);
    assert.deepEqual(errorLines(result.stderr), [
      'walsync: CONFIG_INVALID: walsync.yml: dbs[0].replicas[0].bucket: is missing (or url: s3://bucket/prefix)',
      'walsync: CONFIG_INVALID: walsync.yml: dbs[0].replicas[0].secret-access-key: ${NOT_SET} is not set in the environment',
      'walsync: CONFIG_INVALID: walsync.yml: dbs[0].replicas[0].endpoint: "minio:9000" is not an http:// or https:// URL',
    ]);
  });
});

/** Runs `work` with extra environment variables set (the in-process library reads credentials from there). */
async function withEnv<T>(env: NodeJS.ProcessEnv, work: () => Promise<T>): Promise<T> {
  const saved = { WALSYNC_ACCESS_KEY_ID: process.env.WALSYNC_ACCESS_KEY_ID, WALSYNC_SECRET_ACCESS_KEY: process.env.WALSYNC_SECRET_ACCESS_KEY };
  process.env.WALSYNC_ACCESS_KEY_ID = env.WALSYNC_ACCESS_KEY_ID;
  process.env.WALSYNC_SECRET_ACCESS_KEY = env.WALSYNC_SECRET_ACCESS_KEY;
  try {
    return await work();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
