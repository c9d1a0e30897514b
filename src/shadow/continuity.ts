/**
 * Whether the shadow still continues the real WAL, decided under the write
 * lock: the same header (salts and checkpoint sequence), a WAL at least as
 * long as the shadow, and the shadow's last frame equal to the WAL's bytes
 * at that offset. Anything else is a reason, returned as data, to start a
 * new generation.
 */
import type { FileHandle } from 'node:fs/promises';
import type { WalHeader } from '../wal/format.js';
import { describeHeaderChange, isWalRestartOf, sameWalHeader } from '../wal/header.js';
import type { ShadowCursor } from './shadow-wal.js';
import { readLastFrame } from './shadow-wal.js';

/** Undefined when the shadow continues the WAL; else why it does not. */
export async function continuityBreak(wal: FileHandle, walHeader: WalHeader, cursor: ShadowCursor): Promise<string | undefined> {
  if (!sameWalHeader(walHeader, cursor.header)) {
    return isWalRestartOf(walHeader, cursor.header)
      ? `WAL restarted behind walsync's back (another connection checkpointed and reset it; salt-1 ${cursor.header.salt1} -> ${walHeader.salt1})`
      : describeHeaderChange(cursor.header, walHeader);
  }
  const { size } = await wal.stat();
  if (size < cursor.end.offset) return `WAL is shorter than the shadow (${size} < ${cursor.end.offset} bytes)`;
  if (cursor.lastFrame.byteLength === 0) return undefined;
  const walFrame = await readLastFrame(wal, walHeader, cursor.end.offset);
  if (Buffer.from(walFrame).equals(cursor.lastFrame)) return undefined;
  return `last shadow frame differs from the WAL at offset ${cursor.end.offset - cursor.lastFrame.byteLength}`;
}
