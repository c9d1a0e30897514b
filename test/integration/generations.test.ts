/**
 * When walsync can prove continuity it keeps the generation (its own
 * checkpoints move to the next index); when it cannot, it starts a new one
 * and says why.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { metaDirOf, shadowFiles } from '../helpers/shadow.js';
import { syncOnceJson } from '../helpers/sync-once.js';

function syncOnce(dbPath: string, ...flags: string[]) {
  return syncOnceJson(dbPath, { flags });
}

async function setup(t: import('node:test').TestContext, kind: 'node' | 'python' = 'node') {
  const { dir, dbPath, app } = await startAppInTempDir(t, { kind, autocheckpoint: 0 });
  return { dir, dbPath, app };
}

describe('generations', () => {
  it("walsync's own PASSIVE checkpoint continues the same generation at the next index", async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(30);
    const first = await syncOnce(dbPath, '--checkpoint-min-pages', '20');
    assert.equal(first.summary.checkpoint?.mode, 'PASSIVE');
    assert.equal(first.summary.checkpoint?.restarted, true);
    assert.equal(first.summary.index, 1);
    await app.insert(3);
    const second = await syncOnce(dbPath, '--checkpoint-min-pages', '20');
    assert.equal(second.summary.newGeneration, false);
    assert.equal(second.summary.generation, first.summary.generation);
    assert.equal(second.summary.index, 1);
    assert.equal(second.summary.transactions, 3);
  });

  it("walsync's own TRUNCATE checkpoint continues the same generation at the next index", async (t) => {
    const { dbPath, app } = await setup(t, 'python');
    await app.insert(30);
    const first = await syncOnce(dbPath, '--checkpoint-truncate-pages', '20');
    assert.deepEqual(first.summary.checkpoint, { mode: 'TRUNCATE', restarted: true });
    await app.insert(5);
    const second = await syncOnce(dbPath, '--checkpoint-truncate-pages', '20');
    assert.equal(second.summary.newGeneration, false);
    assert.equal(second.summary.generation, first.summary.generation);
    assert.equal(second.summary.index, 1);
    assert.equal((await shadowFiles(dbPath, first.summary.generation)).length, 2);
  });

  it("the app's own checkpoint restarting the WAL between runs starts a new generation, with the reason logged", async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(10);
    const first = await syncOnce(dbPath);
    await app.insert(5);
    await app.checkpoint('RESTART');
    await app.insert(5);
    const second = await syncOnce(dbPath);
    assert.equal(second.summary.newGeneration, true);
    assert.notEqual(second.summary.generation, first.summary.generation);
    assert.match(second.summary.reason!, /WAL restarted behind walsync's back/);
    assert.match(second.stderr, /"msg":"new generation".*"reason":"WAL restarted behind walsync's back/);
  });

  it('a missing shadow WAL starts a new generation', async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(5);
    const first = await syncOnce(dbPath);
    await fs.rm(path.join(metaDirOf(dbPath), 'generations', first.summary.generation), { recursive: true });
    const second = await syncOnce(dbPath);
    assert.equal(second.summary.newGeneration, true);
    assert.match(second.summary.reason!, /shadow WAL of generation .* is missing/);
  });

  it('a missing or malformed generation file starts a new generation', async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(5);
    await syncOnce(dbPath);
    const generationFile = path.join(metaDirOf(dbPath), 'generation');
    await fs.writeFile(generationFile, 'not-a-generation\n');
    const malformed = await syncOnce(dbPath);
    assert.match(malformed.summary.reason!, /generation file .* is malformed/);
    await fs.rm(generationFile);
    const missing = await syncOnce(dbPath);
    assert.match(missing.summary.reason!, /generation file .* is missing/);
  });

  it('a shadow that fails its own checksum starts a new generation', async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(5);
    const first = await syncOnce(dbPath);
    const [file] = await shadowFiles(dbPath, first.summary.generation);
    const bytes = await fs.readFile(file!);
    bytes[32 + 24 + 100]! ^= 0xff;
    await fs.writeFile(file!, bytes);
    const second = await syncOnce(dbPath);
    assert.match(second.summary.reason!, /fails its own checksum check at offset 32/);
  });

  it('a shadow shorter than its header starts a new generation', async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(5);
    const first = await syncOnce(dbPath);
    const [file] = await shadowFiles(dbPath, first.summary.generation);
    await fs.truncate(file!, 20);
    const second = await syncOnce(dbPath);
    assert.match(second.summary.reason!, /has no valid header/);
  });

  it('a shadow whose last frame differs from the real WAL starts a new generation', async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(5);
    const first = await syncOnce(dbPath);
    const walBytes = await fs.readFile(`${dbPath}-wal`);
    const [file] = await shadowFiles(dbPath, first.summary.generation);
    const shadowSize = (await fs.stat(file!)).size;
    // Rewrite the real WAL's last copied page (not its header): the shadow no longer matches it.
    walBytes[shadowSize - 10]! ^= 0xff;
    await fs.writeFile(`${dbPath}-wal`, walBytes);
    const second = await syncOnce(dbPath);
    assert.match(second.summary.reason!, /last shadow frame differs from the WAL/);
  });

  it('the summary line names database, generation, index, frames, transactions and bytes', async (t) => {
    const { dbPath, app } = await setup(t);
    await app.insert(4);
    const result = await runCli(['sync', '--once', dbPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /^synced .*app\.db generation=[0-9a-f]{16} index=00000000 offset=\d+ frames=\d+ transactions=5 bytes=\d+ new-generation=yes reason="first sync of this database"\n$/,
    );
    assert.deepEqual(errorLines(result.stderr), []);
  });
});
