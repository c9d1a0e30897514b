/**
 * One shadow WAL file: the real WAL's header and its committed frames,
 * growing only by whole transactions. A shadow that cannot be trusted is
 * reported as a reason (data), never thrown: the caller starts a new
 * generation.
 */
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { onFile } from '../errors.js';
import { writeFileAtomic } from '../fsx/durable.js';
import { readRange, writeAll } from '../fsx/file-io.js';
import type { WalHeader } from '../wal/format.js';
import { WAL_HEADER_SIZE, frameSizeFor } from '../wal/format.js';
import type { ChainPoint, WalkState } from '../wal/frames.js';
import { chainStart } from '../wal/frames.js';
import { copyCommitted, hasFrameAfter, readWalFileHeader, walkWalFile } from './wal-file.js';

export interface CopyCount {
  readonly frameCount: number;
  readonly transactionCount: number;
  readonly byteCount: number;
}

export const NOTHING_COPIED: CopyCount = { frameCount: 0, transactionCount: 0, byteCount: 0 };

export function addCounts(a: CopyCount, b: CopyCount): CopyCount {
  return {
    frameCount: a.frameCount + b.frameCount,
    transactionCount: a.transactionCount + b.transactionCount,
    byteCount: a.byteCount + b.byteCount,
  };
}

/** What walsync knows about the end of the current shadow WAL. */
export interface ShadowCursor {
  readonly generationId: string;
  readonly index: number;
  readonly header: WalHeader;
  /** End of the last commit frame in the shadow, with the chain's checksum there. */
  readonly end: ChainPoint;
  /** The last frame's bytes (empty for a header-only shadow), compared with the real WAL to prove continuity. */
  readonly lastFrame: Uint8Array;
}

export type ShadowInspection =
  | { kind: 'ok'; header: WalHeader; end: ChainPoint; lastFrame: Uint8Array; tailSize: number }
  | { kind: 'damaged'; offset: number; problem: string };

export function damageReason(shadowPath: string, damage: { offset: number; problem: string }): string {
  return `shadow WAL ${shadowPath} ${damage.problem} at offset ${damage.offset}`;
}

/**
 * Walks a whole shadow file. A tail after the last commit frame that still
 * chains (frames of a killed append, a partial frame) is reported as
 * `tailSize` for the caller to cut back; a break in the chain is damage.
 */
export async function inspectShadowWal(shadowPath: string): Promise<ShadowInspection> {
  return onFile(shadowPath, () => inspectOpenShadowWal(shadowPath));
}

async function inspectOpenShadowWal(shadowPath: string): Promise<ShadowInspection> {
  const handle = await fs.open(shadowPath, 'r');
  try {
    const head = await readWalFileHeader(handle);
    if (head.kind !== 'ok') {
      return { kind: 'damaged', offset: 0, problem: `has no valid header (${head.kind === 'invalid' ? head.reason : 'missing'})` };
    }
    const walk = await walkWalFile(handle, head.header, chainStart(head.header));
    if (walk.stop === 'salt-mismatch' || walk.stop === 'checksum-mismatch') {
      const check = walk.stop === 'salt-mismatch' ? 'salt' : 'checksum';
      return { kind: 'damaged', offset: walk.validEnd.offset, problem: `fails its own ${check} check` };
    }
    const lastFrame = await readLastFrame(handle, head.header, walk.commitEnd.offset);
    return {
      kind: 'ok',
      header: head.header,
      end: walk.commitEnd,
      lastFrame,
      tailSize: head.fileSize - walk.commitEnd.offset,
    };
  } finally {
    await handle.close();
  }
}

export async function readLastFrame(handle: FileHandle, header: WalHeader, end: number): Promise<Uint8Array> {
  if (end <= WAL_HEADER_SIZE) return new Uint8Array(0);
  const frameSize = frameSizeFor(header.pageSize);
  return Uint8Array.from(await readRange(handle, end - frameSize, frameSize));
}

/** Cuts a killed append's leftovers back to the last commit frame. */
export async function cutBackShadowWal(shadowPath: string, end: number): Promise<void> {
  await onFile(shadowPath, async () => {
    const handle = await fs.open(shadowPath, 'r+');
    try {
      await handle.truncate(end);
      await handle.sync();
    } finally {
      await handle.close();
    }
  });
}

/**
 * Creates a shadow file, atomically, from the real WAL's header and every
 * whole transaction after it; returns the walk of the copied frames.
 */
export async function createShadowWal(
  shadowPath: string,
  realWal: FileHandle,
  header: WalHeader,
  mode: number,
): Promise<WalkState> {
  return writeFileAtomic(shadowPath, mode, async (handle) => {
    await writeAll(handle, await readRange(realWal, 0, WAL_HEADER_SIZE), 0);
    return copyCommitted(realWal, handle, header, chainStart(header));
  });
}

/**
 * Appends every transaction the real WAL committed after the cursor to the
 * shadow file `shadowPath`, at the same offsets. Writes only whole
 * transactions and never truncates, so two writers copying the same WAL
 * cycle write the same bytes. Does not fsync: a sync appends in several
 * steps, some under the app's write lock, and fsyncs once at its end.
 */
export async function appendCommittedFrames(
  realWal: FileHandle,
  shadowPath: string,
  cursor: ShadowCursor,
): Promise<{ cursor: ShadowCursor; count: CopyCount }> {
  if (!(await hasFrameAfter(realWal, cursor.header, cursor.end))) return { cursor, count: NOTHING_COPIED };
  const walk = await onFile(shadowPath, async () => {
    const handle = await fs.open(shadowPath, 'r+');
    try {
      return await copyCommitted(realWal, handle, cursor.header, cursor.end);
    } finally {
      await handle.close();
    }
  });
  if (walk.commitEnd.offset === cursor.end.offset) return { cursor, count: NOTHING_COPIED };
  const lastFrame = await readLastFrame(realWal, cursor.header, walk.commitEnd.offset);
  return {
    cursor: { ...cursor, end: walk.commitEnd, lastFrame },
    count: {
      frameCount: walk.committedFrameCount,
      transactionCount: walk.commitCount,
      byteCount: walk.commitEnd.offset - cursor.end.offset,
    },
  };
}
