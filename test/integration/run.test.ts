/**
 * `walsync run`: the job runner next to a live app, with real processes and
 * real time (no fake clocks).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startApp, startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { configFor, freePort, restoreEquals, startRun, signalAndWait, waitFor, writeFor } from '../helpers/daemon.js';
import { defaultMetaDir } from '../../src/layout.js';

describe('walsync run', () => {
  it('runs 60 s next to an app with SQLite\'s default autocheckpoint in one generation; SIGTERM exits 0 with the last commits replicated', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t);
    const replica = path.join(dir, 'replica');
    const { child, done } = await startRun(dir, configFor(dbPath, replica));
    const commits = await writeFor(app, 61_000);
    const result = await signalAndWait(child, done);
    assert.equal(result.code, 0, result.stderr);
    assert.ok(commits > 1000, `${commits} commits`);
    const generations = new Set([...result.stderr.matchAll(/generation=([0-9a-f]{16})/g)].map((m) => m[1]));
    assert.equal(generations.size, 1, `one generation: ${[...generations].join(', ')}`);
    assert.match(result.stderr, /INFO snapshot .*index=/);
    assert.match(result.stderr, /INFO final sync /);
    await restoreEquals(dir, replica, dbPath);
  });

  it('refuses a second run on the same database with one line, exit 1', async (t) => {
    const { dir, dbPath } = await startAppInTempDir(t);
    const replica = path.join(dir, 'replica');
    const first = await startRun(dir, configFor(dbPath, replica));
    const second = await runCli(['run', '--config', path.join(dir, 'walsync.yml')]);
    assert.equal(second.code, 1);
    assert.deepEqual(errorLines(second.stderr).length, 1, second.stderr);
    assert.match(errorLines(second.stderr)[0]!, /^walsync: LOCKED: .*app\.db: another walsync run \(pid \d+\) already syncs this database/);
    const result = await signalAndWait(first.child, first.done);
    assert.equal(result.code, 0);
    assert.doesNotMatch(result.stderr, /below normal CPU priority/);
  });

  it('says in one warning line that it runs below normal CPU priority, and runs', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t);
    const replica = path.join(dir, 'replica');
    const run = await startRun(dir, configFor(dbPath, replica), { nice: 10 });
    await writeFor(app, 1500);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    const warnings = result.stderr.split('\n').filter((line) => /below normal CPU priority/.test(line));
    assert.equal(warnings.length, 1, result.stderr);
    assert.match(warnings[0]!, /WARN walsync runs below normal CPU priority; .* run it at nice 0 nice=10$/);
    await restoreEquals(dir, replica, dbPath);
  });

  it('refuses one-shot sync, snapshot and verify beside a running run (one line each, exit 1), and they work again once it stops', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const run = await startRun(dir, configFor(dbPath, replica));
    await writeFor(app, 1500);
    for (const args of [
      ['sync', '--once', dbPath, replica],
      ['snapshot', dbPath, replica],
      ['verify', dbPath, '--replica', replica],
    ]) {
      const result = await runCli(args);
      assert.equal(result.code, 1, `${args[0]}: ${result.stderr}`);
      assert.deepEqual(errorLines(result.stderr).length, 1, result.stderr);
      assert.match(errorLines(result.stderr)[0]!, /^walsync: LOCKED: .*app\.db: another walsync run \(pid \d+\) already syncs this database .*stop it first/);
    }
    await writeFor(app, 1000);
    await sleep(1500);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    const after = await runCli(['sync', '--once', dbPath, replica]);
    assert.equal(after.code, 0, after.stderr);
    await restoreEquals(dir, replica, dbPath);
  });

  it('a failing job is logged, counted and retried; the daemon keeps running and catches up when the replica returns', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const run = await startRun(dir, configFor(dbPath, replica));
    await writeFor(app, 2000);
    await fs.rename(replica, `${replica}.away`);
    await fs.writeFile(replica, 'the backup disk is gone');
    await writeFor(app, 4000);
    assert.match(run.stderr(), /ERROR job failed db=\S+ job=sync replica=backup failures=2 .*code=REPLICA_IO/);
    const status = await runCli(['status', '--json', '--config', path.join(dir, 'walsync.yml')]);
    const [report] = JSON.parse(status.stdout) as { running: boolean; jobs: Record<string, { failures: number; lastError?: unknown }> }[];
    assert.equal(report!.running, true);
    assert.ok(report!.jobs['sync:backup']!.failures >= 2);
    await fs.rm(replica);
    await fs.rename(`${replica}.away`, replica);
    await writeFor(app, 3000);
    await sleep(2500);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    await restoreEquals(dir, replica, dbPath);
  });

  it('a status file it cannot write is one warning line; the daemon keeps syncing and exits 0', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    // A directory where the status file's temp copy goes: every write of the status file fails.
    await fs.mkdir(path.join(defaultMetaDir(dbPath), 'status.json.tmp'), { recursive: true });
    const run = await startRun(dir, configFor(dbPath, replica));
    await writeFor(app, 3500);
    assert.equal(run.child.exitCode, null, `the daemon stopped: ${run.stderr()}`);
    assert.match(run.stderr(), /WARN status file not written db=\S+ file=\S+status\.json error=.*EISDIR/);
    assert.equal(run.stderr().match(/status file not written/g)!.length, 1, 'a lasting failure is said once');
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    await restoreEquals(dir, replica, dbPath);
  });

  it('status --json, while run is running, reports the positions the replica listing shows', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const run = await startRun(dir, configFor(dbPath, replica));
    await writeFor(app, 3000);
    // Let the 1 s sync ship the last commits, then compare both views of an idle database.
    await sleep(2500);
    const status = await runCli(['status', '--json', '--config', path.join(dir, 'walsync.yml')]);
    assert.equal(status.code, 0, status.stderr);
    const [report] = JSON.parse(status.stdout) as { running: boolean; generationId: string; position: string; replicas: { name: string; position: string; lagBytes: number }[] }[];
    const listing = await runCli(['wal', '--json', replica]);
    const segments = JSON.parse(listing.stdout) as { generation: string; index: string; offset: number }[];
    const last = segments.at(-1)!;
    const lastName = `${last.index}_${last.offset.toString(16).padStart(8, '0')}.wal.lz4`;
    const lastLength = execFileSync('lz4', ['-d', '-c', path.join(replica, 'generations', last.generation, 'wal', lastName)], { maxBuffer: 256 * 1024 * 1024 }).length;
    const listed = `${last.generation}/${last.index}:${last.offset + lastLength}`;
    assert.equal(report!.running, true);
    assert.equal(report!.generationId, last.generation);
    assert.deepEqual(report!.replicas.map((r) => [r.name, r.position, r.lagBytes]), [['backup', listed, 0]]);
    assert.equal(report!.position, listed, 'the shadow and the replica end at the same position');
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
  });

  it('keeps the shadow WAL a second replica still lacks while the first moves on, so the second catches up with no gap', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const first = path.join(dir, 'first');
    const second = path.join(dir, 'second');
    const replicaLines = (name: string, where: string) => [`      - name: ${name}`, `        path: ${where}`, '        sync-interval: 1s', '        snapshot-interval: 24h'];
    const config = ['dbs:', `  - path: ${dbPath}`, '    checkpoint:', '      min-pages: 40', '    replicas:', ...replicaLines('first', first), ...replicaLines('second', second)].join('\n');
    const run = await startRun(dir, config);
    await writeFor(app, 2000);
    await fs.rename(second, `${second}.away`);
    await fs.writeFile(second, 'the second backup disk is gone');
    // Several checkpoints, each starting a new WAL index that only the first replica receives.
    await writeFor(app, 5000);
    assert.match(run.stderr(), /ERROR job failed db=\S+ job=sync replica=second/);
    assert.match(run.stderr(), /INFO checkpoint .*restarted=true/);
    await fs.rm(second);
    await fs.rename(`${second}.away`, second);
    await writeFor(app, 1000);
    await sleep(4000);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /shadow WAL missing for replica/);
    await restoreEquals(dir, first, dbPath);
    await restoreEquals(dir, second, dbPath);
  });

  it('keeps syncing its other databases while one app holds its write lock for seconds', async (t) => {
    const { dir, dbPath: busyPath, app: busyApp } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const otherPath = path.join(dir, 'other.db');
    const otherApp = await startApp({ dbPath: otherPath, autocheckpoint: 0 });
    t.after(() => otherApp.close());
    await otherApp.insert(5);
    const otherReplica = path.join(dir, 'other-replica');
    const config = [
      'dbs:',
      `  - path: ${busyPath}`,
      '    busy-timeout: 20s',
      '    replicas:',
      `      - path: ${path.join(dir, 'busy-replica')}`,
      '        sync-interval: 1s',
      `  - path: ${otherPath}`,
      '    replicas:',
      `      - path: ${otherReplica}`,
      '        sync-interval: 1s',
    ].join('\n');
    const run = await startRun(dir, config);
    await sleep(2000);
    // A commit first, so the next sync of the busy database has something to copy and needs its write lock.
    await busyApp.insert(5);
    await busyApp.beginHold(10);
    // By now that sync waits for the lock.
    await sleep(1500);
    const heldSince = Date.now();
    await otherApp.insert(7);
    await sleep(2500);
    const segmentTimes = await walSegmentMtimes(otherReplica);
    assert.ok(
      segmentTimes.some((mtimeMs) => mtimeMs > heldSince),
      `no WAL segment reached the other database's replica while the busy one waited for its lock: ${run.stderr()}`,
    );
    await busyApp.commitHold();
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    await restoreEquals(dir, otherReplica, otherPath);
    await restoreEquals(dir, path.join(dir, 'busy-replica'), busyPath);
  });

  it('skips the ticks of a job that overruns instead of starting it twice', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(25_000, { size: 4000, perTx: 500 });
    const replica = path.join(dir, 'replica');
    const run = await startRun(dir, configFor(dbPath, replica, '        verify-interval: 500ms'));
    await sleep(8000);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /WARN job still running; tick skipped db=\S+ job=(verify|sync|snapshot)/);
    assert.doesNotMatch(result.stderr, /ERROR/);
  });

  it('reports every config problem at once, each naming file and key, exit 2', async (t) => {
    const { dir } = await startAppInTempDir(t);
    const file = path.join(dir, 'bad.yml');
    await fs.writeFile(file, 'dbs:\n  - path: /x.db\n    replicas:\n      - path: /r\n        retention: 2x\n        snapshot-interval: "every day"\n    bogus: 1\n');
    const result = await runCli(['run', '--config', file]);
    assert.equal(result.code, 2);
    assert.deepEqual(errorLines(result.stderr), [
      'walsync: CONFIG_INVALID: bad.yml: dbs[0].bogus: unknown key (known: path, meta-path, busy-timeout, checkpoint, replicas, restore-if-db-not-exists, dir, pattern, recursive, watch)',
      errorLines(result.stderr)[1]!,
      'walsync: CONFIG_INVALID: bad.yml: dbs[0].replicas[0].retention: "2x" is not a duration (e.g. 1s, 10m, 24h)',
    ]);
    assert.match(errorLines(result.stderr)[1]!, /^walsync: CONFIG_INVALID: bad\.yml: dbs\[0\]\.replicas\[0\]\.snapshot-interval: "every day" is neither a duration nor a cron expression/);
    const missing = await runCli(['run'], { cwd: dir, env: { ...process.env, WALSYNC_CONFIG: '' } });
    assert.equal(missing.code, 2);
  });

  it('SIGHUP with an invalid config keeps the old one running', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const run = await startRun(dir, configFor(dbPath, replica));
    await fs.writeFile(path.join(dir, 'walsync.yml'), 'dbs: 3\n');
    run.child.kill('SIGHUP');
    await sleep(500);
    await writeFor(app, 2500);
    assert.match(run.stderr(), /ERROR config reload refused; the old config keeps running problem="walsync\.yml: dbs: must list at least one database"/);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    await restoreEquals(dir, replica, dbPath);
  });

  it('serves Prometheus metrics at addr', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const replica = path.join(dir, 'replica');
    const port = 20_000 + (process.pid % 20_000);
    const run = await startRun(dir, `addr: 127.0.0.1:${port}\n${configFor(dbPath, replica)}`);
    await writeFor(app, 2500);
    const response = await fetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(response.status, 200);
    const text = await response.text();
    for (const name of ['walsync_db_size_bytes', 'walsync_wal_size_bytes', 'walsync_shadow_wal_index', 'walsync_shadow_wal_size_bytes', 'walsync_sync_seconds', 'walsync_replica_wal_offset', 'walsync_replica_operation_bytes']) {
      assert.match(text, new RegExp(`^${name}\\{db="[^"]*app\\.db"`, 'm'), name);
    }
    const syncs = Number(/^walsync_sync_count\{db="[^"]+"\} (\d+)$/m.exec(text)?.[1]);
    assert.ok(syncs >= 2, `${syncs} syncs counted`);
    assert.match(text, /^walsync_job_runs_total\{db="[^"]+",job="sync",replica="backup",outcome="ok"\} \d+$/m);
    const puts = Number(/^walsync_replica_requests_total\{db="[^"]+",replica="backup",operation="PUT"\} (\d+)$/m.exec(text)?.[1]);
    assert.ok(puts >= 2, `${puts} PUTs counted (a snapshot and segments)`);
    assert.match(text, /^walsync_replica_transfer_bytes_total\{db="[^"]+",replica="backup",direction="up"\} [1-9]\d*$/m);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
  });

  it('keeps an idle database healthy past max-lag: a tick with no change reported proves the replica holds everything', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const port = await freePort();
    const run = await startRun(dir, `addr: 127.0.0.1:${port}\nhealth:\n  max-lag: 2s\n${configFor(dbPath, path.join(dir, 'replica'))}`);
    await app.insert(10);
    await waitFor('a healthy replica', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200);
    await sleep(5000);
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200, await health.text());
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /replica late/);
  });

  it('with metrics.per-db: false, sums the series under db="*" and names no database', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const port = await freePort();
    const run = await startRun(dir, `addr: 127.0.0.1:${port}\nmetrics:\n  per-db: false\n${configFor(dbPath, path.join(dir, 'replica'))}`);
    await writeFor(app, 2500);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.ok(Number(/^walsync_sync_count\{db="\*"\} (\d+)$/m.exec(text)?.[1]) >= 2, text);
    assert.match(text, /^walsync_job_runs_total\{db="\*",job="sync",replica="backup",outcome="ok"\} \d+$/m);
    assert.match(text, /^walsync_replica_lag_seconds\{db="\*",replica="\*"\} [\d.]+$/m);
    assert.doesNotMatch(text, /app\.db/, 'no series names the database');
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
  });
});

async function walSegmentMtimes(replicaDir: string): Promise<number[]> {
  const entries = await fs.readdir(replicaDir, { recursive: true, withFileTypes: true });
  const segments = entries.filter((entry) => entry.isFile() && entry.name.endsWith('.wal.lz4'));
  return Promise.all(segments.map(async (entry) => (await fs.stat(path.join(entry.parentPath ?? entry.path, entry.name))).mtimeMs));
}
