/** The retention rule (Litestream 0.3's) on a file replica laid out by hand: what is kept and what is deleted. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openReplica } from '../../../src/replica/url.js';
import { enforceRetention } from '../../../src/replication/retention.js';
import { at, objectKeys, putSnapshot, putWalSegment } from '../../helpers/replica-objects.js';
import { tempDir } from '../../helpers/tmp.js';

const OLD = '0000000000000001';
const CURRENT = '0000000000000002';
const HOUR = 3_600_000;

async function twoGenerations(root: string): Promise<void> {
  // The old generation: a snapshot and segments from 10 hours ago.
  await putSnapshot(root, OLD, 0, 0);
  await putWalSegment(root, OLD, 0, 0, 1);
  await putWalSegment(root, OLD, 1, 0, 2);
  // The current one: snapshots at index 0 (9 h ago) and index 2 (1 h ago), segments of indexes 0 to 3.
  await putSnapshot(root, CURRENT, 0, 60);
  await putWalSegment(root, CURRENT, 0, 0, 61);
  await putWalSegment(root, CURRENT, 1, 0, 120);
  await putWalSegment(root, CURRENT, 1, 4152, 121);
  await putSnapshot(root, CURRENT, 2, 540);
  await putWalSegment(root, CURRENT, 2, 0, 540);
  await putWalSegment(root, CURRENT, 3, 0, 590);
}

describe('retention', () => {
  it('keeps the snapshots within the period, deletes other generations whole and what lies below the oldest kept snapshot', async (t) => {
    const root = path.join(tempDir(t), 'replica');
    await twoGenerations(root);
    const result = await enforceRetention(openReplica(root), { retentionMs: 2 * HOUR, now: at(600) });
    assert.deepEqual(result.keptSnapshots.map((s) => [s.generationId, s.index]), [[CURRENT, 2]]);
    assert.deepEqual(result.deletedGenerations, [OLD]);
    assert.equal(result.deletedSnapshotCount, 1);
    assert.equal(result.deletedWalSegmentCount, 3);
    assert.equal(result.snapshotTaken, false);
    assert.deepEqual(await objectKeys(root), [
      `generations/${CURRENT}/snapshots/00000002.snapshot.lz4`,
      `generations/${CURRENT}/wal/00000002_00000000.wal.lz4`,
      `generations/${CURRENT}/wal/00000003_00000000.wal.lz4`,
    ]);
  });

  it('always keeps the newest snapshot of the current generation, even past the period', async (t) => {
    const root = path.join(tempDir(t), 'replica');
    await twoGenerations(root);
    const result = await enforceRetention(openReplica(root), { retentionMs: HOUR, now: at(24 * 60), currentGenerationId: CURRENT });
    assert.deepEqual(result.keptSnapshots.map((s) => [s.generationId, s.index]), [[CURRENT, 2]]);
    assert.deepEqual(result.deletedGenerations, [OLD]);
  });

  it('keeps a current generation that has no snapshot yet, and takes a fresh snapshot when none would remain and it can', async (t) => {
    const root = path.join(tempDir(t), 'replica');
    await putSnapshot(root, OLD, 0, 0);
    await putWalSegment(root, OLD, 0, 0, 1);
    await putWalSegment(root, CURRENT, 0, 0, 5);
    let taken = 0;
    const result = await enforceRetention(openReplica(root), {
      retentionMs: HOUR,
      now: at(600),
      currentGenerationId: CURRENT,
      takeSnapshot: async () => {
        taken++;
        await putSnapshot(root, CURRENT, 0, 600);
        return { generationId: CURRENT, index: 0, size: 0, createdAt: at(600) };
      },
    });
    assert.equal(taken, 1);
    assert.equal(result.snapshotTaken, true);
    assert.deepEqual(result.deletedGenerations, [OLD]);
    assert.deepEqual(await objectKeys(root), [`generations/${CURRENT}/snapshots/00000000.snapshot.lz4`, `generations/${CURRENT}/wal/00000000_00000000.wal.lz4`]);
  });

  it('without a way to snapshot, keeps the newest snapshot rather than none; a second run deletes nothing more', async (t) => {
    const root = path.join(tempDir(t), 'replica');
    await twoGenerations(root);
    const client = openReplica(root);
    const first = await enforceRetention(client, { retentionMs: 1, now: at(10_000), currentGenerationId: '0000000000000003' });
    assert.deepEqual(first.keptSnapshots.map((s) => [s.generationId, s.index]), [[CURRENT, 2]]);
    const before = await objectKeys(root);
    const second = await enforceRetention(client, { retentionMs: 1, now: at(10_000), currentGenerationId: '0000000000000003' });
    assert.deepEqual(second.deletedGenerations, []);
    assert.equal(second.deletedSnapshotCount + second.deletedWalSegmentCount, 0);
    assert.deepEqual(await objectKeys(root), before);
  });
});
