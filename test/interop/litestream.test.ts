/**
 * walsync and the real Litestream 0.3.13 (LITESTREAM_BIN) restore each
 * other's replicas, next to a python3 app (another SQLite build) writing
 * the database: several generations, several WAL indexes made by each
 * tool's own checkpoints, a schema change, updates and deletes, a blob of
 * several MB; file replicas and S3 (s3rver) for walsync's side; and
 * replicas encrypted with age, each way.
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import type { App } from '../helpers/app.js';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import { startRun, signalAndWait } from '../helpers/daemon.js';
import { S3_TEST_BUCKET, S3_TEST_CREDENTIALS, startS3Server } from '../helpers/s3-server.js';
import type { S3Server } from '../helpers/s3-server.js';
import { dumpTables, integrityCheck } from '../helpers/shadow.js';

const litestream = path.resolve(process.env.LITESTREAM_BIN!);
const execFileAsync = promisify(execFile);

async function litestreamRestore(args: string[]): Promise<void> {
  await execFileAsync(litestream, ['restore', ...args], { timeout: 120_000 });
}

function assertSameDatabase(restored: string, expected: string): void {
  assert.equal(integrityCheck(restored), 'ok');
  assert.deepEqual(dumpTables(restored), dumpTables(expected));
}

/** What the app does to its database while a replicating tool runs: enough to fill several WAL indexes. */
async function busyWrites(app: App): Promise<void> {
  for (let round = 0; round < 6; round++) {
    await app.insert(40, { size: 2000, perTx: 4 });
    await sleep(300);
  }
}

async function schemaChangeAndBlob(app: App): Promise<void> {
  await app.exec("ALTER TABLE t ADD COLUMN note TEXT; CREATE INDEX t_note ON t(note); UPDATE t SET note = 'third' WHERE id % 3 = 0; DELETE FROM t WHERE id % 7 = 0;");
  await app.insert(1, { size: 3 * 1024 * 1024 });
}

async function generationsIn(replica: string, env?: NodeJS.ProcessEnv): Promise<{ generation: string; indexes: Set<string> }[]> {
  const wal = await runCli(['wal', '--json', replica], { env });
  assert.equal(wal.code, 0, wal.stderr);
  const byGeneration = new Map<string, Set<string>>();
  for (const segment of JSON.parse(wal.stdout) as { generation: string; index: string }[]) {
    if (!byGeneration.has(segment.generation)) byGeneration.set(segment.generation, new Set());
    byGeneration.get(segment.generation)!.add(segment.index);
  }
  return [...byGeneration].map(([generation, indexes]) => ({ generation, indexes }));
}

describe('walsync replicas restore with litestream restore', () => {
  /** Two walsync run sessions with the app checkpointing in between (a second generation), walsync checkpointing often (several indexes). */
  async function replicateWithWalsync(t: TestContext, replicaConfig: (dir: string) => string, env?: NodeJS.ProcessEnv): Promise<{ dir: string; dbPath: string }> {
    const { dir, dbPath, app } = await startAppInTempDir(t, { kind: 'python', autocheckpoint: 0 });
    const config = `dbs:\n  - path: ${dbPath}\n    checkpoint:\n      min-pages: 64\n    replicas:\n${replicaConfig(dir)}`;
    for (let session = 0; session < 2; session++) {
      const run = await startRun(dir, config, { env });
      await busyWrites(app);
      if (session === 0) await schemaChangeAndBlob(app);
      await busyWrites(app);
      const result = await signalAndWait(run.child, run.done);
      assert.equal(result.code, 0, result.stderr);
      if (session === 0) {
        // With walsync stopped, the app's own checkpoint restarts the WAL: the next run cannot continue the generation.
        await app.insert(20, { size: 500 });
        await app.checkpoint('TRUNCATE');
        await app.insert(20, { size: 500 });
      } else {
        assert.match(result.stderr, /new generation .*reason=/);
      }
    }
    await app.close();
    return { dir, dbPath };
  }

  it('file replica', async (t) => {
    const { dir, dbPath } = await replicateWithWalsync(t, (at) => `      - name: backup\n        path: ${path.join(at, 'replica')}\n        sync-interval: 1s\n`);
    const replica = path.join(dir, 'replica');
    const generations = await generationsIn(replica);
    assert.ok(generations.length >= 2, `${generations.length} generations`);
    assert.ok(generations.some((g) => g.indexes.size >= 3), JSON.stringify(generations.map((g) => [...g.indexes])));
    const out = path.join(dir, 'litestream-restored.db');
    await litestreamRestore(['-o', out, `file://${replica}`]);
    assertSameDatabase(out, dbPath);
  });

  it('S3 replica', async (t) => {
    const server = await startS3Server(t.after.bind(t));
    const prefix = 'interop/app';
    const env = server.env();
    const { dir, dbPath } = await replicateWithWalsync(t, () => `      - name: s3\n        url: ${server.url(prefix)}\n        sync-interval: 1s\n`, env);
    const replicaUrl = server.url(prefix);
    const generations = await generationsIn(replicaUrl, env);
    assert.ok(generations.length >= 2, `${generations.length} generations`);
    assert.ok(generations.some((g) => g.indexes.size >= 3), JSON.stringify(generations.map((g) => [...g.indexes])));
    await markGenerations(server, prefix, generations.map((g) => g.generation));
    const configPath = path.join(dir, 'litestream.yml');
    await fs.writeFile(configPath, litestreamS3Config(dbPath, server, prefix));
    const out = path.join(dir, 'litestream-restored.db');
    await litestreamRestore(['-config', configPath, '-o', out, dbPath]);
    assertSameDatabase(out, dbPath);
  });
});

describe('Litestream replicas restore with walsync restore', () => {
  it('to the latest state, to the end of a WAL index and to a moment, as litestream restore does', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { kind: 'python', autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const configPath = path.join(dir, 'litestream.yml');
    await fs.writeFile(configPath, `dbs:\n  - path: ${dbPath}\n    min-checkpoint-page-count: 64\n    replicas:\n      - url: file://${replica}\n        sync-interval: 500ms\n`);
    let moment: Date | undefined;
    for (let session = 0; session < 2; session++) {
      const replicate = spawn(litestream, ['replicate', '-config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
      const done = collect(replicate, 120_000);
      await sleep(1000);
      await busyWrites(app);
      if (session === 0) {
        await schemaChangeAndBlob(app);
        await sleep(1500);
        moment = new Date();
        await sleep(1500);
      }
      await busyWrites(app);
      await sleep(1500);
      replicate.kill('SIGTERM');
      const result = await done;
      assert.ok(result.code === 0 || result.signal === 'SIGTERM', result.stderr);
      if (session === 0) {
        await app.checkpoint('TRUNCATE');
        await app.insert(20, { size: 500 });
      }
    }
    await app.close();
    const generations = await generationsIn(replica);
    assert.ok(generations.length >= 2, `${generations.length} generations`);
    const older = generations.find((g) => g.indexes.size >= 3);
    assert.ok(older, `a generation with 3 or more indexes: ${JSON.stringify(generations.map((g) => [...g.indexes]))}`);

    const latest = path.join(dir, 'walsync-latest.db');
    const restored = await runCli(['restore', '-o', latest, replica]);
    assert.equal(restored.code, 0, restored.stderr);
    assertSameDatabase(latest, dbPath);

    const index = Number.parseInt([...older.indexes].sort()[1]!, 16);
    await bothAgree(dir, 'index', ['--generation', older.generation, '--index', String(index)], ['-generation', older.generation, '-index', String(index)], replica);
    const atMoment = await bothAgree(dir, 'timestamp', ['--timestamp', moment!.toISOString()], ['-timestamp', moment!.toISOString()], replica);
    assert.notDeepEqual(dumpTables(atMoment), dumpTables(dbPath), 'the moment is before the last writes');
  });
});

/** walsync restore and litestream restore of one point of a replica give the same database; returns walsync's. */
async function bothAgree(dir: string, name: string, walsyncArgs: string[], litestreamArgs: string[], replica: string): Promise<string> {
  const ours = path.join(dir, `walsync-${name}.db`);
  const theirs = path.join(dir, `litestream-${name}.db`);
  const restored = await runCli(['restore', '-o', ours, ...walsyncArgs, replica]);
  assert.equal(restored.code, 0, restored.stderr);
  await litestreamRestore(['-o', theirs, ...litestreamArgs, `file://${replica}`]);
  assertSameDatabase(ours, theirs);
  assert.ok((dumpTables(ours).t ?? []).length > 0);
  return ours;
}

function litestreamS3Config(dbPath: string, server: S3Server, prefix: string): string {
  return [
    'dbs:',
    `  - path: ${dbPath}`,
    '    replicas:',
    '      - type: s3',
    `        bucket: ${S3_TEST_BUCKET}`,
    `        path: ${prefix}`,
    `        endpoint: ${server.endpoint}`,
    '        region: us-east-1',
    '        force-path-style: true',
    `        access-key-id: ${S3_TEST_CREDENTIALS.accessKeyId}`,
    `        secret-access-key: ${S3_TEST_CREDENTIALS.secretAccessKey}`,
    '',
  ].join('\n');
}

/**
 * s3rver (3.7.1) answers a delimiter listing of `generations/` without
 * CommonPrefixes unless an object sits directly under `generations/<id>/`,
 * so Litestream would find no generation there; a real S3 does not need this.
 */
async function markGenerations(server: S3Server, prefix: string, generations: string[]): Promise<void> {
  const client = new S3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, credentials: S3_TEST_CREDENTIALS });
  for (const generation of generations) {
    await client.send(new PutObjectCommand({ Bucket: S3_TEST_BUCKET, Key: `${prefix}/generations/${generation}/marker`, Body: '' }));
  }
  client.destroy();
}

describe('age-encrypted replicas, both ways', () => {
  async function keys(dir: string): Promise<{ identity: string; recipient: string; file: string }> {
    const identity = await generateX25519Identity();
    const file = path.join(dir, 'age.key');
    await fs.writeFile(file, `${identity}\n`, { mode: 0o600 });
    return { identity, recipient: await identityToRecipient(identity), file };
  }

  function ageConfig(dbPath: string, replica: string, key: { identity: string; recipient: string }, extra = ''): string {
    return [
      'dbs:',
      `  - path: ${dbPath}`,
      extra,
      '    replicas:',
      `      - url: file://${replica}`,
      '        sync-interval: 500ms',
      '        age:',
      `          recipients: [${key.recipient}]`,
      `          identities: ["${key.identity}"]`,
      '',
    ]
      .filter((line) => line !== '')
      .join('\n');
  }

  it('a walsync replica encrypted with age restores with litestream restore and the same identity', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { kind: 'python', autocheckpoint: 0 });
    const key = await keys(dir);
    const replica = path.join(dir, 'replica');
    const run = await startRun(dir, `${ageConfig(dbPath, replica, key, '    checkpoint:\n      min-pages: 64')}\n`);
    await busyWrites(app);
    await schemaChangeAndBlob(app);
    await busyWrites(app);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    const configPath = path.join(dir, 'litestream.yml');
    await fs.writeFile(configPath, ageConfig(dbPath, replica, key));
    const out = path.join(dir, 'litestream-restored.db');
    await litestreamRestore(['-config', configPath, '-o', out, dbPath]);
    assertSameDatabase(out, dbPath);
  });

  it('a Litestream replica encrypted with age restores with walsync restore --age-identity', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { kind: 'python', autocheckpoint: 0 });
    const key = await keys(dir);
    const replica = path.join(dir, 'replica');
    const configPath = path.join(dir, 'litestream.yml');
    await fs.writeFile(configPath, ageConfig(dbPath, replica, key, '    min-checkpoint-page-count: 64'));
    const replicate = spawn(litestream, ['replicate', '-config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(replicate, 120_000);
    await sleep(1000);
    await busyWrites(app);
    await schemaChangeAndBlob(app);
    await busyWrites(app);
    await sleep(1500);
    replicate.kill('SIGTERM');
    const result = await done;
    assert.ok(result.code === 0 || result.signal === 'SIGTERM', result.stderr);
    const out = path.join(dir, 'walsync-restored.db');
    const restored = await runCli(['restore', '-o', out, '--age-identity', key.file, replica]);
    assert.equal(restored.code, 0, restored.stderr);
    assertSameDatabase(out, dbPath);
  });
});

describe('walsync restore --follow on a replica Litestream writes', () => {
  /** The app's rows: Litestream writes its own `_litestream_seq` into the primary whenever it checkpoints, shipped only with its next segment. */
  function appRows(dbPath: string): string {
    return JSON.stringify(dumpTables(dbPath, { exclude: ['_litestream_seq', '_litestream_lock'] }));
  }

  /** Whether the standby holds the primary's rows (not while it is still missing or being swapped in). */
  function standbyEquals(out: string, expected: string): boolean {
    try {
      return appRows(out) === expected;
    } catch {
      return false;
    }
  }

  it('keeps a standby of it current, across Litestream checkpoints into new WAL indexes', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { kind: 'python', autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const configPath = path.join(dir, 'litestream.yml');
    await fs.writeFile(
      configPath,
      `dbs:\n  - path: ${dbPath}\n    monitor-interval: 100ms\n    min-checkpoint-page-count: 64\n    replicas:\n      - url: file://${replica}\n        sync-interval: 100ms\n`,
    );
    const replicate = spawn(litestream, ['replicate', '-config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    const replicated = collect(replicate, 300_000);
    t.after(() => replicate.kill('SIGKILL'));
    let litestreamLog = '';
    for (const stream of [replicate.stdout, replicate.stderr]) stream.on('data', (chunk: Buffer) => (litestreamLog += chunk.toString()));
    await app.insert(50, { size: 500, perTx: 10 });
    for (let waited = 0; (await fs.readdir(replica).catch(() => [])).length === 0 && waited < 100; waited++) await sleep(100);
    const out = path.join(dir, 'standby.db');
    const follower = spawnCli(['restore', '--follow', '--json', '--follow-interval', '200ms', '-o', out, replica]);
    const followed = collect(follower, 300_000);
    t.after(() => follower.kill('SIGKILL'));
    for (let round = 0; round < 3; round++) {
      await busyWrites(app);
      if (round === 1) await schemaChangeAndBlob(app);
      const expected = appRows(dbPath);
      let same = false;
      for (let waited = 0; !same && waited < 300; waited++) {
        await sleep(100);
        same = standbyEquals(out, expected);
      }
      if (!same) {
        // Tells a follower that fell behind from a Litestream that did not ship.
        const shipped = path.join(dir, `shipped-${round}.db`);
        await litestreamRestore(['-o', shipped, `file://${replica}`]);
        assert.fail(`round ${round}: the standby did not catch up in 30 s; Litestream's own restore of its replica ${appRows(shipped) === expected ? 'holds' : 'does not hold'} the primary's rows; its log: ${litestreamLog.slice(-3000)}`);
      }
    }
    const stopped = await signalAndWait(follower, followed);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(integrityCheck(out), 'ok');
    const indexes = new Set(stopped.stdout.trim().split('\n').map((line) => (JSON.parse(line) as { index: number }).index));
    assert.ok(indexes.size >= 2, `followed across WAL indexes: ${[...indexes].join(', ')}`);
    replicate.kill('SIGTERM');
    await replicated;
  });
});
