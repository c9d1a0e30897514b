/** Positions `generation/index:offset` (docs/formats.md, "Names"). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { comparePos, formatIndex, formatPos, isGenerationId, parseIndex, parsePos } from '../../../src/wal/pos.js';

describe('positions', () => {
  it('formats and parses generation/index:offset', () => {
    const pos = { generationId: 'a1b2c3d4e5f60718', index: 3, offset: 8272 };
    assert.equal(formatPos(pos), 'a1b2c3d4e5f60718/00000003:8272');
    assert.deepEqual(parsePos('a1b2c3d4e5f60718/00000003:8272'), pos);
  });

  it('rejects malformed positions, generations and indexes', () => {
    for (const text of ['a1b2c3d4e5f6071/00000003:8272', 'A1B2C3D4E5F60718/00000003:1', 'a1b2c3d4e5f60718/3:1', 'a1b2c3d4e5f60718/00000003', 'a1b2c3d4e5f60718/00000003:-1']) {
      assert.equal(parsePos(text), undefined, text);
    }
    assert.ok(isGenerationId('0123456789abcdef'));
    assert.ok(!isGenerationId('0123456789abcde'));
    assert.equal(parseIndex('0000000a'), 10);
    assert.equal(parseIndex('a'), undefined);
    assert.equal(formatIndex(255), '000000ff');
  });

  it('orders positions by index, then offset, within one generation only', () => {
    const at = (index: number, offset: number) => ({ generationId: '0123456789abcdef', index, offset });
    assert.ok(comparePos(at(1, 9000), at(2, 32)) < 0);
    assert.ok(comparePos(at(2, 4152), at(2, 32)) > 0);
    assert.equal(comparePos(at(2, 32), at(2, 32)), 0);
    assert.throws(() => comparePos(at(1, 1), { ...at(1, 1), generationId: 'fedcba9876543210' }), /cannot compare/);
  });
});
