/**
 * The proof that an app's restart of the WAL, in the instant between
 * walsync's complete checkpoint and its own restarting write, lost nothing
 * (nothingAppendedBeforeRestart). The WAL after the restart is crafted from
 * one real SQLite wrote: the old cycle's commits, of which the shadow holds
 * the first; then the bytes a spilled first transaction of the new cycle
 * leaves when it is rolled back (wal.c: frame 1 rewritten in place, the
 * frames after it with zeroed salts and checksums).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { TestContext } from 'node:test';
import { nothingAppendedBeforeRestart } from '../../../src/shadow/checkpoint.js';
import { inspectShadowWal } from '../../../src/shadow/shadow-wal.js';
import type { ShadowCursor } from '../../../src/shadow/shadow-wal.js';
import { WAL_HEADER_SIZE, frameSizeFor } from '../../../src/wal/format.js';
import type { WalHeader } from '../../../src/wal/format.js';
import { parseFrameHeader } from '../../../src/wal/frames.js';
import { formatWalHeader, parseWalHeader } from '../../../src/wal/header.js';
import { makeWal } from '../../helpers/real-wal.js';

interface Crafted {
  readonly cursor: ShadowCursor;
  readonly oldCycle: Buffer;
  readonly newHeader: WalHeader;
  readonly frameSize: number;
}

/** A real WAL of two commits; the shadow ends after the first, and the second is the app's, appended to the old cycle. */
async function craft(t: TestContext): Promise<Crafted> {
  const { wal, pageSize } = await makeWal(async (app) => {
    await app.insert(3, { size: 200 });
    await app.insert(20, { size: 3000 });
  });
  const frameSize = frameSizeFor(pageSize);
  let firstCommitEnd = 0;
  for (let at = WAL_HEADER_SIZE; at + frameSize <= wal.length; at += frameSize) {
    if (parseFrameHeader(wal, at).commitPageCount !== 0) {
      firstCommitEnd = at + frameSize;
      break;
    }
  }
  assert.ok(firstCommitEnd > 0 && firstCommitEnd + frameSize < wal.length, 'the second commit comes after the first');
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walsync-restart-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const shadowPath = path.join(dir, '00000000.wal');
  await fs.writeFile(shadowPath, wal.subarray(0, firstCommitEnd));
  const inspected = await inspectShadowWal(shadowPath);
  assert.equal(inspected.kind, 'ok');
  if (inspected.kind !== 'ok') throw new Error('unreachable');
  const cursor: ShadowCursor = { generationId: '0123456789abcdef', index: 0, header: inspected.header, end: inspected.end, lastFrame: inspected.lastFrame };
  const old = inspected.header;
  const restarted = formatWalHeader({ ...old, checkpointSeq: old.checkpointSeq + 1, salt1: (old.salt1 + 1) >>> 0, salt2: (old.salt2 ^ 0x5a5a5a5a) >>> 0 });
  const parsed = parseWalHeader(restarted);
  if (!parsed.ok) throw new Error(parsed.reason);
  return { cursor, oldCycle: wal, newHeader: parsed.header, frameSize };
}

/** The WAL file as it stands after the restart, open for reading. */
async function walFile(t: TestContext, bytes: Buffer): Promise<fs.FileHandle> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'walsync-restart-'));
  const file = path.join(dir, 'app.db-wal');
  await fs.writeFile(file, bytes);
  const handle = await fs.open(file, 'r');
  t.after(async () => {
    await handle.close();
    await fs.rm(dir, { recursive: true, force: true });
  });
  return handle;
}

/** Calls `edit` with the offset of every whole frame from `from` on. */
function eachFrame(bytes: Buffer, frameSize: number, from: number, edit: (at: number) => void): void {
  for (let at = from; at + frameSize <= bytes.length; at += frameSize) edit(at);
}

function withNewHeader(crafted: Crafted, length: number): Buffer {
  const bytes = Buffer.from(crafted.oldCycle.subarray(0, length));
  Buffer.from(formatWalHeader(crafted.newHeader)).copy(bytes, 0);
  return bytes;
}

describe('the proof that a restart by the app lost nothing', () => {
  it('holds when the WAL ends where the shadow ends', async (t) => {
    const crafted = await craft(t);
    const wal = await walFile(t, withNewHeader(crafted, crafted.cursor.end.offset));
    assert.equal(await nothingAppendedBeforeRestart(wal, crafted.cursor, crafted.newHeader), true);
  });

  it('fails when a commit of the old cycle follows the shadow', async (t) => {
    const crafted = await craft(t);
    const wal = await walFile(t, withNewHeader(crafted, crafted.oldCycle.length));
    assert.equal(await nothingAppendedBeforeRestart(wal, crafted.cursor, crafted.newHeader), false);
  });

  it('fails when a spilled, rolled-back first transaction of the new cycle overwrote that commit', async (t) => {
    const crafted = await craft(t);
    const { frameSize, newHeader } = crafted;
    const bytes = withNewHeader(crafted, crafted.oldCycle.length);
    // Frame 1 carries the new salts, its page rewritten in place after its checksum was made.
    bytes.writeUInt32BE(newHeader.salt1, WAL_HEADER_SIZE + 8);
    bytes.writeUInt32BE(newHeader.salt2, WAL_HEADER_SIZE + 12);
    // The frames after it, past the shadow's end, carry zeroed salts and checksums.
    eachFrame(bytes, frameSize, WAL_HEADER_SIZE + frameSize, (at) => bytes.fill(0, at + 8, at + 24));
    const wal = await walFile(t, bytes);
    assert.equal(await nothingAppendedBeforeRestart(wal, crafted.cursor, newHeader), false);
  });

  it('fails when the frame at the shadow\u2019s end carries the new cycle\u2019s salts', async (t) => {
    const crafted = await craft(t);
    const { frameSize, newHeader } = crafted;
    const bytes = withNewHeader(crafted, crafted.oldCycle.length);
    eachFrame(bytes, frameSize, WAL_HEADER_SIZE, (at) => {
      bytes.writeUInt32BE(newHeader.salt1, at + 8);
      bytes.writeUInt32BE(newHeader.salt2, at + 12);
      bytes.writeUInt32BE(0x01020304, at + 16);
    });
    const wal = await walFile(t, bytes);
    assert.equal(await nothingAppendedBeforeRestart(wal, crafted.cursor, newHeader), false);
  });

  it('holds when a stale frame of an older cycle lies at the shadow\u2019s end', async (t) => {
    const crafted = await craft(t);
    const { frameSize, newHeader } = crafted;
    const bytes = withNewHeader(crafted, crafted.oldCycle.length);
    eachFrame(bytes, frameSize, crafted.cursor.end.offset, (at) => {
      bytes.writeUInt32BE((newHeader.salt1 - 7) >>> 0, at + 8);
      bytes.writeUInt32BE(0x0badf00d, at + 12);
    });
    const wal = await walFile(t, bytes);
    assert.equal(await nothingAppendedBeforeRestart(wal, crafted.cursor, newHeader), true);
  });
});
