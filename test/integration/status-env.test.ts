/**
 * `walsync status --config F` from an operator's shell that lacks the
 * variables the daemon's unit sets (a backup directory, a heartbeat id, an
 * age identity file): status needs none of them, and says which replica it
 * did not look at and why. `restore --config` of a database whose replica
 * uses none of them works too; of one that does, one line names the variable.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { execFileSync } from 'node:child_process';
import { startApp, startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import { dumpTables } from '../helpers/shadow.js';

describe('status and restore --config without the unit\'s variables', () => {
  it('status reads what the daemon published and names the replica it did not look at; restore --config needs only its replica\'s variables', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(30);
    const otherPath = path.join(dir, 'other.db');
    const other = await startApp({ dbPath: otherPath });
    t.after(() => other.close());
    await other.insert(10);
    const identity = path.join(dir, 'age.key');
    execFileSync('age-keygen', ['-o', identity], { stdio: 'ignore' });
    const recipient = /public key: (age1\S+)/.exec(await fs.readFile(identity, 'utf8'))![1]!;
    const config = [
      'heartbeat-url: https://hc-ping.example/${HC_UUID}',
      'dbs:',
      `  - path: ${dbPath}`,
      '    replicas:',
      '      - name: backup',
      '        path: ${BACKUP_DIR}/app',
      '        sync-interval: 1s',
      '        age:',
      '          recipients:',
      `            - ${recipient}`,
      '          identity-files:',
      '            - ${AGE_IDENTITY}',
      `  - path: ${otherPath}`,
      '    replicas:',
      '      - name: local',
      `        path: ${path.join(dir, 'other-replica')}`,
      '        sync-interval: 1s',
      '',
    ].join('\n');
    const unitEnv = { ...process.env, HC_UUID: 'secret-uuid', BACKUP_DIR: path.join(dir, 'backups'), AGE_IDENTITY: identity };
    const run = await startRun(dir, config, { env: unitEnv });
    t.after(() => run.child.kill('SIGKILL'));
    const file = path.join(dir, 'walsync.yml');
    await waitFor('both databases synced', async () => {
      const status = await runCli(['status', '--json', '--config', file], { env: unitEnv });
      const reports = JSON.parse(status.stdout || '[]') as { running: boolean; replicas: { position?: string }[] }[];
      return reports.length === 2 && reports.every((report) => report.running && report.replicas.every((replica) => replica.position !== undefined));
    });

    const shell = { ...process.env };
    for (const name of ['HC_UUID', 'BACKUP_DIR', 'AGE_IDENTITY']) delete shell[name];
    const status = await runCli(['status', '--json', '--config', file], { env: shell });
    assert.equal(status.code, 0, status.stderr);
    const reports = JSON.parse(status.stdout) as { db: string; running: boolean; replicas: { name: string; position?: string; error?: string }[] }[];
    const byDb = new Map(reports.map((report) => [report.db, report]));
    assert.equal(byDb.get(dbPath)!.running, true);
    assert.match(byDb.get(dbPath)!.replicas[0]!.error!, /^not looked at: \$\{BACKUP_DIR\} not set in this environment$/);
    assert.ok(byDb.get(otherPath)!.replicas[0]!.position, 'the replica that needs no variable is looked at');
    assert.doesNotMatch(status.stdout + status.stderr, /secret-uuid/);

    const restored = path.join(dir, 'restored-other.db');
    const restore = await runCli(['restore', '--config', file, '-o', restored, otherPath], { env: shell });
    assert.equal(restore.code, 0, restore.stderr);
    assert.deepEqual(dumpTables(restored), dumpTables(otherPath));
    const refused = await runCli(['restore', '--config', file, '-o', path.join(dir, 'restored.db'), dbPath], { env: shell });
    assert.equal(refused.code, 2);
    assert.deepEqual(errorLines(refused.stderr), [`walsync: CONFIG_INVALID: walsync.yml: the replica of ${dbPath} uses \${BACKUP_DIR}, not set in the environment`]);

    const stopped = await signalAndWait(run.child, run.done);
    assert.equal(stopped.code, 0, stopped.stderr);
  });
});
