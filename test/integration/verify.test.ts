/**
 * `walsync verify DB` — the CI check: exit 0 when the shadow is whole and
 * continues the real WAL (or the real WAL moved on since the last sync,
 * said in a `behind:` line), 3 with one line per problem naming the file and
 * offset, 2 when there is nothing to verify.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { describe, it } from 'node:test';
import { startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { metaDirOf, shadowFiles } from '../helpers/shadow.js';

async function syncedApp(t: import('node:test').TestContext) {
  const { dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
  await app.insert(20);
  const first = await runCli(['sync', '--once', '--json', '--checkpoint-min-pages', '15', dbPath]);
  assert.equal(first.code, 0, first.stderr);
  await app.insert(5);
  const second = await runCli(['sync', '--once', '--json', dbPath]);
  assert.equal(second.code, 0, second.stderr);
  const generation = (JSON.parse(second.stdout) as { generation: string }).generation;
  const files = await shadowFiles(dbPath, generation);
  assert.equal(files.length, 2, 'two indexes');
  return { dbPath, app, files };
}

describe('verify', () => {
  it('exits 0 with a one-line summary on a consistent shadow', async (t) => {
    const { dbPath } = await syncedApp(t);
    const result = await runCli(['verify', dbPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^consistent: .*app\.db generation=[0-9a-f]{16} indexes=00000000\.\.00000001 bytes=\d+\n$/);
  });

  it('prints one JSON object with --json', async (t) => {
    const { dbPath } = await syncedApp(t);
    const result = await runCli(['verify', '--json', dbPath]);
    assert.equal(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { consistent: boolean; firstIndex: number; lastIndex: number; problems: unknown[] };
    assert.deepEqual([report.consistent, report.firstIndex, report.lastIndex, report.problems], [true, 0, 1, []]);
  });

  it('exits 3 naming the file and offset when a shadow byte is flipped', async (t) => {
    const { dbPath, files } = await syncedApp(t);
    const bytes = await fs.readFile(files[0]!);
    const frameSize = 24 + 4096;
    bytes[32 + 3 * frameSize + 500]! ^= 0x01;
    await fs.writeFile(files[0]!, bytes);
    const result = await runCli(['verify', dbPath]);
    assert.equal(result.code, 3);
    assert.deepEqual(errorLines(result.stderr), [`${files[0]}: offset ${32 + 3 * frameSize}: fails its own checksum check`]);
  });

  it('exits 3 naming the missing index file', async (t) => {
    const { dbPath, files } = await syncedApp(t);
    const third = files[1]!.replace('00000001.wal', '00000002.wal');
    await fs.copyFile(files[1]!, third);
    await fs.rm(files[1]!);
    const result = await runCli(['verify', dbPath]);
    assert.equal(result.code, 3);
    const lines = errorLines(result.stderr);
    assert.ok(lines.includes(`${files[1]}: missing: a gap between indexes 0 and 2`), lines.join('\n'));
  });

  it('exits 0 and says the real WAL moved on when the app restarted it since the last sync: behind, not damage', async (t) => {
    const { dbPath, app } = await syncedApp(t);
    await app.checkpoint('RESTART');
    await app.insert(1);
    const result = await runCli(['verify', dbPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^consistent: /m);
    assert.match(result.stdout, /^behind: the real WAL \S+app\.db-wal has moved on since the last sync \(restarted: .*\); the shadow is whole; the next sync goes on from it$/m);
  });

  it('exits 0 and says why after the app closed its last connection (SQLite checkpointed and deleted the WAL); a flipped byte is still exit 3', async (t) => {
    const { dbPath, app, files } = await syncedApp(t);
    await app.close();
    const result = await runCli(['verify', dbPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^behind: the real WAL \S+app\.db-wal has moved on since the last sync \((deleted|empty)[^)]*\); the shadow is whole/m);
    const bytes = await fs.readFile(files[1]!);
    bytes[32 + 24 + 10]! ^= 0x01;
    await fs.writeFile(files[1]!, bytes);
    const damaged = await runCli(['verify', dbPath]);
    assert.equal(damaged.code, 3, damaged.stderr);
    assert.match(errorLines(damaged.stderr).join('\n'), /00000001\.wal: offset 32: fails its own checksum check/);
  });

  it('exits 3 when the shadow does not end on a commit frame', async (t) => {
    const { dbPath, files } = await syncedApp(t);
    await fs.appendFile(files[1]!, Buffer.alloc(100));
    const result = await runCli(['verify', dbPath]);
    assert.equal(result.code, 3);
    assert.match(errorLines(result.stderr).join('\n'), /00000001\.wal: offset \d+: does not end on a commit frame: 100 bytes after the last commit/);
  });

  it('exits 2 with one line when there is nothing to verify', async (t) => {
    const { dbPath } = await startAppInTempDir(t);
    const result = await runCli(['verify', dbPath]);
    assert.equal(result.code, 2);
    assert.deepEqual(errorLines(result.stderr).length, 1);
    assert.match(result.stderr, /^walsync: SHADOW_MISSING: .*\.app\.db-walsync: nothing to verify/m);
    await assert.rejects(fs.stat(metaDirOf(dbPath)), 'verify creates no shadow');
  });
});
