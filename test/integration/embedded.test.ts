/** walsync as a library inside the app's own process must share the app's better-sqlite3. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { dumpTables } from '../helpers/shadow.js';
import { tempDir } from '../helpers/tmp.js';

const embeddedApp = fileURLToPath(new URL('../helpers/embedded-app.js', import.meta.url));
const embeddedWriter = fileURLToPath(new URL('../helpers/embedded-writer.js', import.meta.url));
const betterSqlite = path.dirname(fileURLToPath(import.meta.resolve('better-sqlite3/package.json')));

async function runEmbedded(args: Record<string, unknown>): Promise<{ ok: boolean; commits?: number; code?: string; message?: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, [embeddedApp, JSON.stringify(args)]);
  return JSON.parse(stdout) as { ok: boolean };
}

describe('embedded in the app', () => {
  it('runs beside an app writing with better-sqlite3 in the same process: no SQLITE_BUSY, one generation, restore equals the app', async (t) => {
    const dir = tempDir(t);
    const dbPath = path.join(dir, 'app.db');
    const replica = path.join(dir, 'replica');
    const { stdout } = await promisify(execFile)(process.execPath, [embeddedWriter, JSON.stringify({ dbPath, replica, ms: 12_000 })]);
    const seen = JSON.parse(stdout) as { commits: number; busy: number; generations: string[]; errors: string[] };
    assert.deepEqual(seen.errors, []);
    assert.equal(seen.busy, 0, 'the app never waited out its busy timeout on walsync');
    assert.ok(seen.commits > 100, `${seen.commits} commits`);
    assert.equal(seen.generations.length, 1, `generations: ${seen.generations.join(', ')}`);
    const out = path.join(dir, 'restored.db');
    const restored = await runCli(['restore', '-o', out, replica]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(dumpTables(out, { exclude: ['_walsync_seq'] }), dumpTables(dbPath, { exclude: ['_walsync_seq'] }));
  });

  it('refuses to start, with a clear error, when a second copy of SQLite is loaded', async (t) => {
    const dir = tempDir(t);
    const otherModules = path.join(dir, 'other', 'node_modules');
    for (const name of ['better-sqlite3', 'bindings', 'file-uri-to-path']) {
      await fs.cp(path.join(path.dirname(betterSqlite), name), path.join(otherModules, name), { recursive: true });
    }
    const secondCopy = path.join(otherModules, 'better-sqlite3');
    const result = await runEmbedded({ dbPath: path.join(dir, 'app.db'), replica: path.join(dir, 'replica'), secondCopy });
    assert.equal(result.ok, false);
    assert.equal(result.code, 'SQLITE_COPIES');
    assert.match(result.message!, /two copies of better-sqlite3 are loaded .*their SQLite locks would not see each other/);
  });
});
