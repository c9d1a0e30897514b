/** The configuration file: defaults in one place, every problem reported at once with file and key path. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS, parseConfig } from '../../src/config.js';
import { ConfigError } from '../../src/errors.js';

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfig(text, '/etc/walsync.yml', env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error));
    return error.problems;
  }
  assert.fail('expected the config to be refused');
}

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
      'walsync.yml: dbs[0].replicas[1].path: is missing (a directory, or url: file:///dir)',
      'walsync.yml: dbs[0].replicas[1].name: "backup" is already the name of another replica of this database',
      problems[6]!,
      'walsync.yml: dbs[1].path: is missing',
    ]);
    assert.match(problems[6]!, /^walsync\.yml: dbs\[0\]\.replicas\[1\]\.sync-interval: "61 \* \* \* \* \*" is neither a duration nor a cron expression/);
  });

  it('refuses a file without databases and YAML that does not parse, naming the line', () => {
    assert.deepEqual(problemsOf('logging:\n  level: info\n'), ['walsync.yml: dbs: must list at least one database']);
    assert.match(problemsOf('dbs: [\n')[0]!, /^walsync\.yml: line \d+: /);
    assert.deepEqual(problemsOf('dbs:\n  - path: /a.db\n    replicas:\n      - type: s3\n        path: x\n'), [
      'walsync.yml: dbs[0].replicas[0].type: "s3" is not a replica type this version has (file)',
    ]);
  });
});
