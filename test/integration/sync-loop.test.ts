/**
 * `walsync sync DB` without --once: syncs every interval with the read
 * transaction held in between, so the app's own checkpoints cannot restart
 * the WAL behind its back; SIGINT/SIGTERM end it after a final sync.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { collect, spawnCli } from '../helpers/cli.js';
import { currentGeneration, dumpTables, listGenerations, rebuildFromShadow, shadowFiles } from '../helpers/shadow.js';

describe('sync loop', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`keeps one generation while an app with default autocheckpoint writes, and on ${signal} syncs a last time and exits 0`, async (t) => {
      const { dir, dbPath, app } = await startAppInTempDir(t);
      await app.checkpoint('TRUNCATE');
      const basePath = path.join(dir, 'base.db');
      await fs.copyFile(dbPath, basePath);

      const child = spawnCli(['sync', '--json', '--interval', '200ms', '--checkpoint-min-pages', '300', dbPath]);
      const done = collect(child, 60_000);
      await sleep(500);
      // ~2,400 pages: the app's own autocheckpoint (1000 pages) fires several times.
      for (let burst = 0; burst < 12; burst++) {
        await app.insert(100, { size: 800, perTx: 10 });
        await sleep(100);
      }
      await app.insert(3);
      child.kill(signal);
      const result = await done;

      assert.equal(result.code, 0, result.stderr);
      const summaries = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { generation: string; checkpoint: unknown });
      assert.ok(summaries.length >= 3, `one JSON object per sync (${summaries.length})`);
      assert.ok(summaries.some((s) => s.checkpoint !== null), "walsync's own checkpoints ran");
      assert.match(result.stderr, /stopping after a final sync/);
      assert.equal((await listGenerations(dbPath)).length, 1, 'one generation for the whole run');

      const rebuilt = path.join(dir, 'rebuilt.db');
      await rebuildFromShadow(basePath, await shadowFiles(dbPath, await currentGeneration(dbPath)), rebuilt);
      assert.deepEqual(dumpTables(rebuilt), dumpTables(dbPath), 'the last commits before the signal are in the shadow');
    });
  }

  it('prints a text line only for syncs that changed something', async (t) => {
    const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(2);
    const child = spawnCli(['sync', '--interval', '100ms', dbPath]);
    const done = collect(child);
    await sleep(700);
    child.kill('SIGTERM');
    const result = await done;
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    assert.equal(lines.length, 2, result.stdout);
    assert.match(lines[0]!, /new-generation=yes/);
    assert.match(lines[1]!, /frames=0 transactions=0 bytes=0 new-generation=no/);
  });
});
