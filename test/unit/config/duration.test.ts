import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from '../../../src/config/duration.js';

describe('durations in flags', () => {
  it('reads milliseconds, seconds, minutes, hours and days', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1s'), 1000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('24h'), 86_400_000);
    assert.equal(parseDuration('2d'), 172_800_000);
  });

  it('adds up compound durations and reads a bare number as seconds', () => {
    assert.equal(parseDuration('1h30m'), 5_400_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('0'), 0);
    assert.equal(parseDuration('5'), 5000);
  });

  it('rejects anything else', () => {
    for (const text of ['', '2x', 's', '1s2', '-1s', '1 s', 'ms']) {
      assert.equal(parseDuration(text), undefined, text);
    }
  });
});
