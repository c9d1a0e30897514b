/**
 * One walsync process at a time per database: one-shots are refused beside
 * any other holder, a daemon waits for a one-shot, and a holder that dies
 * leaves no lock behind. The other holder is a real separate process.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { acquireDbLock, HOLDER_FILE_NAME } from '../../src/db/db-lock.js';
import { defaultMetaDir } from '../../src/layout.js';
import { silentLogger } from '../../src/log.js';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, errorLines, runCli, spawnCli } from '../helpers/cli.js';

const holderScript = fileURLToPath(new URL('../helpers/lock-holder.js', import.meta.url));

interface Holder {
  readonly child: ChildProcessWithoutNullStreams;
  release(): Promise<void>;
}

async function holdLock(t: TestContext, dbPath: string, role: string, what: string): Promise<Holder> {
  const child = spawn(process.execPath, [holderScript, defaultMetaDir(dbPath), dbPath, role, what], { stdio: 'pipe' });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  for (let i = 0; i < 100 && !output.includes('held'); i++) await sleep(50);
  assert.match(output, /held/);
  return {
    child,
    async release() {
      child.stdin.write('release\n');
      await exited;
    },
  };
}

describe('one walsync process per database', () => {
  it('refuses a one-shot while another one-shot works on the database, in one line naming it (exit 1); it runs once that one ends', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t);
    await app.insert(10);
    const holder = await holdLock(t, dbPath, 'one-shot', 'snapshot');
    for (const args of [['sync', '--once', dbPath], ['snapshot', dbPath, path.join(path.dirname(dbPath), 'replica')]]) {
      const refused = await runCli(args);
      assert.equal(refused.code, 1, refused.stderr);
      const lines = errorLines(refused.stderr);
      assert.equal(lines.length, 1, refused.stderr);
      assert.match(lines[0]!, new RegExp(`^walsync: LOCKED: .*app\\.db: another walsync snapshot \\(pid ${holder.child.pid}\\) is working on this database \\(.*lock\\); run this again once it has finished$`));
    }
    await holder.release();
    const synced = await runCli(['sync', '--once', dbPath]);
    assert.equal(synced.code, 0, synced.stderr);
  });

  it('leaves no lock behind a holder killed with SIGKILL', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t);
    await app.insert(10);
    const holder = await holdLock(t, dbPath, 'one-shot', 'sync --once');
    holder.child.kill('SIGKILL');
    await new Promise((resolve) => holder.child.once('exit', resolve));
    const stale = JSON.parse(await fs.readFile(path.join(defaultMetaDir(dbPath), HOLDER_FILE_NAME), 'utf8')) as { pid: number };
    assert.equal(stale.pid, holder.child.pid, 'the dead holder is still named on disk');
    const synced = await runCli(['sync', '--once', dbPath]);
    assert.equal(synced.code, 0, synced.stderr);
  });

  it('walsync run waits for a one-shot to finish, saying so once, then starts', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t);
    await app.insert(10);
    const holder = await holdLock(t, dbPath, 'one-shot', 'sync --once');
    const config = path.join(dir, 'walsync.yml');
    await fs.writeFile(config, `dbs:\n  - path: ${dbPath}\n    replicas:\n      - path: ${path.join(dir, 'replica')}\n`);
    const run = spawnCli(['run', '--config', config]);
    t.after(() => run.kill('SIGKILL'));
    let stderr = '';
    run.stderr!.on('data', (chunk) => (stderr += chunk));
    const done = collect(run, 60_000);
    for (let i = 0; i < 100 && !/waiting for another walsync process/.test(stderr); i++) await sleep(50);
    await sleep(600);
    assert.match(stderr, new RegExp(`INFO waiting for another walsync process to finish with this database db=\\S+app\\.db pid=${holder.child.pid} holder="sync --once"`));
    assert.doesNotMatch(stderr, /runner started/);
    await holder.release();
    for (let i = 0; i < 100 && !/runner started/.test(stderr); i++) await sleep(50);
    assert.match(stderr, /runner started/);
    assert.equal(stderr.match(/waiting for another walsync process/g)!.length, 1);
    run.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
  });

  it('refuses a second holder inside the same process (an embedded runner and a syncOnce)', async (t) => {
    const { dbPath } = await startAppInTempDir(t);
    const metaDir = defaultMetaDir(dbPath);
    const first = await acquireDbLock(metaDir, dbPath, 'daemon', 'run', silentLogger);
    t.after(() => first.release());
    await assert.rejects(acquireDbLock(metaDir, dbPath, 'one-shot', 'syncOnce (library)', silentLogger), {
      code: 'LOCKED',
      message: new RegExp(`a walsync runner in this process \\(pid ${process.pid}, the app's own: createRunner\\) already syncs this database`),
    });
    await first.release();
    const again = await acquireDbLock(metaDir, dbPath, 'one-shot', 'syncOnce (library)', silentLogger);
    await again.release();
  });
});
