import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { shadowModesFor } from '../../../src/shadow/permissions.js';

describe('shadow permissions follow the database file', () => {
  it('gives a 0600 database 0600 files in a 0700 directory', () => {
    assert.deepEqual(shadowModesFor(0o100600), { fileMode: 0o600, dirMode: 0o700 });
  });

  it('adds the search bit only where a read bit is set', () => {
    assert.deepEqual(shadowModesFor(0o100644), { fileMode: 0o644, dirMode: 0o755 });
    assert.deepEqual(shadowModesFor(0o100640), { fileMode: 0o640, dirMode: 0o750 });
  });

  it('never carries execute, setuid or sticky bits over to files', () => {
    assert.deepEqual(shadowModesFor(0o104777), { fileMode: 0o666, dirMode: 0o777 });
  });
});
