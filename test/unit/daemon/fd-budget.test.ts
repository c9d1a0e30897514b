/** How many databases the open-file limit allows (src/daemon/fd-budget.ts): what they cost at start, and what their syncs open on top. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SYNC_DESCRIPTORS, databasesAllowed } from '../../../src/daemon/fd-budget.js';

describe('open-file budget', () => {
  it("counts a sync's lock connection and second pin on top of what each database held at start", () => {
    // 1,000 databases holding 6 each at start: 10 each once they sync, so 20,000 allow about 2,000.
    assert.deepEqual(databasesAllowed(20_000, 20, 6_020, 1_000), { perDatabase: 6 + SYNC_DESCRIPTORS, allowed: 1_998 });
  });

  it('says nothing without a database started', () => {
    assert.equal(databasesAllowed(20_000, 20, 20, 0), undefined);
  });
});
