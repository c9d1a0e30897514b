/**
 * A disk that fills up under `walsync run`: the shadow directory, then the
 * replica directory, each on a small filesystem. walsync says ENOSPC in one
 * line naming the file, the app writes on (the pin holds its WAL), and once
 * space is freed the next sync catches up in the same generation; a restore
 * then equals the app. A restore whose output disk fills leaves nothing at OUT.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { restoreEquals, signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import { mountSmallFs } from '../helpers/small-fs.js';

interface Outage {
  readonly place: 'shadow' | 'replica';
}

async function fillAndRecover(t: TestContext, { place }: Outage): Promise<void> {
  const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
  const small = mountSmallFs(t, 512);
  const shadowDir = place === 'shadow' ? path.join(small.dir, 'shadow') : path.join(dir, 'shadow');
  const replica = place === 'replica' ? path.join(small.dir, 'replica') : path.join(dir, 'replica');
  await app.insert(50, { size: 300, perTx: 5 });
  const config = ['dbs:', `  - path: ${dbPath}`, `    meta-path: ${shadowDir}`, '    replicas:', `      - path: ${replica}`, '        sync-interval: 1s', ''].join('\n');
  const daemon = await startRun(dir, config);
  t.after(() => daemon.child.kill('SIGKILL'));
  await waitFor('the first sync', () => /job done .*job=sync/.test(daemon.stderr()));

  // 1.5 MiB of incompressible rows: more than the small filesystem holds.
  let rows = 50;
  for (let i = 0; i < 15; i++) {
    await app.insert(100, { size: 1000, perTx: 10 });
    rows += 100;
  }
  await waitFor('an ENOSPC line', () => /ERROR job failed .*ENOSPC/.test(daemon.stderr()), 30_000);
  const failure = daemon.stderr().split('\n').find((line) => /ERROR job failed .*ENOSPC/.test(line))!;
  assert.match(failure, new RegExp(`code=(IO|REPLICA_IO) .*${small.dir}/[^ ]+: ENOSPC`), failure);
  assert.doesNotMatch(daemon.stderr(), /^\s+at |Unhandled|code=BUG/m);
  // The app writes on while walsync cannot: its WAL is pinned, not lost.
  await app.insert(100, { size: 300, perTx: 10 });
  rows += 100;
  assert.equal((await app.query<{ n: number }>('SELECT count(*) AS n FROM t'))[0]!.n, rows);

  const freedAt = Date.now();
  const logBefore = daemon.stderr().length;
  small.resize(64 * 1024);
  await waitFor('a sync after space was freed', () => /INFO job done .*job=sync/.test(daemon.stderr().slice(logBefore)), 90_000);
  const catchUpMs = Date.now() - freedAt;
  const stopped = await signalAndWait(daemon.child, daemon.done);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.doesNotMatch(stopped.stderr, /new generation .*reason=(?!"first sync)/, 'continuity was not kept');
  const generations = fs.readdirSync(path.join(replica, 'generations'));
  assert.equal(generations.length, 1, `generations: ${generations.join(', ')}`);
  const verified = await runCli(['verify', dbPath, '--meta-path', shadowDir, '--replica', replica]);
  assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  await restoreEquals(dir, replica, dbPath);
  t.diagnostic(`${place} disk full: caught up ${catchUpMs} ms after space was freed, same generation, restore equals the app`);
}

describe('a full disk', () => {
  it('the shadow directory fills up: ENOSPC named, the app writes on, the same generation catches up once space is freed', async (t) => {
    await fillAndRecover(t, { place: 'shadow' });
  });

  it('the replica directory fills up: ENOSPC named, the app writes on, the replica catches up once space is freed', async (t) => {
    await fillAndRecover(t, { place: 'replica' });
  });

  it('a restore whose output disk fills up fails with one ENOSPC line and leaves nothing at OUT', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(300, { size: 1000, perTx: 10 });
    const replica = path.join(dir, 'replica');
    const synced = await runCli(['sync', '--once', dbPath, replica]);
    assert.equal(synced.code, 0, synced.stderr);
    const small = mountSmallFs(t, 128);
    const out = path.join(small.dir, 'out.db');
    const result = await runCli(['restore', '-o', out, replica]);
    assert.equal(result.code, 1, result.stderr);
    const lines = errorLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.match(lines[0]!, new RegExp(`^walsync: IO: ${small.dir}/out\\.db\\.tmp(-wal)?: ENOSPC: no space left on device, write$`));
    assert.deepEqual(fs.readdirSync(small.dir), []);
    small.resize(16 * 1024);
    await restoreEquals(small.dir, replica, dbPath);
  });
});
