/**
 * The shadow rebuilds the app's database: rounds of "the app commits, then
 * `walsync sync --once`", with walsync's own checkpoints in between, give
 * one generation whose shadow WAL files, applied in order to a copy of the
 * database taken before its first frame, equal the app's database.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { AppKind } from '../helpers/app.js';
import { startAppInTempDir } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { currentGeneration, dumpTables, integrityCheck, listGenerations, rebuildFromShadow, shadowFiles } from '../helpers/shadow.js';

async function roundTrip(t: import('node:test').TestContext, kind: AppKind, rounds: number) {
  const { dir, dbPath, app } = await startAppInTempDir(t, { kind, autocheckpoint: 0 });
  await app.checkpoint('TRUNCATE');
  const basePath = path.join(dir, 'base.db');
  await fs.copyFile(dbPath, basePath);

  const checkpoints = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    await app.insert(1 + (round % 7) * 5, { size: 200 + round * 10, perTx: 1 + (round % 3) });
    if (round % 10 === 9) await app.exec(`UPDATE t SET body = randomblob(50) WHERE id % 7 = ${round % 7}`);
    if (round % 17 === 16) await app.exec(`DELETE FROM t WHERE id % 11 = ${round % 11}`);
    const truncatePages = round === rounds - 5 ? '1' : '100000';
    const result = await runCli(['sync', '--once', '--json', '--checkpoint-min-pages', '40', '--checkpoint-truncate-pages', truncatePages, dbPath]);
    assert.equal(result.code, 0, result.stderr);
    const summary = JSON.parse(result.stdout) as { checkpoint: { mode: string; restarted: boolean } | null; newGeneration: boolean };
    assert.equal(summary.newGeneration, round === 0, `round ${round}: ${result.stdout}`);
    if (summary.checkpoint?.restarted) checkpoints.add(summary.checkpoint.mode);
  }

  assert.deepEqual([...checkpoints].sort(), ['PASSIVE', 'TRUNCATE'], 'both of walsync\'s checkpoint modes ran');
  const generations = await listGenerations(dbPath);
  assert.equal(generations.length, 1, `one generation: ${generations.join(', ')}`);
  const files = await shadowFiles(dbPath, await currentGeneration(dbPath));
  assert.ok(files.length > 2, `several indexes: ${files.length}`);

  const rebuilt = path.join(dir, 'rebuilt.db');
  await rebuildFromShadow(basePath, files, rebuilt);
  assert.equal(integrityCheck(rebuilt), 'ok');
  assert.deepEqual(dumpTables(rebuilt), dumpTables(dbPath));
  const verify = await runCli(['verify', dbPath]);
  assert.equal(verify.code, 0, verify.stderr);
}

describe('sync --once rounds', () => {
  it('50 rounds of a node app keep one generation that rebuilds the database row for row', async (t) => {
    await roundTrip(t, 'node', 50);
  });

  it('20 rounds of a python3 app (another SQLite build) rebuild the database row for row', async (t) => {
    await roundTrip(t, 'python', 20);
  });

  it('transactions larger than one 4 MiB read chunk are copied whole, byte for byte', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(3);
    const first = await runCli(['sync', '--once', dbPath]);
    assert.equal(first.code, 0, first.stderr);
    await app.insert(2500, { size: 4000, perTx: 2500 });
    await app.insert(1500, { size: 4000, perTx: 1500 });
    const second = await runCli(['sync', '--once', '--json', '--checkpoint-min-pages', '100000', dbPath]);
    assert.equal(second.code, 0, second.stderr);
    const summary = JSON.parse(second.stdout) as { transactions: number; bytes: number; newGeneration: boolean };
    assert.equal(summary.newGeneration, false);
    assert.equal(summary.transactions, 2);
    assert.ok(summary.bytes > 12 * 1024 * 1024, `${summary.bytes} bytes`);
    const [shadow] = await shadowFiles(dbPath, await currentGeneration(dbPath));
    const wal = await fs.readFile(`${dbPath}-wal`);
    assert.deepEqual(await fs.readFile(shadow!), wal.subarray(0, (await fs.stat(shadow!)).size));
    assert.equal((await fs.stat(shadow!)).size, wal.length);
  });
});
