/**
 * `walsync run --exec`: walsync as the app's parent, as the one process a
 * container starts (real processes: walsync, the app it starts, and a new
 * PID namespace for the PID 1 case).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { cliPath, collect, errorLines, runCli } from '../helpers/cli.js';
import { configFor, restoreEquals, startRun, signalAndWait, waitFor, processesOf } from '../helpers/daemon.js';
import type { ExecAppOptions } from '../helpers/exec-app.js';
import { dumpTables } from '../helpers/shadow.js';
import { tempDir } from '../helpers/tmp.js';
import { zombieChildrenOf } from '../../src/proc/processes.js';

const execApp = fileURLToPath(new URL('../helpers/exec-app.js', import.meta.url));

function execCommand(options: ExecAppOptions): string {
  return `${process.execPath} ${execApp} '${JSON.stringify(options)}'`;
}

/** A database in WAL mode with a few rows, made before walsync starts. */
function makeDatabase(dbPath: string, rows = 3): void {
  const db = new Database(dbPath);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)');
  for (let i = 0; i < rows; i++) db.prepare('INSERT INTO notes (body) VALUES (?)').run(`before ${i}`);
  db.close();
}

function rowsOf(dbPath: string): string[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return (db.prepare('SELECT body FROM notes ORDER BY id').all() as { body: string }[]).map((row) => row.body);
  } finally {
    db.close();
  }
}

async function setUp(t: TestContext, rows = 3): Promise<{ dir: string; dbPath: string; replica: string; startedFile: string }> {
  const dir = tempDir(t);
  const dbPath = path.join(dir, 'app.db');
  if (rows >= 0) makeDatabase(dbPath, rows);
  return { dir, dbPath, replica: path.join(dir, 'replica'), startedFile: path.join(dir, 'app-started.json') };
}

describe('walsync run --exec', () => {
  it("exits with the app's exit code once the app exits, with the app's last commits in the replica", async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t);
    const run = await startRun(dir, configFor(dbPath, replica), { args: ['--exec', execCommand({ dbPath, startedFile, exitAfterMs: 2500, exitCode: 3 })] });
    const result = await run.done;
    assert.equal(result.code, 3, result.stderr);
    assert.match(result.stderr, /INFO app exited pid=\d+ code=3/);
    assert.match(result.stderr, /INFO final sync /);
    assert.equal(rowsOf(dbPath).at(-1), 'last');
    await restoreEquals(dir, replica, dbPath);
  });

  it('passes SIGTERM to the app, and exits 0 with every commit the app made before exiting in the replica', async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t);
    const run = await startRun(dir, configFor(dbPath, replica), { args: ['--exec', execCommand({ dbPath, startedFile })] });
    await waitFor('the app to start', () => fs.stat(startedFile).then(() => true, () => false));
    await sleep(1500);
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /INFO passing signal to the app signal=SIGTERM/);
    assert.deepEqual(await processesOf(dir), [], 'no walsync left');
    assert.deepEqual(await processesOf(dir, /exec-app\.js$/), [], 'no app left');
    assert.equal(rowsOf(dbPath).at(-1), 'last');
    assert.ok(rowsOf(dbPath).length > 10);
    await restoreEquals(dir, replica, dbPath);
  });

  it('exits 128 + the signal when the signal ended the app', async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t);
    const run = await startRun(dir, configFor(dbPath, replica), { args: ['--exec', execCommand({ dbPath, startedFile, noTermHandler: true })] });
    await waitFor('the app to start', () => fs.stat(startedFile).then(() => true, () => false));
    const result = await signalAndWait(run.child, run.done);
    assert.equal(result.code, 143, result.stderr);
    await restoreEquals(dir, replica, dbPath);
  });

  it('takes exec: from the config file, and refuses shell syntax in it with one line (exit 2)', async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t);
    const file = path.join(dir, 'walsync.yml');
    await fs.writeFile(file, `exec: "${execCommand({ dbPath, startedFile, exitAfterMs: 500, exitCode: 5 }).replaceAll('"', '\\"')}"\n${configFor(dbPath, replica)}`);
    const result = await runCli(['run', '--config', file]);
    assert.equal(result.code, 5, result.stderr);
    await fs.writeFile(file, `exec: "node app.js | tee app.log"\n${configFor(dbPath, replica)}`);
    const refused = await runCli(['run', '--config', file]);
    assert.equal(refused.code, 2);
    assert.deepEqual(errorLines(refused.stderr), [`walsync: USAGE: ${file}: exec: "|" is shell syntax, which is not run through a shell; use sh -c '…' for that`]);
  });

  it('an app that cannot be started: one line, exit 2, and the databases are let go', async (t) => {
    const { dir, dbPath, replica } = await setUp(t);
    const result = await runCli(['run', '--config', await writeConfig(dir, configFor(dbPath, replica)), '--exec', path.join(dir, 'no-such-app')]);
    assert.equal(result.code, 2, result.stderr);
    assert.match(errorLines(result.stderr).join('\n'), /^walsync: USAGE: exec: \S+no-such-app: cannot start: spawn \S+ ENOENT$/);
    const again = await runCli(['sync', '--once', dbPath, replica]);
    assert.equal(again.code, 0, again.stderr);
  });

  it('as PID 1 in a new PID namespace, reaps the orphans the app leaves and stops on SIGTERM', async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t);
    const file = await writeConfig(dir, configFor(dbPath, replica));
    const launcher = spawn('unshare', ['--pid', '--fork', '--mount-proc', process.execPath, cliPath, 'run', '--config', file, '--exec', execCommand({ dbPath, startedFile, orphan: true })], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const done = collect(launcher, 60_000);
    await waitFor('the app to start', () => fs.stat(startedFile).then(() => true, () => false));
    const walsyncPid = Number((await fs.readFile(`/proc/${launcher.pid}/task/${launcher.pid}/children`, 'utf8')).trim());
    assert.ok(walsyncPid > 0);
    // Killing PID 1 ends every process of the namespace, should an assertion below fail.
    t.after(() => void (launcher.exitCode === null && process.kill(walsyncPid, 'SIGKILL')));
    // The orphan exits 0.3 s after the app starts; its zombie would stay walsync's child from then on.
    await sleep(2000);
    assert.deepEqual(await zombieChildrenOf(walsyncPid), []);
    process.kill(walsyncPid, 'SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /INFO running as PID 1: reaping orphaned processes/);
    assert.match(result.stderr, /INFO passing signal to the app signal=SIGTERM/);
    await restoreEquals(dir, replica, dbPath);
  });
});

describe('walsync run --restore-if-db-not-exists', () => {
  it('restores a missing database from its replica before the app starts', async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t, 25);
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    const before = dumpTables(dbPath);
    await removeDatabase(dbPath);
    const run = await startRun(dir, configFor(dbPath, replica), {
      args: ['--restore-if-db-not-exists', '--exec', execCommand({ dbPath, startedFile, exitAfterMs: 1500 })],
    });
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(await fs.readFile(startedFile, 'utf8')) as { rowsAtStart: number }).rowsAtStart, 25);
    assert.ok(result.stderr.indexOf('database restored before start') < result.stderr.indexOf('app started'), result.stderr);
    assert.deepEqual(rowsOf(dbPath).slice(0, 25), (before.notes as { body: string }[]).map((row) => row.body));
    await restoreEquals(dir, replica, dbPath);
  });

  it('with dbs[].restore-if-db-not-exists and an empty replica, starts fresh: the app creates the database and walsync backs it up', async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t, -1);
    const config = configFor(dbPath, replica).replace(`  - path: ${dbPath}\n`, `  - path: ${dbPath}\n    restore-if-db-not-exists: true\n`);
    const run = await startRun(dir, config, { args: ['--exec', execCommand({ dbPath, startedFile, exitAfterMs: 2500 })], ready: /app started/ });
    const result = await run.done;
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stderr, /no replica has a backup; starting fresh/);
    assert.match(result.stderr, /database does not exist yet; waiting for the app to create it/);
    assert.equal((JSON.parse(await fs.readFile(startedFile, 'utf8')) as { rowsAtStart: number }).rowsAtStart, 0);
    await restoreEquals(dir, replica, dbPath);
  });

  it('a corrupt replica stops walsync with one line before the app starts', async (t) => {
    const { dir, dbPath, replica, startedFile } = await setUp(t, 25);
    assert.equal((await runCli(['sync', '--once', dbPath, replica])).code, 0);
    await removeDatabase(dbPath);
    const [snapshot] = (await fs.readdir(replica, { recursive: true })).filter((name) => String(name).endsWith('.snapshot.lz4'));
    const snapshotPath = path.join(replica, String(snapshot));
    const bytes = await fs.readFile(snapshotPath);
    bytes.fill(0x55, 20, bytes.length - 8);
    await fs.writeFile(snapshotPath, bytes);
    const result = await runCli(['run', '--config', await writeConfig(dir, configFor(dbPath, replica)), '--restore-if-db-not-exists', '--exec', execCommand({ dbPath, startedFile })]);
    assert.equal(result.code, 1, result.stderr);
    const lines = errorLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, /^walsync: REPLICA_CORRUPT: \S+app\.db: restore from replica backup failed, so nothing was started: /);
    await assert.rejects(fs.stat(startedFile), 'the app never started');
    await assert.rejects(fs.stat(dbPath), 'no half-restored database');
  });
});

async function writeConfig(dir: string, config: string): Promise<string> {
  const file = path.join(dir, 'walsync.yml');
  await fs.writeFile(file, config);
  return file;
}

async function removeDatabase(dbPath: string): Promise<void> {
  for (const suffix of ['', '-wal', '-shm']) await fs.rm(`${dbPath}${suffix}`, { force: true });
}
