import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_CHECKPOINT_POLICY } from '../../../src/config/defaults.js';
import { checkpointModeFor } from '../../../src/shadow/checkpoint.js';

describe('checkpoint policy', () => {
  const policy = DEFAULT_CHECKPOINT_POLICY;

  it('checkpoints PASSIVE from 1000 pages and TRUNCATE from 121359 pages', () => {
    assert.equal(checkpointModeFor(policy, 999, 0), undefined);
    assert.equal(checkpointModeFor(policy, 1000, 0), 'PASSIVE');
    assert.equal(checkpointModeFor(policy, 121358, 0), 'PASSIVE');
    assert.equal(checkpointModeFor(policy, 121359, 0), 'TRUNCATE');
  });

  it('checkpoints PASSIVE after a minute idle only when the WAL holds more than one frame', () => {
    assert.equal(checkpointModeFor(policy, 2, 59_999), undefined);
    assert.equal(checkpointModeFor(policy, 2, 60_000), 'PASSIVE');
    assert.equal(checkpointModeFor(policy, 1, 3_600_000), undefined);
  });

  it('never checkpoints for idleness when the idle interval is 0', () => {
    assert.equal(checkpointModeFor({ ...policy, idleIntervalMs: 0 }, 500, 3_600_000), undefined);
  });
});
