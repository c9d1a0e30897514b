/**
 * Replicas written by the real Litestream 0.3.13 (test/fixtures, copied from the fixtures our CI machines keep) restore
 * with walsync to exactly the database Litestream restores.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { runCli } from '../helpers/cli.js';
import { integrityCheck } from '../helpers/shadow.js';
import { tempDir } from '../helpers/tmp.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/litestream-0.3.13/', import.meta.url));

function notes(dbPath: string): unknown[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare('SELECT * FROM notes ORDER BY id').all();
  } finally {
    db.close();
  }
}

async function setTreeTime(dir: string, time: Date): Promise<void> {
  for (const name of await fs.readdir(dir, { recursive: true })) await fs.utimes(path.join(dir, String(name)), time, time);
}

describe('Litestream 0.3.13 replicas', () => {
  it('restores multi-index (three WAL indexes, a schema change, updates and deletes) to expected.db', async (t) => {
    const out = path.join(tempDir(t), 'restored.db');
    const result = await runCli(['restore', '--json', '-o', out, path.join(fixtures, 'multi-index/replica')]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { lastIndex: number }).lastIndex, 2);
    assert.equal(integrityCheck(out), 'ok');
    const rows = notes(out);
    assert.equal(rows.length, 2337);
    assert.deepEqual(rows, notes(path.join(fixtures, 'multi-index/expected.db')));
  });

  it('restores the named generation of two-generations', async (t) => {
    const out = path.join(tempDir(t), 'restored.db');
    const result = await runCli(['restore', '-o', out, '--generation', '3a3585e807d8c263', path.join(fixtures, 'two-generations/replica')]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(notes(out), notes(path.join(fixtures, 'two-generations/expected.db')));
    assert.equal(notes(out).length, 140);
    assert.equal(integrityCheck(out), 'ok');
  });

  it('picks the generation whose newest object is newest, by modification time', async (t) => {
    const dir = tempDir(t);
    const replica = path.join(dir, 'replica');
    await fs.cp(path.join(fixtures, 'two-generations/replica'), replica, { recursive: true });
    await setTreeTime(path.join(replica, 'generations/0f131e040be6c2c8'), new Date(Date.now() - 3_600_000));
    const out = path.join(dir, 'restored.db');
    const result = await runCli(['restore', '-o', out, replica]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /generation=3a3585e807d8c263/);
    assert.deepEqual(notes(out), notes(path.join(fixtures, 'two-generations/expected.db')));
  });

  it('lists generations, snapshots and WAL segments with Litestream\'s columns', async () => {
    const replica = path.join(fixtures, 'multi-index/replica');
    const generations = await runCli(['generations', replica]);
    assert.equal(generations.code, 0, generations.stderr);
    assert.match(generations.stdout, /^generation\s+lag\s+start\s+end\n34fc42c6a594e65b\s+\d+s\s+\S+\s+\S+\n$/);
    const snapshots = await runCli(['snapshots', '--json', replica]);
    assert.deepEqual(
      (JSON.parse(snapshots.stdout) as { generation: string; index: string }[]).map((s) => [s.generation, s.index]),
      [['34fc42c6a594e65b', '00000000']],
    );
    const wal = await runCli(['wal', '--json', replica]);
    const segments = JSON.parse(wal.stdout) as { index: string; offset: number }[];
    assert.equal(segments.length, 10);
    assert.deepEqual(segments.slice(0, 2).map((s) => [s.index, s.offset]), [['00000000', 0], ['00000000', 0xd158]]);
  });

  it('ignores foreign names in a replica listing', async (t) => {
    const dir = tempDir(t);
    const replica = path.join(dir, 'replica');
    await fs.cp(path.join(fixtures, 'multi-index/replica'), replica, { recursive: true });
    const walDir = path.join(replica, 'generations/34fc42c6a594e65b/wal');
    await fs.writeFile(path.join(walDir, 'README.txt'), 'x');
    await fs.writeFile(path.join(walDir, '0000000_00000000.wal.lz4'), 'x');
    await fs.mkdir(path.join(replica, 'generations/not-a-generation'));
    const wal = await runCli(['wal', '--json', replica]);
    assert.equal((JSON.parse(wal.stdout) as unknown[]).length, 10);
    const out = path.join(dir, 'restored.db');
    assert.equal((await runCli(['restore', '-o', out, replica])).code, 0);
  });
});
