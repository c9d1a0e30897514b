/** The one table of defaults: the config file, the CLI's flags and the library all take theirs from it. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import yargs from 'yargs';
import { withDbOptions } from '../../../src/cli/common.js';
import { retentionBuilder } from '../../../src/cli/commands/retention.js';
import { syncBuilder } from '../../../src/cli/commands/sync.js';
import { parseConfig } from '../../../src/config/config.js';
import { DEFAULTS, DEFAULT_BUSY_TIMEOUT_MS, DEFAULT_CHECKPOINT_POLICY, DEFAULT_SYNC_SCHEDULE } from '../../../src/config/defaults.js';
import { parseDuration } from '../../../src/config/duration.js';
import { oneShotSettings } from '../../../src/library/operations.js';

const ms = (text: string) => parseDuration(text)!;

describe('defaults', () => {
  it('the config file fills every unset key from the table', () => {
    const config = parseConfig('dbs:\n  - path: /a.db\n    replicas:\n      - path: /backup\n', '/etc/walsync.yml', {});
    const [db] = config.dbs;
    const [replica] = db!.replicas;
    assert.deepEqual(config.logging, DEFAULTS.logging);
    assert.equal(config.maxConcurrentJobs, DEFAULTS.maxConcurrentJobs);
    assert.deepEqual(config.metrics, DEFAULTS.metrics);
    assert.deepEqual(config.health, { maxLagMs: ms(DEFAULTS.health.maxLag), heartbeatUrl: undefined, heartbeatIntervalMs: ms(DEFAULTS.health.heartbeatInterval) });
    assert.equal(db!.busyTimeoutMs, DEFAULT_BUSY_TIMEOUT_MS);
    assert.deepEqual(db!.checkpoint, DEFAULT_CHECKPOINT_POLICY);
    assert.deepEqual(replica!.syncInterval, DEFAULT_SYNC_SCHEDULE);
    assert.equal(replica!.snapshotInterval.kind === 'interval' && replica!.snapshotInterval.text, DEFAULTS.replica.snapshotInterval);
    assert.equal(replica!.retentionMs, ms(DEFAULTS.replica.retention));
    assert.equal(replica!.retentionCheckInterval.kind === 'interval' && replica!.retentionCheckInterval.text, DEFAULTS.replica.retentionCheckInterval);
  });

  it("the CLI's flags default to the table", () => {
    const db = withDbOptions(yargs([])).parseSync();
    assert.equal(db['busy-timeout'], DEFAULTS.busyTimeout);
    assert.equal(db['checkpoint-min-pages'], DEFAULTS.checkpoint.minPages);
    assert.equal(db['checkpoint-truncate-pages'], DEFAULTS.checkpoint.truncatePages);
    assert.equal(db['checkpoint-idle-interval'], DEFAULTS.checkpoint.idleInterval);
    assert.equal(syncBuilder(yargs([])).parseSync().interval, DEFAULTS.replica.syncInterval);
    assert.equal(retentionBuilder(yargs([])).parseSync().retention, DEFAULTS.replica.retention);
  });

  it("the library's one-shots default to the table", () => {
    assert.deepEqual(oneShotSettings({}), { policy: DEFAULT_CHECKPOINT_POLICY, busyTimeoutMs: DEFAULT_BUSY_TIMEOUT_MS });
  });
});
