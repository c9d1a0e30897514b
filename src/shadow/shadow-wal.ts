/**
 * One shadow WAL file: the real WAL's header and its committed frames,
 * growing only by whole transactions. A shadow that cannot be trusted is
 * reported as a reason (data), never thrown: the caller starts a new
 * generation.
 */
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { readRange, writeFileAtomic } from '../fsx/atomic.js';
import type { WalHeader } from '../wal/format.js';
import { WAL_HEADER_SIZE, frameSizeFor } from '../wal/format.js';
import type { ChainPoint } from '../wal/frames.js';
import { chainStart } from '../wal/frames.js';
import { copyWalRange, readWalFileHeader, walkWalFile } from './wal-file.js';

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
  const handle = await fs.open(shadowPath, 'r+');
  try {
    await handle.truncate(end);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates a shadow file holding bytes [0, end) of the real WAL, atomically. */
export async function createShadowWal(
  shadowPath: string,
  realWal: FileHandle,
  end: number,
  mode: number,
): Promise<void> {
  await writeFileAtomic(shadowPath, mode, async (writer) => {
    const buffer = new Uint8Array(Math.min(end, 4 * 1024 * 1024));
    for (let offset = 0; offset < end; ) {
      const length = Math.min(buffer.byteLength, end - offset);
      const chunk = await readRange(realWal, offset, length, buffer);
      if (chunk.byteLength < length) throw new Error(`WAL ended at ${offset + chunk.byteLength} while copying up to ${end}`);
      await writer.write(chunk);
      offset += length;
    }
  });
}

/** Appends bytes [from, to) of the real WAL at the same offsets of the shadow, then fsyncs. */
export async function appendShadowWal(shadowPath: string, realWal: FileHandle, from: number, to: number): Promise<void> {
  const handle = await fs.open(shadowPath, 'r+');
  try {
    await copyWalRange(realWal, handle, from, to);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
