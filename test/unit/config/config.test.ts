/** The configuration file: defaults in one place, every problem reported at once with file and key path. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/config.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { problemsOf } from '../../helpers/config-problems.js';
import { tempDir } from '../../helpers/tmp.js';

/** A throwaway age key pair, for configs that must parse. */
const AGE_IDENTITY = 'AGE-SECRET-KEY-1D95DQMNAEKW0C7XQ2V25YG50ELKUL3JY5S79M09SAL4Y7N0MQNMSKUY2E9';
const AGE_RECIPIENT = 'age1thugyse3tugl3ctwm59gd49nanmqk7slqed4yjmrwgdlzjk8us8s7f7wvp';

describe('configuration', () => {
  it('fills every default and resolves paths against the config file', () => {
    const config = parseConfig('dbs:\n  - path: data/app.db\n    replicas:\n      - path: /backup/app\n', '/etc/walsync/walsync.yml', {});
    assert.deepEqual(config.logging, DEFAULTS.logging);
    const [db] = config.dbs;
    assert.equal(db!.path, '/etc/walsync/data/app.db');
    assert.equal(db!.busyTimeoutMs, 5000);
    assert.deepEqual(db!.checkpoint, { minPageCount: 1000, truncatePageCount: 121359, idleIntervalMs: 60_000 });
    const [replica] = db!.replicas;
    assert.equal(replica!.name, 'file');
    assert.equal(replica!.url, '/backup/app');
    assert.deepEqual(replica!.syncInterval, { kind: 'interval', ms: 1000, text: '1s' });
    assert.deepEqual(replica!.snapshotInterval, { kind: 'interval', ms: 86_400_000, text: '24h' });
    assert.equal(replica!.retentionMs, 86_400_000);
    assert.equal(replica!.verifyInterval, undefined);
  });

  it('takes cron expressions with seconds, and ${VAR} from the environment', () => {
    const config = parseConfig(
      'dbs:\n  - path: ${DB}\n    replicas:\n      - url: file://${DIR}/b\n        snapshot-interval: "0 */5 * * * *"\n',
      '/w/walsync.yml',
      { DB: '/data/app.db', DIR: '/mnt' },
    );
    assert.equal(config.dbs[0]!.path, '/data/app.db');
    assert.equal(config.dbs[0]!.replicas[0]!.url, 'file:///mnt/b');
    assert.deepEqual(config.dbs[0]!.replicas[0]!.snapshotInterval, { kind: 'cron', pattern: '0 */5 * * * *' });
  });

  it('reports every problem at once: unknown key, bad duration, bad cron, missing path, duplicate name, unset variable', () => {
    const problems = problemsOf(
      [
        'logging:',
        '  colour: blue',
        'dbs:',
        '  - path: /data/app.db',
        '    busy-timeout: 5 seconds',
        '    replicas:',
        '      - name: backup',
        '        path: /backup/a',
        '        retention: 2x',
        '      - name: backup',
        '        path: ${BACKUP_DIR}',
        '        sync-interval: "61 * * * * *"',
        '  - replicas: []',
      ].join('\n'),
    );
    assert.deepEqual(problems, [
      'walsync.yml: logging.colour: unknown key (known: level, format)',
      'walsync.yml: dbs[0].busy-timeout: "5 seconds" is not a duration (e.g. 1s, 10m, 24h)',
      'walsync.yml: dbs[0].replicas[0].retention: "2x" is not a duration (e.g. 1s, 10m, 24h)',
      'walsync.yml: dbs[0].replicas[1].path: ${BACKUP_DIR} is not set in the environment',
      'walsync.yml: dbs[0].replicas[1].name: "backup" is already the name of another replica of this database',
      problems[5]!,
      'walsync.yml: dbs[1].path: is missing',
    ]);
    assert.match(problems[5]!, /^walsync\.yml: dbs\[0\]\.replicas\[1\]\.sync-interval: "61 \* \* \* \* \*" is neither a duration nor a cron expression/);
  });

  it('refuses two databases in one shadow directory or one replica location, and a replica listed twice', () => {
    const problems = problemsOf(
      [
        'dbs:',
        '  - path: /data/a.db',
        '    replicas:',
        '      - path: /backup/a',
        '      - name: again',
        '        url: file:///backup/a',
        '  - path: /data/b.db',
        '    meta-path: /data/.a.db-walsync',
        '    replicas:',
        '      - url: s3://bucket/b',
        '  - path: /data/c.db',
        '    replicas:',
        '      - bucket: bucket',
        '        path: b',
      ].join('\n'),
    );
    assert.deepEqual(problems, [
      'walsync.yml: dbs[0].replicas[1]: /backup/a is already the replica at dbs[0].replicas[0]; a replica location holds one database, listed once',
      'walsync.yml: dbs[1].meta-path: /data/.a.db-walsync is already the shadow directory of dbs[0]; each database needs its own',
      'walsync.yml: dbs[2].replicas[0]: s3://bucket/b is already the replica at dbs[1].replicas[0]; a replica location holds one database, listed once',
    ]);
  });

  it('refuses a file without databases and YAML that does not parse, naming the line', () => {
    assert.deepEqual(problemsOf('logging:\n  level: info\n'), ['walsync.yml: dbs: must list at least one database']);
    assert.match(problemsOf('dbs: [\n')[0]!, /^walsync\.yml: line \d+: /);
    assert.deepEqual(problemsOf('dbs:\n  - path: /a.db\n    replicas:\n      - type: gcs\n        path: x\n'), [
      'walsync.yml: dbs[0].replicas[0].type: "gcs" is not a replica type this version has (file, s3, sftp)',
    ]);
  });
});

describe('configuration of S3 and SFTP replicas', () => {
  it('reads bucket, path and the connection keys, with credentials from ${VAR}', () => {
    const config = parseConfig(
      [
        'dbs:',
        '  - path: /data/app.db',
        '    replicas:',
        '      - type: s3',
        '        bucket: backups',
        '        path: /apps/app/',
        '        endpoint: https://s3.us-west-004.backblazeb2.com',
        '        region: us-west-004',
        '        force-path-style: false',
        '        access-key-id: ${KEY_ID}',
        '        secret-access-key: ${SECRET}',
      ].join('\n'),
      '/etc/walsync.yml',
      { KEY_ID: 'id', SECRET: 'secret' },
    );
    const [replica] = config.dbs[0]!.replicas;
    assert.equal(replica!.type, 's3');
    assert.equal(replica!.name, 's3');
    assert.equal(replica!.url, 's3://backups/apps/app');
    assert.deepEqual(replica!.location, {
      bucket: 'backups',
      path: 'apps/app',
      region: 'us-west-004',
      endpoint: 'https://s3.us-west-004.backblazeb2.com',
      forcePathStyle: false,
      skipVerify: undefined,
      accessKeyId: 'id',
      secretAccessKey: 'secret',
    });
  });

  it('takes an s3:// URL instead, inferring the type from it', () => {
    const config = parseConfig('dbs:\n  - path: /a.db\n    replicas:\n      - url: s3://b/p?endpoint=http://127.0.0.1:9000\n', '/w.yml', {});
    const [replica] = config.dbs[0]!.replicas;
    assert.equal(replica!.type, 's3');
    assert.equal(replica!.url, 's3://b/p');
    assert.equal((replica!.location as { endpoint: string }).endpoint, 'http://127.0.0.1:9000');
  });

  it('reports every S3 problem at once: no bucket, a malformed URL, a bad endpoint, half the credentials, S3 keys on a file replica', () => {
    const problems = problemsOf(
      [
        'dbs:',
        '  - path: /a.db',
        '    replicas:',
        '      - type: s3',
        '        name: a',
        '        region: eu-west-1',
        '      - name: b',
        '        url: s3://?region=x',
        '      - name: c',
        '        bucket: b',
        '        endpoint: localhost:9000',
        '        access-key-id: only-this',
        '        force-path-style: yes please',
        '      - name: d',
        '        path: /backup',
        '        bucket: b',
        '        type: file',
      ].join('\n'),
    );
    assert.deepEqual(problems, [
      'walsync.yml: dbs[0].replicas[0].bucket: is missing (or url: s3://bucket/prefix)',
      problems[1]!,
      'walsync.yml: dbs[0].replicas[2].force-path-style: "yes please" is not true or false',
      'walsync.yml: dbs[0].replicas[2].endpoint: "localhost:9000" is not an http:// or https:// URL',
      'walsync.yml: dbs[0].replicas[2].access-key-id, secret-access-key: give both or neither',
      'walsync.yml: dbs[0].replicas[3].bucket: only applies to type: s3',
    ]);
    assert.match(problems[1]!, /^walsync\.yml: dbs\[0\]\.replicas\[1\]\.url: s3:\/\/\?region=x: /);
  });

  it('reads an SFTP replica from Litestream\'s keys (host with its port, user, password or key-path, path) and from an sftp:// URL', (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'keys'));
    fs.writeFileSync(path.join(dir, 'keys', 'id_ed25519'), 'key', { mode: 0o600 });
    const config = parseConfig(
      [
        'dbs:',
        '  - path: /data/app.db',
        '    replicas:',
        '      - type: sftp',
        '        host: backup.example:2222',
        '        user: walsync',
        '        password: ${SFTP_PASSWORD}',
        '        path: /srv/backups/app/',
        '        host-key: ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMvvypUkBrS9RCyV//p+UFCLg8yKNtTu/ew/cV6XXAAP',
        '      - url: sftp://walsync@[::1]/~/app?key-path=keys/id_ed25519',
        '        name: nas',
        '        host-key-path: known_hosts',
      ].join('\n'),
      path.join(dir, 'walsync.yml'),
      { SFTP_PASSWORD: 'hunter2' },
    );
    const [byKeys, byUrl] = config.dbs[0]!.replicas;
    assert.equal(byKeys!.type, 'sftp');
    assert.equal(byKeys!.url, 'sftp://walsync@backup.example:2222/srv/backups/app');
    assert.deepEqual(byKeys!.location, {
      host: 'backup.example',
      port: 2222,
      user: 'walsync',
      path: '/srv/backups/app',
      password: 'hunter2',
      keyPath: undefined,
      hostKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMvvypUkBrS9RCyV//p+UFCLg8yKNtTu/ew/cV6XXAAP',
      hostKeyPath: undefined,
    });
    assert.equal(byUrl!.type, 'sftp');
    assert.equal(byUrl!.url, 'sftp://walsync@[::1]/~/app');
    assert.deepEqual(byUrl!.location, {
      host: '::1',
      port: undefined,
      user: 'walsync',
      path: 'app',
      password: undefined,
      keyPath: path.join(dir, 'keys', 'id_ed25519'),
      hostKey: undefined,
      hostKeyPath: path.join(dir, 'known_hosts'),
    });
    assert.deepEqual(config.warnings, []);
  });

  it('warns of a key or identity file that other users can read, and loads', (t) => {
    const dir = tempDir(t);
    fs.writeFileSync(path.join(dir, 'id_ed25519'), 'key', { mode: 0o644 });
    fs.writeFileSync(path.join(dir, 'age.key'), `${AGE_IDENTITY}\n`, { mode: 0o640 });
    const config = parseConfig(
      [
        'dbs:',
        '  - path: /a.db',
        '    replicas:',
        '      - url: sftp://u@h/x',
        '        key-path: id_ed25519',
        '        age:',
        `          recipients: [${AGE_RECIPIENT}]`,
        '          identity-files: [age.key]',
      ].join('\n'),
      path.join(dir, 'walsync.yml'),
      {},
    );
    assert.deepEqual(config.warnings, [
      `walsync.yml: dbs[0].replicas[0].key-path: ${path.join(dir, 'id_ed25519')} holds a secret but other users can reach it (mode 0644): chmod 600 ${path.join(dir, 'id_ed25519')}`,
      `walsync.yml: dbs[0].replicas[0].age.identity-files[0]: ${path.join(dir, 'age.key')} holds a secret but other users can reach it (mode 0640): chmod 600 ${path.join(dir, 'age.key')}`,
    ]);
  });

  it('reports every SFTP problem at once, never echoing a password', () => {
    const problems = problemsOf(
      [
        'dbs:',
        '  - path: /a.db',
        '    replicas:',
        '      - type: sftp',
        '        name: a',
        '        path: /backups',
        '      - name: b',
        '        type: sftp',
        '        host: "host:99999"',
        '        user: u',
        '        password: hunter2',
        '        key-path: /nonexistent/id_ed25519',
        '        host-key: not a key',
        '      - name: c',
        '        url: sftp://u:hunter2@host/p',
        '        host: other',
        '      - name: d',
        '        path: /backup',
        '        user: u',
      ].join('\n'),
    );
    assert.deepEqual(problems, [
      'walsync.yml: dbs[0].replicas[0].host: is missing (host or host:port, or url: sftp://user@host:port/path)',
      'walsync.yml: dbs[0].replicas[0].user: is missing',
      'walsync.yml: dbs[0].replicas[1].host: "host:99999" is not a host or host:port',
      'walsync.yml: dbs[0].replicas[1].password, key-path: give one way to log in, not both',
      'walsync.yml: dbs[0].replicas[1].host-key: is not an SSH public key ("ssh-ed25519 AAAA…") or SHA256 fingerprint',
      'walsync.yml: dbs[0].replicas[1].key-path: /nonexistent/id_ed25519: cannot be read (ENOENT)',
      'walsync.yml: dbs[0].replicas[2].url: give either url or host and path, not both',
      'walsync.yml: dbs[0].replicas[3].user: only applies to type: sftp',
    ]);
    assert.ok(!problems.join('\n').includes('hunter2'));
  });

  it('reads health, heartbeat, exec and restore-if-db-not-exists, with their defaults', () => {
    const plain = parseConfig('dbs:\n  - path: /a.db\n', '/etc/walsync.yml', {});
    assert.deepEqual(plain.health, { maxLagMs: 60_000, heartbeatUrl: undefined, heartbeatIntervalMs: 60_000 });
    assert.equal(plain.exec, undefined);
    assert.equal(plain.dbs[0]!.restoreIfDbNotExists, false);
    const config = parseConfig(
      'exec: node app.js\nhealth:\n  max-lag: 30s\nheartbeat-url: https://hc.example/${TOKEN}\nheartbeat-interval: 5m\ndbs:\n  - path: /a.db\n    restore-if-db-not-exists: true\n',
      '/etc/walsync.yml',
      { TOKEN: 'abc' },
    );
    assert.deepEqual(config.health, { maxLagMs: 30_000, heartbeatUrl: 'https://hc.example/abc', heartbeatIntervalMs: 300_000 });
    assert.equal(config.exec, 'node app.js');
    assert.equal(config.dbs[0]!.restoreIfDbNotExists, true);
  });

  it('reports bad health, heartbeat, exec and restore-if-db-not-exists values, each naming its key', () => {
    assert.deepEqual(
      problemsOf('exec: ""\nhealth:\n  max-lag: soon\n  min-lag: 1s\nheartbeat-url: ftp://x\nheartbeat-interval: 0s\ndbs:\n  - path: /a.db\n    restore-if-db-not-exists: maybe\n'),
      [
        'walsync.yml: health.min-lag: unknown key (known: max-lag)',
        'walsync.yml: health.max-lag: "soon" is not a duration (e.g. 1s, 10m, 24h)',
        'walsync.yml: heartbeat-url: is not an http:// or https:// URL',
        'walsync.yml: heartbeat-interval: must be longer than 0',
        'walsync.yml: exec: is empty',
        'walsync.yml: dbs[0].restore-if-db-not-exists: "maybe" is not true or false',
      ],
    );
  });

  it('says each problem of a key once: a path whose ${VAR} is unset is not also missing', () => {
    const problems = problemsOf('dbs:\n  - path: /a.db\n    replicas:\n      - path: ${BACKUP_DIR}/app\n');
    assert.deepEqual(problems, ['walsync.yml: dbs[0].replicas[0].path: ${BACKUP_DIR} is not set in the environment']);
  });

  it('takes a duration without a unit as seconds, with a warning that says so', () => {
    const config = parseConfig('dbs:\n  - path: /a.db\n    busy-timeout: 5\n', '/etc/walsync.yml', {});
    assert.equal(config.dbs[0]!.busyTimeoutMs, 5000);
    assert.deepEqual(config.warnings, ['walsync.yml: dbs[0].busy-timeout: 5 has no unit and is taken as 5s; write the unit (5s, 5ms)']);
  });
});
