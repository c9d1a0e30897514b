/**
 * The SFTP replica under `walsync run`, against a real OpenSSH sshd on
 * 127.0.0.1: config keys as Litestream takes them, one SSH connection for
 * every database and sync, a server that goes away and comes back, walsync
 * killed with SIGKILL in the middle of uploads, host keys that must be
 * pinned, password logins, age on top, and no secret in any output.
 */
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { startApp, startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import type { CliResult } from '../helpers/cli.js';
import { ensureDebianTool } from '../helpers/debian-tool.js';
import { freePort, restoreEquals, signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import type { SshServer } from '../helpers/sshd.js';
import { startSshServer } from '../helpers/sshd.js';
import { dumpTables } from '../helpers/shadow.js';

const MARKER = 'plaintext-marker-sftp-51c2';

let server: SshServer;
const stops: (() => Promise<void>)[] = [];
before(async () => {
  server = await startSshServer((stop) => stops.push(stop));
});
after(async () => {
  for (const stop of stops) await stop();
});

const outputs: string[] = [];
async function cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  const result = await runCli(args, { env });
  outputs.push(result.stdout, result.stderr);
  return result;
}

/** A `type: sftp` replica in Litestream's keys, logging in with the client key and pinning the host key file. */
function sftpReplica(remoteDir: string, extra: string[] = []): string[] {
  return [
    '      - type: sftp',
    `        host: 127.0.0.1:${server.port}`,
    `        user: ${server.user}`,
    `        key-path: ${server.clientKeyPath}`,
    `        host-key-path: ${server.hostKeyPath}`,
    `        path: ${path.join(server.home, remoteDir)}`,
    '        sync-interval: 1s',
    ...extra,
  ];
}

function filesUnder(root: string): string[] {
  if (!fs.existsSync(root)) return [];
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((name) => fs.statSync(path.join(root, name)).isFile());
}

let remoteCount = 0;
function remoteDir(): string {
  return `run-${process.pid}-${++remoteCount}`;
}

describe('SFTP replica under walsync run', () => {
  it('replicates three databases over one SSH connection; restore, listings and verify read it back', async (t) => {
    const apps = [];
    for (let i = 0; i < 3; i++) apps.push(await startAppInTempDir(t, { autocheckpoint: 0 }));
    const dirs = apps.map(() => remoteDir());
    const config = ['dbs:', ...apps.flatMap(({ dbPath }, i) => [`  - path: ${dbPath}`, '    replicas:', ...sftpReplica(dirs[i]!)]), ''].join('\n');
    const loginsBefore = server.logins();
    const daemon = await startRun(apps[0]!.dir, config);
    t.after(() => daemon.child.kill('SIGKILL'));
    for (let round = 0; round < 4; round++) {
      for (const { app } of apps) await app.insert(50, { size: 400, perTx: 10 });
      await sleep(1200);
    }
    await waitFor('every database synced', () => (daemon.stderr().match(/job done .*job=sync/g)?.length ?? 0) >= 6);
    const stopped = await signalAndWait(daemon.child, daemon.done);
    outputs.push(stopped.stderr);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.equal(server.logins() - loginsBefore, 1, 'one SSH connection for every database and every sync');
    for (const [i, { dir, dbPath }] of apps.entries()) {
      const url = server.url(dirs[i]!);
      await restoreEquals(dir, url, dbPath);
      const generations = await cli(['generations', url]);
      assert.equal(generations.code, 0, generations.stderr);
      assert.equal(generations.stdout.trim().split('\n').length, 2, generations.stdout);
      const verified = await cli(['verify', dbPath, '--replica', url]);
      assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    }
  });

  it('sshd stopped mid-run and started again: syncs fail with one line, then catch up on a new connection; nothing is lost', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const remote = remoteDir();
    const daemon = await startRun(dir, ['dbs:', `  - path: ${dbPath}`, '    replicas:', ...sftpReplica(remote), ''].join('\n'));
    t.after(() => daemon.child.kill('SIGKILL'));
    await app.insert(100, { size: 400, perTx: 10 });
    await waitFor('the first sync', () => /job done .*job=sync/.test(daemon.stderr()));
    await server.stop();
    try {
      for (let i = 0; i < 10; i++) {
        await app.insert(30, { size: 400, perTx: 10 });
        await sleep(300);
      }
      await waitFor('a failed sync', () => /job failed .*job=sync .*code=REPLICA_IO/.test(daemon.stderr()), 20_000);
    } finally {
      await server.start();
    }
    const failedAt = daemon.stderr().length;
    await waitFor('a sync after the server is back', () => /job done .*job=sync/.test(daemon.stderr().slice(failedAt)), 60_000);
    await app.insert(20, { size: 400, perTx: 10 });
    const stopped = await signalAndWait(daemon.child, daemon.done);
    outputs.push(stopped.stderr);
    assert.equal(stopped.code, 0, stopped.stderr);
    const failure = stopped.stderr.split('\n').find((line) => /job failed .*job=sync/.test(line))!;
    assert.match(failure, /sftp:\/\/walsync-sftp@127\.0\.0\.1:\d+/);
    assert.doesNotMatch(stopped.stderr, /^\s+at /m, 'no stack trace');
    await restoreEquals(dir, server.url(remote), dbPath);
  });

  it('walsync killed with SIGKILL in the middle of uploads, round after round: restore equals the app, no temp name left', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const remote = remoteDir();
    const served = path.join(server.home, remote);
    const config = ['dbs:', `  - path: ${dbPath}`, '    replicas:', ...sftpReplica(remote, ['        snapshot-interval: 2s']), ''].join('\n');
    let midUpload = 0;
    for (let round = 0; round < 8; round++) {
      // Big transactions, so an upload takes long enough to be caught in the middle.
      await app.insert(400, { size: 8000, perTx: 200 });
      const daemon = await startRun(dir, config);
      const killAt = Date.now() + 300 + Math.random() * 2500;
      while (Date.now() < killAt && daemon.child.exitCode === null) {
        if (round % 2 === 1 && filesUnder(served).some((name) => name.endsWith('.tmp'))) {
          midUpload++;
          break;
        }
        await sleep(5);
      }
      daemon.child.kill('SIGKILL');
      outputs.push((await daemon.done).stderr);
    }
    assert.ok(midUpload >= 1, 'at least one kill landed while an object was being uploaded');
    await app.insert(50, { size: 400, perTx: 10 });
    const daemon = await startRun(dir, config);
    await waitFor('a sync', () => /job done .*job=sync/.test(daemon.stderr()));
    const stopped = await signalAndWait(daemon.child, daemon.done);
    outputs.push(stopped.stderr);
    assert.equal(stopped.code, 0, stopped.stderr);
    assert.deepEqual(filesUnder(served).filter((name) => !/\.(snapshot|wal)\.lz4$/.test(name)), []);
    await restoreEquals(dir, server.url(remote), dbPath);
    const verified = await cli(['verify', dbPath, '--replica', server.url(remote)]);
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
});

describe('SFTP logins and host keys', () => {
  async function syncOnce(url: string, env?: NodeJS.ProcessEnv) {
    const { dir, dbPath, app } = await startAppInTempDirOnce();
    await app.insert(20, { size: 200, perTx: 10 });
    return { dir, dbPath, result: await cli(['sync', '--once', dbPath, url], env) };
  }
  let once: { dir: string; dbPath: string; app: Awaited<ReturnType<typeof startApp>> } | undefined;
  async function startAppInTempDirOnce() {
    if (!once) {
      const dir = fs.mkdtempSync(path.join(server.home, '..', 'app-'));
      const dbPath = path.join(dir, 'app.db');
      once = { dir, dbPath, app: await startApp({ dbPath, autocheckpoint: 0 }) };
      stops.unshift(() => once!.app.close());
    }
    return once;
  }
  const base = () => `sftp://${server.user}@127.0.0.1:${server.port}${path.join(server.home, 'logins')}`;

  it('without a pinned host key the first connection refuses, printing the fingerprint ssh-keygen -l shows', async () => {
    const { result } = await syncOnce(`${base()}?key-path=${server.clientKeyPath}`);
    assert.equal(result.code, 2, result.stderr);
    const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', server.hostKeyPath]).toString().split(' ')[1]!;
    const lines = errorLines(result.stderr);
    assert.equal(lines.length, 1, result.stderr);
    assert.ok(lines[0]!.startsWith(`walsync: HOST_KEY: sftp://${server.user}@127.0.0.1:${server.port}: the server's host key is not pinned; it offers ssh-ed25519 ${fingerprint}`), lines[0]);
    assert.ok(lines[0]!.includes(`host-key: "${server.hostKeyLine}"`), lines[0]);
  });

  it('a pinned key that is not the server\'s refuses; the server\'s other key, pinned, is asked for and accepted', async (t) => {
    const other = path.join(fs.mkdtempSync(path.join(server.home, '..', 'keys-')), 'other');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    t.after(() => fs.rmSync(path.dirname(other), { recursive: true, force: true }));
    const wrong = await syncOnce(`${base()}?key-path=${server.clientKeyPath}&host-key-path=${other}.pub`);
    assert.equal(wrong.result.code, 2, wrong.result.stderr);
    assert.match(errorLines(wrong.result.stderr)[0]!, /^walsync: HOST_KEY: .*: the server's host key ssh-ed25519 SHA256:\S+ is not the pinned one \(SHA256:/);
    const ecdsa = await syncOnce(`${base()}?key-path=${server.clientKeyPath}&host-key=${encodeURIComponent(server.otherHostKeyLine)}`);
    assert.equal(ecdsa.result.code, 0, ecdsa.result.stderr);
  });

  it('logs in with a password from $WALSYNC_SFTP_PASSWORD or the config; a wrong one is one line; the password is never printed', async (t) => {
    const { dir, dbPath } = await startAppInTempDirOnce();
    const url = `${base()}-pw?host-key-path=${server.hostKeyPath}`;
    const env = { ...process.env, WALSYNC_SFTP_PASSWORD: server.password };
    const synced = await cli(['sync', '--once', dbPath, url], env);
    assert.equal(synced.code, 0, synced.stderr);
    const wrong = await cli(['sync', '--once', dbPath, url], { ...process.env, WALSYNC_SFTP_PASSWORD: 'not-the-password' });
    assert.equal(wrong.code, 1, wrong.stderr);
    assert.deepEqual(errorLines(wrong.stderr), [`walsync: REPLICA_IO: sftp://${server.user}@127.0.0.1:${server.port}: the server refused to log in ${server.user} with the password`]);
    const refused = await cli(['restore', '-o', path.join(dir, 'x.db'), `sftp://${server.user}:${server.password}@127.0.0.1:${server.port}/x`]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(errorLines(refused.stderr)[0]!, /WALSYNC_SFTP_PASSWORD/);
    // walsync run with the password in the config through ${VAR}, and its status and metrics.
    const port = await freePort();
    const config = [
      `addr: 127.0.0.1:${port}`,
      'dbs:',
      `  - path: ${dbPath}`,
      '    replicas:',
      `      - url: sftp://${server.user}@127.0.0.1:${server.port}${path.join(server.home, 'logins-run')}`,
      '        password: ${SFTP_PASSWORD}',
      `        host-key: ${server.hostKeyLine}`,
      '        sync-interval: 1s',
      '',
    ].join('\n');
    const daemon = await startRun(dir, config, { env: { ...process.env, SFTP_PASSWORD: server.password } });
    t.after(() => daemon.child.kill('SIGKILL'));
    await waitFor('a sync', () => /job done .*job=sync/.test(daemon.stderr()));
    outputs.push(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    outputs.push((await cli(['status', '--config', path.join(dir, 'walsync.yml'), '--json'], { ...process.env, SFTP_PASSWORD: server.password })).stdout);
    const stopped = await signalAndWait(daemon.child, daemon.done);
    outputs.push(stopped.stderr);
    assert.equal(stopped.code, 0, stopped.stderr);
  });

  it('age on an SFTP replica: the server holds age files without the app\'s rows; restore with the identity equals the app', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const identity = await generateX25519Identity();
    const keyFile = path.join(dir, 'age.key');
    fs.writeFileSync(keyFile, `${identity}\n`, { mode: 0o600 });
    await app.exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('${MARKER}');`);
    await app.insert(100, { size: 300, perTx: 10 });
    const remote = remoteDir();
    const extra = ['        age:', `          recipients: [${await identityToRecipient(identity)}]`, `          identity-files: [${keyFile}]`];
    const daemon = await startRun(dir, ['dbs:', `  - path: ${dbPath}`, '    replicas:', ...sftpReplica(remote, extra), ''].join('\n'));
    t.after(() => daemon.child.kill('SIGKILL'));
    await waitFor('a sync', () => /job done .*job=sync/.test(daemon.stderr()));
    await app.exec(`INSERT INTO notes VALUES ('${MARKER} again');`);
    const stopped = await signalAndWait(daemon.child, daemon.done);
    outputs.push(stopped.stderr);
    assert.equal(stopped.code, 0, stopped.stderr);
    const served = path.join(server.home, remote);
    const objects = filesUnder(served).map((name) => path.join(served, name));
    assert.ok(objects.length >= 2, objects.join(', '));
    ensureDebianTool('age');
    for (const object of objects) {
      const bytes = fs.readFileSync(object);
      assert.ok(bytes.subarray(0, 22).equals(Buffer.from('age-encryption.org/v1\n')), `${object} is not an age file`);
      assert.ok(!bytes.includes(Buffer.from(MARKER)), `${object} holds the app's row in plain text`);
      assert.ok(execSync(`age -d -i ${keyFile} ${object} | lz4 -d -c`).length > 0, `${object} decrypts and decompresses`);
    }
    const out = path.join(dir, 'restored.db');
    const restored = await cli(['restore', '-o', out, '--age-identity', keyFile, server.url(remote)]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.deepEqual(dumpTables(out), dumpTables(dbPath));
  });

  it('no output of these tests holds the password, a private key or an age identity', () => {
    const privateKey = fs.readFileSync(server.clientKeyPath, 'utf8').split('\n')[1]!;
    for (const output of outputs) {
      assert.ok(!output.includes(server.password), 'the SSH password appears in an output');
      assert.ok(!output.includes(privateKey), 'the private key appears in an output');
      assert.doesNotMatch(output, /AGE-SECRET-KEY-1/);
    }
  });
});
