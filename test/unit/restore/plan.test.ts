/** The restore plan on a file replica laid out by hand: which generation, which snapshot, which segments, and the gaps it refuses. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { WalsyncError } from '../../../src/errors.js';
import { openReplica } from '../../../src/replica/url.js';
import { selectRestorePlan } from '../../../src/restore/plan.js';
import type { RestorePlan } from '../../../src/restore/plan.js';
import { at, putSnapshot, putWalSegment } from '../../helpers/replica-objects.js';
import { tempDir } from '../../helpers/tmp.js';

const OLDER = 'aaaaaaaaaaaaaaaa';
const NEWER = '0000000000000001';

function shape(plan: RestorePlan | undefined): unknown {
  return plan && { generation: plan.generationId, snapshot: plan.snapshot.index, wal: plan.walIndexes.map((group) => group.map((s) => `${s.index}:${s.offset}`)) };
}

async function replica(t: Parameters<typeof tempDir>[0]): Promise<string> {
  const root = path.join(tempDir(t), 'replica');
  // A generation whose objects are older, though its id sorts after the other's.
  await putSnapshot(root, OLDER, 0, 0);
  await putWalSegment(root, OLDER, 0, 0, 1);
  // The newer generation: snapshots at indexes 0 and 2, segments through index 3.
  await putSnapshot(root, NEWER, 0, 10);
  await putWalSegment(root, NEWER, 0, 0, 11);
  await putWalSegment(root, NEWER, 0, 8272, 12);
  await putWalSegment(root, NEWER, 1, 0, 13);
  await putSnapshot(root, NEWER, 2, 20);
  await putWalSegment(root, NEWER, 2, 0, 20);
  await putWalSegment(root, NEWER, 3, 0, 21);
  return root;
}

describe('restore plan', () => {
  it('takes the generation whose newest object is newest, its newest snapshot and every later segment', async (t) => {
    const client = openReplica(await replica(t));
    assert.deepEqual(shape(await selectRestorePlan(client, {})), { generation: NEWER, snapshot: 2, wal: [['2:0'], ['3:0']] });
  });

  it('to the end of an index: the newest snapshot at or before it, and the segments up to it', async (t) => {
    const client = openReplica(await replica(t));
    assert.deepEqual(shape(await selectRestorePlan(client, { index: 1 })), { generation: NEWER, snapshot: 0, wal: [['0:0', '0:8272'], ['1:0']] });
  });

  it('to a moment: only objects created by then, and only a generation that had begun by then', async (t) => {
    const client = openReplica(await replica(t));
    assert.deepEqual(shape(await selectRestorePlan(client, { timestamp: at(12) })), { generation: NEWER, snapshot: 0, wal: [['0:0', '0:8272']] });
    assert.deepEqual(shape(await selectRestorePlan(client, { timestamp: at(5) })), { generation: OLDER, snapshot: 0, wal: [['0:0']] });
    assert.equal(await selectRestorePlan(client, { timestamp: new Date(at(0).getTime() - 1) }), undefined);
  });

  it('a named generation, and one that is not there (NO_BACKUPS naming what is)', async (t) => {
    const client = openReplica(await replica(t));
    assert.deepEqual(shape(await selectRestorePlan(client, { generationId: OLDER })), { generation: OLDER, snapshot: 0, wal: [['0:0']] });
    await assert.rejects(selectRestorePlan(client, { generationId: 'bbbbbbbbbbbbbbbb' }), (error: unknown) => {
      assert.ok(error instanceof WalsyncError);
      assert.equal(error.code, 'NO_BACKUPS');
      assert.match(error.message, /generation bbbbbbbbbbbbbbbb not found \(it has: 0000000000000001, aaaaaaaaaaaaaaaa\)$/);
      return true;
    });
  });

  it('refuses a missing index, a missing first segment and an index past the last, naming the object', async (t) => {
    const root = path.join(tempDir(t), 'replica');
    await putSnapshot(root, NEWER, 0, 0);
    await putWalSegment(root, NEWER, 0, 0, 1);
    await putWalSegment(root, NEWER, 2, 0, 2);
    const client = openReplica(root);
    await assert.rejects(selectRestorePlan(client, {}), /RESTORE_GAP|generations\/0000000000000001\/wal\/00000001_00000000\.wal\.lz4: missing/);
    const other = path.join(tempDir(t), 'replica');
    await putSnapshot(other, NEWER, 0, 0);
    await putWalSegment(other, NEWER, 0, 4152, 1);
    await assert.rejects(selectRestorePlan(openReplica(other), {}), /wal\/00000000_00000000\.wal\.lz4: missing$/);
    const short = path.join(tempDir(t), 'replica');
    await putSnapshot(short, NEWER, 0, 0);
    await putWalSegment(short, NEWER, 0, 0, 1);
    await assert.rejects(selectRestorePlan(openReplica(short), { index: 4 }), /WAL index 4 is not in generation 0000000000000001 \(last is 0\)$/);
  });
});
