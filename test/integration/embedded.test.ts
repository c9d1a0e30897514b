/** walsync as a library inside the app's own process must share the app's better-sqlite3. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { tempDir } from '../helpers/tmp.js';

const embeddedApp = fileURLToPath(new URL('../helpers/embedded-app.js', import.meta.url));
const betterSqlite = path.dirname(fileURLToPath(import.meta.resolve('better-sqlite3/package.json')));

async function runEmbedded(args: Record<string, unknown>): Promise<{ ok: boolean; commits?: number; code?: string; message?: string }> {
  const { stdout } = await promisify(execFile)(process.execPath, [embeddedApp, JSON.stringify(args)]);
  return JSON.parse(stdout) as { ok: boolean };
}

describe('embedded in the app', () => {
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
