/** Making a directory tree that other processes may be making at the same moment. */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { makeDirDurable } from '../../../src/fsx/durable.js';
import { tempDir } from '../../helpers/tmp.js';

describe('makeDirDurable', () => {
  it('succeeds for every caller when several create the same missing tree at once', async (t) => {
    const target = path.join(tempDir(t), 'a', 'b', '.app.db-walsync');
    await Promise.all(Array.from({ length: 8 }, () => makeDirDurable(target, 0o755)));
    assert.ok((await fs.stat(target)).isDirectory());
  });

  it('still fails when a parent is a file', async (t) => {
    const file = path.join(tempDir(t), 'plain');
    await fs.writeFile(file, '');
    // One line naming the path it could not make, with the system's code.
    await assert.rejects(makeDirDurable(path.join(file, 'child'), 0o755), { code: 'IO', message: `${path.join(file, 'child')}: ENOTDIR: not a directory, stat` });
  });
});
