/**
 * Replicas encrypted on this machine with age, as Litestream 0.3 stores
 * them: every object is the LZ4 frame encrypted to the recipients. Round
 * trips through `walsync run` (config keys) and the one-shot flags, for a
 * file and an S3 replica; no object holds a row the app wrote; and each
 * wrong, missing or damaged key or object is one line naming the object,
 * with nothing at OUT and no key in any output.
 */
import assert from 'node:assert/strict';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { generateX25519Identity, identityToRecipient } from 'age-encryption';
import { startAppInTempDir } from '../helpers/app.js';
import { errorLines, runCli } from '../helpers/cli.js';
import { ensureDebianTool } from '../helpers/debian-tool.js';
import type { CliResult } from '../helpers/cli.js';
import { restoreEquals, signalAndWait, startRun, waitFor } from '../helpers/daemon.js';
import { startS3Server } from '../helpers/s3-server.js';
import type { S3Server } from '../helpers/s3-server.js';
import { dumpTables } from '../helpers/shadow.js';
import { tempDir } from '../helpers/tmp.js';

const MARKER = 'plaintext-marker-7f3a9c';

interface KeyPair {
  readonly identity: string;
  readonly recipient: string;
  readonly file: string;
}

async function keyPair(dir: string, name: string): Promise<KeyPair> {
  const identity = await generateX25519Identity();
  const file = path.join(dir, `${name}.key`);
  fs.writeFileSync(file, `# created: by the test\n# public key: ${await identityToRecipient(identity)}\n${identity}\n`, { mode: 0o600 });
  return { identity, recipient: await identityToRecipient(identity), file };
}

/** Every object of a file replica, by path. */
function objectsOf(root: string): string[] {
  return (fs.readdirSync(root, { recursive: true }) as string[]).filter((name) => name.endsWith('.lz4')).map((name) => path.join(root, name));
}

const outputs: CliResult[] = [];
async function cli(args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> {
  const result = await runCli(args, { env });
  outputs.push(result);
  return result;
}

let s3: S3Server | undefined;
const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const stop of stops) await stop();
});

describe('age-encrypted replicas', () => {
  it('walsync run with age keys in the config: objects are age files without the app’s rows; restore with the identity equals the app', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const keys = await keyPair(dir, 'backup');
    const replica = path.join(dir, 'replica');
    await app.exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('${MARKER}');`);
    const config = [
      'dbs:',
      `  - path: ${dbPath}`,
      '    replicas:',
      `      - path: ${replica}`,
      '        sync-interval: 1s',
      '        age:',
      `          recipients: [${keys.recipient}]`,
      '          identities: ["${AGE_IDENTITY}"]',
      '',
    ].join('\n');
    const daemon = await startRun(dir, config, { env: { ...process.env, AGE_IDENTITY: keys.identity } });
    t.after(() => daemon.child.kill('SIGKILL'));
    await waitFor('the first sync', () => /job done .*job=sync/.test(daemon.stderr()));
    await app.insert(200, { size: 300, perTx: 10 });
    await app.exec(`INSERT INTO notes VALUES ('${MARKER} again');`);
    const stopped = await signalAndWait(daemon.child, daemon.done);
    outputs.push(stopped);
    assert.equal(stopped.code, 0, stopped.stderr);
    const objects = objectsOf(replica);
    assert.ok(objects.length >= 2, objects.join(', '));
    for (const object of objects) {
      const bytes = fs.readFileSync(object);
      assert.ok(bytes.subarray(0, 22).equals(Buffer.from('age-encryption.org/v1\n')), `${object} is not an age file`);
      assert.ok(!bytes.includes(Buffer.from(MARKER)), `${object} holds the app's row in plain text`);
    }
    // By hand, as README says: age -d -i KEY OBJECT | lz4 -d.
    ensureDebianTool('age');
    for (const object of objects) {
      const plain = execSync(`age -d -i ${keys.file} ${object} | lz4 -d -c`, { maxBuffer: 64 * 1024 * 1024 });
      if (object.endsWith('.snapshot.lz4')) assert.equal(plain.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
      else if (object.endsWith('_00000000.wal.lz4')) assert.equal(plain.readUInt32BE(0) & 0xfffffffe, 0x377f0682, `${object} does not decrypt to a WAL`);
      else assert.ok(plain.length > 0, `${object} decrypts to nothing`);
    }
    await restoreEquals(dir, replica, dbPath, { env: { ...process.env, WALSYNC_AGE_IDENTITY: keys.file } });
    const restored = await cli(['restore', '-o', path.join(dir, 'flag.db'), '--age-identity', keys.file, replica]);
    assert.equal(restored.code, 0, restored.stderr);
  });

  it('sync --once --age-recipient to S3: the objects are age files, restore --age-identity equals the app', async (t) => {
    s3 ??= await startS3Server((stop) => stops.push(stop));
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const keys = await keyPair(dir, 's3');
    const url = s3.url('age/app');
    await app.exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('${MARKER}');`);
    for (let i = 0; i < 3; i++) {
      await app.insert(100, { size: 300, perTx: 10 });
      const synced = await cli(['sync', '--once', '--age-recipient', keys.recipient, '--age-identity', keys.file, dbPath, url], s3.env());
      assert.equal(synced.code, 0, synced.stderr);
    }
    await restoreEquals(dir, url, dbPath, { env: { ...s3.env(), WALSYNC_AGE_IDENTITY: keys.file } });
    const verified = await cli(['verify', dbPath, '--replica', url, '--age-recipient', keys.recipient, '--age-identity', keys.file], s3.env());
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });

  describe('one line naming the object, nothing at OUT', () => {
    async function encryptedReplica(t: TestContext) {
      const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
      const keys = await keyPair(dir, 'right');
      const replica = path.join(dir, 'replica');
      await app.insert(100, { size: 300, perTx: 10 });
      const synced = await cli(['sync', '--once', '--age-recipient', keys.recipient, '--age-identity', keys.file, dbPath, replica]);
      assert.equal(synced.code, 0, synced.stderr);
      const snapshot = objectsOf(replica).find((name) => name.endsWith('.snapshot.lz4'))!;
      return { dir, dbPath, keys, replica, snapshot, key: path.relative(replica, snapshot) };
    }

    async function restoreFails(dir: string, args: string[], code: number, pattern: RegExp): Promise<void> {
      const out = path.join(dir, 'out.db');
      const result = await cli(['restore', '-o', out, ...args]);
      assert.equal(result.code, code, result.stderr);
      const lines = errorLines(result.stderr);
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0]!, pattern);
      assert.deepEqual(fs.readdirSync(dir).filter((name) => name.startsWith('out.db')), []);
    }

    it('no identity', async (t) => {
      const { dir, replica, key } = await encryptedReplica(t);
      await restoreFails(dir, [replica], 2, new RegExp(`^walsync: AGE_KEY: .*${key.replaceAll('.', '\\.')}: encrypted with age; reading it needs an identity`));
    });

    it('the wrong identity', async (t) => {
      const { dir, replica, key } = await encryptedReplica(t);
      const other = await keyPair(tempDir(t), 'other');
      await restoreFails(dir, ['--age-identity', other.file, replica], 2, new RegExp(`^walsync: AGE_KEY: .*${key.replaceAll('.', '\\.')}: none of the age identities given can decrypt it`));
    });

    it('a corrupted ciphertext byte', async (t) => {
      const { dir, keys, replica, snapshot, key } = await encryptedReplica(t);
      const bytes = fs.readFileSync(snapshot);
      bytes[bytes.length - 40]! ^= 0x01;
      fs.writeFileSync(snapshot, bytes);
      await restoreFails(dir, ['--age-identity', keys.file, replica], 1, new RegExp(`^walsync: REPLICA_CORRUPT: .*${key.replaceAll('.', '\\.')}: age decryption failed`));
    });

    it('a plain object in an encrypted replica', async (t) => {
      const { dir, dbPath, keys, replica, key } = await encryptedReplica(t);
      const plain = path.join(dir, 'plain');
      const synced = await cli(['sync', '--once', dbPath, plain]);
      assert.equal(synced.code, 0, synced.stderr);
      const plainSnapshot = objectsOf(plain).find((name) => name.endsWith('.snapshot.lz4'))!;
      fs.copyFileSync(plainSnapshot, path.join(replica, key));
      await restoreFails(dir, ['--age-identity', keys.file, replica], 1, new RegExp(`^walsync: REPLICA_CORRUPT: .*${key.replaceAll('.', '\\.')}: not age-encrypted, but this replica is configured with age`));
    });
  });

  it('config problems name the key and never print an identity', async (t) => {
    const dir = tempDir(t);
    const keys = await keyPair(dir, 'config');
    const badFile = path.join(dir, 'bad.key');
    fs.writeFileSync(badFile, `${keys.identity.slice(0, -3)}xyz\n`);
    const file = path.join(dir, 'walsync.yml');
    fs.writeFileSync(
      file,
      [
        'dbs:',
        `  - path: ${path.join(dir, 'app.db')}`,
        '    replicas:',
        `      - path: ${path.join(dir, 'a')}`,
        '        name: a',
        '        age:',
        '          recipients: [age1notarecipient]',
        `          identities: ["${keys.identity.slice(0, -1)}"]`,
        `      - path: ${path.join(dir, 'b')}`,
        '        name: b',
        '        age:',
        `          identity-files: [${badFile}]`,
        '',
      ].join('\n'),
    );
    const result = await cli(['run', '--config', file]);
    assert.equal(result.code, 2, result.stderr);
    assert.deepEqual(errorLines(result.stderr), [
      'walsync: CONFIG_INVALID: walsync.yml: dbs[0].replicas[0].age.recipients[0]: is not an age recipient (age1…, as age-keygen prints it)',
      'walsync: CONFIG_INVALID: walsync.yml: dbs[0].replicas[0].age.identities[0]: is not an age identity (AGE-SECRET-KEY-1…)',
      'walsync: CONFIG_INVALID: walsync.yml: dbs[0].replicas[1].age.recipients: is missing: walsync encrypts every object it writes to these (age1…)',
      `walsync: CONFIG_INVALID: walsync.yml: dbs[0].replicas[1].age.identity-files[0]: ${badFile}: line 1 is not an age identity (AGE-SECRET-KEY-1…)`,
    ]);
  });

  it('restore --config F DB_PATH: from the first replica the config names, with its age keys, to DB_PATH by default', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const keys = await keyPair(dir, 'config-restore');
    await app.exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('${MARKER}');`);
    await app.insert(50, { size: 300, perTx: 10 });
    const replica = path.join(dir, 'replica');
    const synced = await cli(['sync', '--once', '--age-recipient', keys.recipient, dbPath, replica]);
    assert.equal(synced.code, 0, synced.stderr);
    const config = path.join(dir, 'walsync.yml');
    const lost = path.join(dir, 'lost', 'app.db');
    fs.writeFileSync(
      config,
      [
        'dbs:',
        `  - path: ${lost}`,
        '    replicas:',
        `      - path: ${replica}`,
        '        age:',
        `          recipients: [${keys.recipient}]`,
        `          identity-files: [${keys.file}]`,
        `      - path: ${path.join(dir, 'second')}`,
        '        name: second',
        '',
      ].join('\n'),
    );
    fs.mkdirSync(path.dirname(lost));
    const restored = await cli(['restore', '--config', config, lost]);
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, new RegExp(`^restored ${lost} from file://${replica} `));
    assert.deepEqual(dumpTables(lost), dumpTables(dbPath));
    const again = await cli(['restore', '--config', config, lost]);
    assert.equal(again.code, 2, again.stderr);
    assert.match(errorLines(again.stderr)[0]!, /^walsync: OUTPUT_EXISTS: /);
    const elsewhere = path.join(dir, 'elsewhere.db');
    const withOutput = await cli(['restore', '--config', config, '-o', elsewhere, lost]);
    assert.equal(withOutput.code, 0, withOutput.stderr);
    assert.deepEqual(dumpTables(elsewhere), dumpTables(dbPath));
    const unknown = await cli(['restore', '--config', config, path.join(dir, 'other.db')]);
    assert.equal(unknown.code, 2, unknown.stderr);
    assert.deepEqual(errorLines(unknown.stderr), [`walsync: USAGE: ${path.join(dir, 'other.db')}: not a database walsync.yml names (by path, or under a dir entry)`]);
  });

  it('listings and retention take --age-identity; a malformed recipient, an unreadable identity file and identities without recipients are one line each', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const keys = await keyPair(dir, 'flags');
    const replica = path.join(dir, 'replica');
    await app.insert(50, { size: 300, perTx: 10 });
    assert.equal((await cli(['sync', '--once', '--age-recipient', keys.recipient, dbPath, replica])).code, 0);
    for (const command of ['generations', 'snapshots', 'wal']) {
      const listed = await cli([command, '--age-identity', keys.file, replica]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.equal(listed.stdout.trim().split('\n').length, 2, listed.stdout);
    }
    const kept = await cli(['retention', '--retention', '1h', '--age-identity', keys.file, replica]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stdout, /kept 1 snapshot\(s\)/);

    const malformed = await cli(['sync', '--once', '--age-recipient', 'age1nope', dbPath, replica]);
    assert.equal(malformed.code, 2, malformed.stderr);
    assert.deepEqual(errorLines(malformed.stderr), ['walsync: USAGE: --age-recipient: "age1nope" is not an age recipient (age1…)']);
    const unreadable = path.join(dir, 'unreadable.key');
    fs.mkdirSync(unreadable);
    const cannotRead = await cli(['restore', '-o', path.join(dir, 'out.db'), '--age-identity', unreadable, replica]);
    assert.equal(cannotRead.code, 2, cannotRead.stderr);
    assert.deepEqual(errorLines(cannotRead.stderr), [`walsync: USAGE: ${unreadable}: cannot read the age identity file: EISDIR: illegal operation on a directory, read`]);
    const missing = await cli(['generations', '--age-identity', path.join(dir, 'missing.key'), replica]);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(errorLines(missing.stderr)[0]!, /^walsync: USAGE: .*missing\.key: cannot read the age identity file: ENOENT/);
    await app.insert(10, { size: 300, perTx: 10 });
    const noRecipient = await cli(['sync', '--once', '--age-identity', keys.file, dbPath, replica]);
    assert.equal(noRecipient.code, 2, noRecipient.stderr);
    assert.match(errorLines(noRecipient.stderr)[0]!, /^walsync: AGE_KEY: .*replica\/generations\/[0-9a-f]{16}\/wal\/\S+: this replica has age identities but no recipients to encrypt to/);
    assert.deepEqual(fs.readdirSync(dir).filter((name) => name.startsWith('out.db')), []);
  });

  it('an identity file other users can read is a warning line, and the command goes on', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    const keys = await keyPair(dir, 'loose');
    fs.chmodSync(keys.file, 0o644);
    await app.insert(20, { size: 300, perTx: 10 });
    const replica = path.join(dir, 'replica');
    const synced = await cli(['sync', '--once', '--age-recipient', keys.recipient, '--age-identity', keys.file, dbPath, replica]);
    assert.equal(synced.code, 0, synced.stderr);
    assert.match(synced.stderr, new RegExp(`WARN age identity file readable by others warning="${keys.file} holds a secret but other users can reach it \\(mode 0644\\): chmod 600 ${keys.file}"`));
  });

  it('no output of these tests holds an identity', () => {
    const secret = /AGE-SECRET-KEY-1[0-9A-Z]{10,}/;
    for (const output of outputs) assert.doesNotMatch(output.stdout + output.stderr, secret);
  });
});
