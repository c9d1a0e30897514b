/** `dir:` entries (Litestream 0.5's keys) and max-concurrent-jobs in the config file. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/config/config.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { problemsOf } from '../../helpers/config-problems.js';

describe('configuration: directory entries', () => {
  it('reads dir, pattern, recursive and watch beside path entries, relative paths against the config file', () => {
    const config = parseConfig(
      ['dbs:', '  - path: app.db', '  - dir: tenants', '    pattern: "*.db"', '    recursive: true', '    watch: true', '    replicas:', '      - path: /backup/tenants'].join('\n'),
      '/etc/walsync/walsync.yml',
      {},
    );
    assert.deepEqual(
      config.dbs.map((db) => db.path),
      ['/etc/walsync/app.db'],
    );
    const [entry] = config.dirs;
    assert.equal(entry!.key, 'dbs[1]');
    assert.equal(entry!.dir, '/etc/walsync/tenants');
    assert.equal(entry!.pattern, '*.db');
    assert.equal(entry!.recursive, true);
    assert.equal(entry!.watch, true);
    assert.equal(entry!.template.replicas[0]!.url, '/backup/tenants');
    assert.equal(config.maxConcurrentJobs, DEFAULTS.maxConcurrentJobs);
  });

  it('reports every problem of directory entries at once, each naming its key', () => {
    assert.deepEqual(
      problemsOf(
        [
          'max-concurrent-jobs: 0',
          'dbs:',
          '  - dir: /data/a',
          '    path: /data/a/x.db',
          '    pattern: "*.db"',
          '  - dir: /data/b',
          '    meta-path: /meta',
          '  - path: /data/c.db',
          '    watch: true',
          '  - dir: /data/d',
          '    pattern: "sub/*.db"',
          '    recursive: yes',
        ].join('\n'),
      ),
      [
        'walsync.yml: max-concurrent-jobs: 0 is not a positive whole number',
        'walsync.yml: dbs[0].dir: give either path (one database) or dir (every database in a directory), not both',
        'walsync.yml: dbs[1].meta-path: only applies to an entry with path, not dir',
        'walsync.yml: dbs[1].pattern: is missing: which file names under dir are databases (e.g. "*.db")',
        'walsync.yml: dbs[2].watch: only applies to an entry with dir',
        'walsync.yml: dbs[3].pattern: "sub/*.db" matches file names, so it cannot hold a /',
        'walsync.yml: dbs[3].recursive: "yes" is not true or false',
      ],
    );
  });
});
