/**
 * SIGHUP, ten times, under an app's writes, with every feature on: metrics
 * and /healthz (`addr:`), a file, an S3 (s3rver) and an SFTP (sshd)
 * replica, and a watched `dir:` fleet whose tenant is deleted and created
 * again in between. The daemon stays up, no /metrics counter ever goes
 * down, nothing is lost, and no reload uploads a snapshot: an entry that did
 * not change keeps its run, and one that did is started again without a
 * second snapshot of its generation.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import type { App } from '../helpers/app.js';
import { startApp, startAppInTempDir } from '../helpers/app.js';
import { runCli } from '../helpers/cli.js';
import { freePort, signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import { startS3Server } from '../helpers/s3-server.js';
import { dumpTables } from '../helpers/shadow.js';
import { startSshServer } from '../helpers/sshd.js';

const RELOADS = 10;

/** Every sample of every counter in a scrape, by series. */
function counters(text: string): Map<string, number> {
  const names = new Set([...text.matchAll(/^# TYPE (\S+) counter$/gm)].map((match) => match[1]!));
  const samples = new Map<string, number>();
  for (const [, series, value] of text.matchAll(/^(\S+?(?:\{[^}]*\})?) (\S+)$/gm)) {
    if (names.has(series!.replace(/\{.*$/, ''))) samples.set(series!, Number(value));
  }
  return samples;
}

async function restoresTo(dir: string, replica: string, dbPath: string, env?: NodeJS.ProcessEnv): Promise<void> {
  const out = path.join(dir, `restored-${Date.now()}-${Math.random().toString(16).slice(2)}.db`);
  const restored = await runCli(['restore', '-o', out, replica], { env });
  assert.equal(restored.code, 0, `${replica}: ${restored.stderr}`);
  assert.deepEqual(dumpTables(out), dumpTables(dbPath), replica);
}

async function snapshotFiles(root: string): Promise<string[]> {
  const names = await fs.readdir(root, { recursive: true }).catch(() => []);
  return names.map(String).filter((name) => /snapshots\/[0-9a-f]{8}\.snapshot\.lz4$/.test(name)).sort();
}

describe('reload', () => {
  it(`SIGHUP ${RELOADS} times with metrics, S3, SFTP and a dir: fleet on: stays up, counters never decrease, nothing lost, no extra snapshot`, async (t) => {
    const s3 = await startS3Server((stop) => t.after(stop));
    const sshd = await startSshServer((stop) => t.after(stop));
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const tenants = path.join(dir, 'tenants');
    await fs.mkdir(tenants);
    const tenant = path.join(tenants, 'acme.db');
    let tenantApp: App = await startApp({ dbPath: tenant });
    t.after(() => tenantApp.close());
    await tenantApp.insert(20);
    await app.insert(200, { size: 300, perTx: 10 });
    const port = await freePort();
    const fileReplica = path.join(dir, 'replica');
    const tenantReplicas = path.join(dir, 'tenant-replicas');
    const configFile = path.join(dir, 'walsync.yml');
    const config = (busyTimeout: string) =>
      [
        `addr: 127.0.0.1:${port}`,
        'dbs:',
        `  - path: ${dbPath}`,
        `    busy-timeout: ${busyTimeout}`,
        '    replicas:',
        '      - name: file',
        `        path: ${fileReplica}`,
        '        sync-interval: 500ms',
        '      - name: s3',
        `        url: ${s3.url('reload/app')}`,
        '        sync-interval: 500ms',
        '      - name: sftp',
        `        url: ${sshd.url('reload-app')}`,
        '        sync-interval: 500ms',
        `  - dir: ${tenants}`,
        '    pattern: "*.db"',
        '    watch: true',
        '    replicas:',
        `      - path: ${tenantReplicas}`,
        '        sync-interval: 500ms',
        '',
      ].join('\n');
    const env = { ...process.env, ...s3.env() };
    const run = await startRun(dir, config('5s'), { env });
    t.after(() => run.child.kill('SIGKILL'));
    const scrape = async () => counters(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    await waitFor('every replica synced once', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200, 20_000);
    let before = await scrape();
    const snapshotPuts = () => s3.requests.filter((request) => request.method === 'PUT' && /\/snapshots\//.test(request.url)).length;
    const putsAtStart = snapshotPuts();

    for (let reload = 1; reload <= RELOADS; reload++) {
      await app.insert(30, { size: 300, perTx: 3 });
      await tenantApp.insert(5);
      if (reload === 5) {
        // The tenant deleted and made again: let go of, then started as a new generation.
        await tenantApp.close();
        for (const suffix of ['', '-wal', '-shm']) await fs.rm(`${tenant}${suffix}`, { force: true });
        await sleep(1000);
        tenantApp = await startApp({ dbPath: tenant });
        await tenantApp.insert(7);
      }
      // Reloads 4 and 8 change the app's entry, so it is started again; the others change nothing.
      await fs.writeFile(configFile, config(reload >= 4 && reload < 8 ? '6s' : '5s'));
      run.child.kill('SIGHUP');
      await waitFor(`reload ${reload}`, () => (run.stderr().match(/INFO config reloaded /g)?.length ?? 0) === reload, 20_000);
      await sleep(700);
      const after = await scrape();
      for (const [series, value] of before) {
        const now = after.get(series);
        if (now !== undefined) assert.ok(now >= value, `reload ${reload}: ${series} went from ${value} to ${now}`);
      }
      before = after;
    }
    assert.equal(run.child.exitCode, null, 'still running');
    assert.doesNotMatch(run.stderr(), /restarted=true/, 'every reload applied in place');
    assert.equal(run.stderr().split('\n').filter((line) => line.includes(`INFO runner started db=${dbPath} `)).length, 3, 'the app\'s entry started at start and at the two reloads that changed it');
    assert.equal(snapshotPuts(), putsAtStart, 'no reload uploaded a snapshot to S3');
    assert.equal((await snapshotFiles(fileReplica)).length, 1, 'one snapshot in the file replica');

    await app.insert(10);
    await tenantApp.insert(3);
    const stopped = await signalAndWait(run.child, run.done);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.doesNotMatch(stopped.stderr, /BUG|job failed|\n\s+at /);
    await restoresTo(dir, fileReplica, dbPath);
    await restoresTo(dir, s3.url('reload/app'), dbPath, env);
    await restoresTo(dir, sshd.url('reload-app'), dbPath);
    await restoresTo(dir, path.join(tenantReplicas, 'acme.db'), tenant);
  });
});
