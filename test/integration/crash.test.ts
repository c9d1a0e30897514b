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
import { NO_CHECKPOINT_FLAGS, syncOnceJson } from '../helpers/sync-once.js';
import { currentGeneration, dumpTables, listTmpFiles, metaDirOf, rebuildFromShadow, shadowFiles } from '../helpers/shadow.js';


async function killAtRandom(dbPath: string, flags: string[], maxDelayMs: number): Promise<void> {
  const child = spawnCli(['sync', '--once', ...flags, dbPath]);
  const done = collect(child);
  await sleep(Math.floor(Math.random() * maxDelayMs));
  child.kill('SIGKILL');
  await done;
}

/**
 * A random delay mostly lands before the copy starts or after it ends (the
 * process start is most of a one-shot): this kill lands while the shadow WAL
 * grows, between the writes of one copy, after a random part of it.
 */
async function killWhileShadowGrows(dbPath: string, flags: string[]): Promise<void> {
  const shadow = (await shadowFiles(dbPath, await currentGeneration(dbPath))).at(-1)!;
  const sizeBefore = (await fs.stat(shadow)).size;
  const child = spawnCli(['sync', '--once', ...flags, dbPath]);
  const done = collect(child);
  const growBy = Math.floor(Math.random() * 4 * 1024 * 1024);
  while (child.exitCode === null && child.signalCode === null) {
    if ((await fs.stat(shadow)).size > sizeBefore + growBy) {
      child.kill('SIGKILL');
      break;
    }
  }
  await done;
}

describe('killed jobs', () => {
  it('sync --once killed with SIGKILL at random moments: each next run recovers and the rebuild matches', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.checkpoint('TRUNCATE');
    const basePath = path.join(dir, 'base.db');
    await fs.copyFile(dbPath, basePath);
    await syncOnceJson(dbPath, { flags: NO_CHECKPOINT_FLAGS });

    const outcomes = { cutBack: 0, clean: 0 };
    for (let round = 0; round < 30; round++) {
      // Every other round, a transaction bigger than one copy chunk and a kill in the middle of copying it.
      const midCopy = round % 2 === 1;
      await app.insert(midCopy ? 1200 : 100, { size: 8000, perTx: midCopy ? 600 : 20 });
      if (midCopy) await killWhileShadowGrows(dbPath, NO_CHECKPOINT_FLAGS);
      else await killAtRandom(dbPath, NO_CHECKPOINT_FLAGS, 250);
      const next = (await syncOnceJson(dbPath, { flags: NO_CHECKPOINT_FLAGS })).summary;
      if (next.cutBackBytes > 0) outcomes.cutBack++;
      else outcomes.clean++;
      const verify = await runCli(['verify', dbPath]);
      assert.equal(verify.code, 0, `round ${round}: ${verify.stderr}`);
      assert.deepEqual(await listTmpFiles(metaDirOf(dbPath)), [], `round ${round}: no *.tmp left`);
    }
    // Both cases happened: a kill that tore the shadow's tail (cut back by the next run), and one that did not.
    t.diagnostic(`kills that tore the tail: ${outcomes.cutBack}, that did not: ${outcomes.clean}`);
    assert.ok(outcomes.cutBack > 0 && outcomes.clean > 0, JSON.stringify(outcomes));

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
      await syncOnceJson(dbPath, { flags });
      const verify = await runCli(['verify', dbPath]);
      assert.equal(verify.code, 0, `round ${round}: ${verify.stderr}`);
      assert.deepEqual(await listTmpFiles(metaDirOf(dbPath)), []);
    }
  });

  it("a torn tail left by a killed append (frames after the last commit, a partial frame) is cut back, not kept", async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(3);
    const first = (await syncOnceJson(dbPath, { flags: NO_CHECKPOINT_FLAGS })).summary;
    const [file] = await shadowFiles(dbPath, first.generation);
    const shadowSize = (await fs.stat(file!)).size;
    await app.insert(3, { size: 3000, perTx: 3 });
    // What a killed append leaves: the next transaction's first frame, then half a frame.
    const wal = await fs.readFile(`${dbPath}-wal`);
    const frameSize = 24 + 4096;
    assert.ok(wal.length >= shadowSize + 3 * frameSize, 'the transaction spans several frames');
    await fs.appendFile(file!, wal.subarray(shadowSize, shadowSize + frameSize + frameSize / 2));

    const next = (await syncOnceJson(dbPath, { flags: NO_CHECKPOINT_FLAGS })).summary;
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
    const first = (await syncOnceJson(dbPath, { flags: NO_CHECKPOINT_FLAGS })).summary;
    const metaDir = metaDirOf(dbPath);
    await fs.writeFile(path.join(metaDir, 'generation.tmp'), 'half');
    await fs.writeFile(path.join(metaDir, 'generations', first.generation, 'wal', '00000001.wal.tmp'), 'half');
    const result = await runCli(['sync', '--once', dbPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(await listTmpFiles(metaDir), []);
    assert.equal(await currentGeneration(dbPath), first.generation);
  });
});
