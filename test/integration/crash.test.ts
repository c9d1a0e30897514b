/**
 * A job may be killed at any instant: the next run recovers, the shadow
 * verifies, no `*.tmp` debris stays behind, and the rebuilt content matches.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import { currentGeneration, dumpTables, listTmpFiles, metaDirOf, rebuildFromShadow, shadowFiles } from '../helpers/shadow.js';

const NO_CHECKPOINTS = ['--checkpoint-min-pages', '1000000', '--checkpoint-truncate-pages', '1000000', '--checkpoint-idle-interval', '0'];

async function syncJson(dbPath: string, flags: string[]) {
  const result = await runCli(['sync', '--once', '--json', ...flags, dbPath]);
  assert.equal(result.code, 0, result.stderr);
  return JSON.parse(result.stdout) as { generation: string; cutBackBytes: number; newGeneration: boolean; reason: string | null };
}

async function killAtRandom(dbPath: string, flags: string[], maxDelayMs: number): Promise<void> {
  const child = spawnCli(['sync', '--once', ...flags, dbPath]);
  const done = collect(child);
  await sleep(Math.floor(Math.random() * maxDelayMs));
  child.kill('SIGKILL');
  await done;
}

describe('killed jobs', () => {
  it('sync --once killed with SIGKILL at random moments: each next run recovers and the rebuild matches', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.checkpoint('TRUNCATE');
    const basePath = path.join(dir, 'base.db');
    await fs.copyFile(dbPath, basePath);
    await syncJson(dbPath, NO_CHECKPOINTS);

    let cutBack = 0;
    for (let round = 0; round < 30; round++) {
      await app.insert(100, { size: 8000, perTx: 20 });
      await killAtRandom(dbPath, NO_CHECKPOINTS, 250);
      const next = await syncJson(dbPath, NO_CHECKPOINTS);
      if (next.cutBackBytes > 0) cutBack++;
      const verify = await runCli(['verify', dbPath]);
      assert.equal(verify.code, 0, `round ${round}: ${verify.stderr}`);
      assert.deepEqual(await listTmpFiles(metaDirOf(dbPath)), [], `round ${round}: no *.tmp left`);
    }
    t.diagnostic(`runs that cut back a torn tail: ${cutBack}`);

    const rebuilt = path.join(dir, 'rebuilt.db');
    await rebuildFromShadow(basePath, await shadowFiles(dbPath, await currentGeneration(dbPath)), rebuilt);
    assert.deepEqual(dumpTables(rebuilt), dumpTables(dbPath));
  });

  it('sync --once killed mid-checkpoint: the next run recovers and the shadow verifies', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const flags = ['--checkpoint-min-pages', '30'];
    for (let round = 0; round < 10; round++) {
      await app.insert(60, { size: 500 });
      await killAtRandom(dbPath, flags, 200);
      await syncJson(dbPath, flags);
      const verify = await runCli(['verify', dbPath]);
      assert.equal(verify.code, 0, `round ${round}: ${verify.stderr}`);
      assert.deepEqual(await listTmpFiles(metaDirOf(dbPath)), []);
    }
  });

  it("a torn tail left by a killed append (frames after the last commit, a partial frame) is cut back, not kept", async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(3);
    const first = await syncJson(dbPath, NO_CHECKPOINTS);
    const [file] = await shadowFiles(dbPath, first.generation);
    const shadowSize = (await fs.stat(file!)).size;
    await app.insert(3, { size: 3000, perTx: 3 });
    // What a killed append leaves: the next transaction's first frame, then half a frame.
    const wal = await fs.readFile(`${dbPath}-wal`);
    const frameSize = 24 + 4096;
    assert.ok(wal.length >= shadowSize + 3 * frameSize, 'the transaction spans several frames');
    await fs.appendFile(file!, wal.subarray(shadowSize, shadowSize + frameSize + frameSize / 2));

    const next = await syncJson(dbPath, NO_CHECKPOINTS);
    assert.equal(next.newGeneration, false);
    assert.equal(next.generation, first.generation);
    assert.equal(next.cutBackBytes, frameSize + frameSize / 2);
    const verify = await runCli(['verify', dbPath]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.deepEqual(await fs.readFile(file!), wal.subarray(0, (await fs.stat(file!)).size));
  });

  it('leftover *.tmp files of a killed job are removed by the next run', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(3);
    const first = await syncJson(dbPath, NO_CHECKPOINTS);
    const metaDir = metaDirOf(dbPath);
    await fs.writeFile(path.join(metaDir, 'generation.tmp'), 'half');
    await fs.writeFile(path.join(metaDir, 'generations', first.generation, 'wal', '00000001.wal.tmp'), 'half');
    const result = await runCli(['sync', '--once', dbPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await listTmpFiles(metaDir), []);
    assert.equal(await currentGeneration(dbPath), first.generation);
  });
});
