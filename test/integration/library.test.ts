/**
 * The library as docs/running.md ("As a library") documents it, imported by
 * its package name from a separate project that installed this checkout:
 * every documented function called as written there, and a wrong call a
 * WalsyncError with its code, never a raw TypeError.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startApp } from '../helpers/app.js';
import { dumpTables } from '../helpers/shadow.js';
import { tempDir } from '../helpers/tmp.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const run = promisify(execFile);

/** What the project runs: each call of the docs, reporting what it got. */
const SCRIPT = `
import fs from 'node:fs';
import { createLogger, createRunner, loadConfig, openReplica, parseConfig, restore, syncOnce, verify, WalsyncError } from 'walsync';
const [dbPath, replica, configFile, out1, out2] = process.argv.slice(2);
const lines = [];
const log = { debug() {}, info(event, fields) { lines.push(event); }, warn(event) { lines.push(event); }, error(event) { lines.push(event); } };
const seen = {};
seen.synced = (await syncOnce(dbPath, { replicas: [replica], log })).generationId;
seen.consistent = (await verify(dbPath, { log })).consistent;
const runner = await createRunner(parseConfig(fs.readFileSync(configFile, 'utf8'), configFile), { log });
await new Promise((resolve) => setTimeout(resolve, 1500));
await runner.stop();
seen.loaded = (await loadConfig(configFile)).dbs.length;
createLogger({ format: 'json', level: 'info', stream: process.stderr });
seen.restored = (await restore(replica, { output: out1 })).restored;
seen.restoredWithClient = (await restore(openReplica(replica), { output: out2, integrityCheck: 'quick' })).restored;
const refusals = [];
for (const call of [() => restore(replica), () => restore(replica, { output: 42 }), () => restore(42, { output: out1 + '.x' }), () => restore(replica, { output: out1 + '.y', timestamp: 'yesterday' })]) {
  try {
    await call();
    refusals.push('no error');
  } catch (error) {
    refusals.push(error instanceof WalsyncError ? error.code + ': ' + error.message : 'not a WalsyncError: ' + error);
  }
}
seen.refusals = refusals;
seen.logged = lines.includes('runner started');
process.stdout.write(JSON.stringify(seen));
`;

describe('the library, by its package name', () => {
  it('a separate project calls every documented function as written; wrong calls are WalsyncErrors', async (t) => {
    const dir = tempDir(t);
    const project = path.join(dir, 'project');
    await fs.mkdir(project);
    await fs.writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, type: 'module' }));
    await run('npm', ['install', repoRoot, '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: project, timeout: 180_000 });
    await fs.writeFile(path.join(project, 'main.js'), SCRIPT);

    const dbPath = path.join(dir, 'app.db');
    const app = await startApp({ dbPath });
    await app.insert(40);
    await app.close();
    const replica = path.join(dir, 'replica');
    const configFile = path.join(dir, 'walsync.yml');
    await fs.writeFile(configFile, ['dbs:', `  - path: ${dbPath}`, '    replicas:', `      - path: ${replica}`, ''].join('\n'));
    const out1 = path.join(dir, 'restored-1.db');
    const out2 = path.join(dir, 'restored-2.db');
    const { stdout } = await run(process.execPath, ['main.js', dbPath, replica, configFile, out1, out2], { cwd: project, timeout: 60_000 });
    const seen = JSON.parse(stdout) as Record<string, unknown>;
    assert.match(String(seen.synced), /^[0-9a-f]{16}$/);
    assert.equal(seen.consistent, true);
    assert.equal(seen.loaded, 1);
    assert.equal(seen.restored, true);
    assert.equal(seen.restoredWithClient, true);
    assert.equal(seen.logged, true, 'the runner logs through the log given');
    assert.deepEqual(seen.refusals, [
      'USAGE: restore: options: must be an object with at least `output`',
      'USAGE: restore: options.output: must be the path to restore to',
      'USAGE: restore: replica: must be a replica URL or directory, or a client from openReplica',
      'USAGE: restore: options.timestamp: must be a Date or an RFC 3339 time (e.g. 2026-11-24T12:00:00Z)',
    ]);
    assert.deepEqual(dumpTables(out1), dumpTables(dbPath));
    assert.deepEqual(dumpTables(out2), dumpTables(dbPath));
  });
});
