/**
 * The shadow consistency check CI runs: every shadow WAL of the current
 * generation is whole (valid header, unbroken checksum chain, ends on a
 * commit), the indexes follow each other without gaps, and the current one
 * is a byte-for-byte prefix of the real WAL. A real WAL that has moved on
 * since the last sync (deleted by the app's last close, truncated or
 * restarted by a checkpoint) is not damage: the shadow is whole, and the next
 * sync goes on from it (a new index, or a new generation that says why).
 * That is reported as `behind`, not as a problem.
 */
import fs from 'node:fs/promises';
import type { LiveDb } from '../db/live-db.js';
import { WalsyncError, isNotFound } from '../errors.js';
import { pathExists, readRange } from '../fsx/file-io.js';
import { generationFilePath, shadowWalDirPath, shadowWalPath } from '../layout.js';
import type { WalHeader } from '../wal/format.js';
import { describeHeaderChange, isWalRestartOf, sameWalHeader } from '../wal/header.js';
import { listShadowIndexes, readGeneration } from './generation.js';
import { inspectShadowWal } from './shadow-wal.js';
import { readWalFileHeader } from './wal-file.js';

export interface Inconsistency {
  readonly file: string;
  readonly offset?: number;
  readonly message: string;
}

export interface ShadowVerification {
  readonly dbPath: string;
  readonly generationId?: string;
  readonly firstIndex?: number;
  readonly lastIndex?: number;
  readonly byteCount: number;
  readonly problems: Inconsistency[];
  /** Set when the real WAL has moved on from the current shadow WAL since the last sync: why. */
  readonly behind?: string;
}

const COMPARE_CHUNK_SIZE = 4 * 1024 * 1024;

export async function verifyShadow(db: LiveDb, metaDir: string): Promise<ShadowVerification> {
  const lookup = await readGeneration(metaDir);
  const generationFile = generationFilePath(metaDir);
  if (lookup.kind === 'missing') {
    if (!(await pathExists(metaDir))) {
      throw new WalsyncError('SHADOW_MISSING', `${metaDir}: nothing to verify: no shadow for ${db.dbPath} (run walsync sync first)`);
    }
    return result(db, undefined, [], 0, [{ file: generationFile, message: 'generation file is missing' }]);
  }
  if (lookup.kind === 'malformed') {
    return result(db, undefined, [], 0, [{ file: generationFile, offset: 0, message: `malformed generation file ${JSON.stringify(lookup.content)}` }]);
  }
  const { generationId } = lookup;
  const indexes = await listShadowIndexes(metaDir, generationId);
  if (indexes.length === 0) {
    return result(db, generationId, indexes, 0, [{ file: shadowWalDirPath(metaDir, generationId), message: 'no shadow WAL files' }]);
  }
  const problems: Inconsistency[] = [];
  let byteCount = 0;
  let previous: { index: number; header: WalHeader } | undefined;
  for (let index = indexes[0]!; index <= indexes[indexes.length - 1]!; index++) {
    const file = shadowWalPath(metaDir, generationId, index);
    if (!indexes.includes(index)) {
      problems.push({ file, message: `missing: a gap between indexes ${indexes[0]} and ${indexes[indexes.length - 1]}` });
      previous = undefined;
      continue;
    }
    const inspection = await inspectShadowWal(file);
    if (inspection.kind === 'damaged') {
      problems.push({ file, offset: inspection.offset, message: inspection.problem });
      previous = undefined;
      continue;
    }
    byteCount += inspection.end.offset;
    if (inspection.tailSize > 0) {
      problems.push({ file, offset: inspection.end.offset, message: `does not end on a commit frame: ${inspection.tailSize} bytes after the last commit` });
    }
    if (previous && previous.index === index - 1 && !isWalRestartOf(inspection.header, previous.header)) {
      problems.push({ file, offset: 0, message: `header does not continue index ${previous.index} (not a WAL restart of it)` });
    }
    previous = { index, header: inspection.header };
  }
  const last = indexes[indexes.length - 1]!;
  const compared = await compareWithRealWal(db, shadowWalPath(metaDir, generationId, last));
  problems.push(...compared.problems);
  return { ...result(db, generationId, indexes, byteCount, problems), ...(compared.behind === undefined ? {} : { behind: compared.behind }) };
}

function result(
  db: LiveDb,
  generationId: string | undefined,
  indexes: number[],
  byteCount: number,
  problems: Inconsistency[],
): ShadowVerification {
  return { dbPath: db.dbPath, generationId, firstIndex: indexes[0], lastIndex: indexes[indexes.length - 1], byteCount, problems };
}

/**
 * The current shadow must be a prefix of the real WAL of the same cycle;
 * compared under the write lock so the WAL holds still.
 */
async function compareWithRealWal(db: LiveDb, file: string): Promise<{ problems: Inconsistency[]; behind?: string }> {
  await db.lockWrites();
  try {
    const [shadow, wal] = await Promise.all([fs.open(file, 'r'), openWalIfExists(db)]);
    try {
      const moved = `the real WAL ${db.walPath} has moved on since the last sync`;
      const next = 'the shadow is whole; the next sync goes on from it';
      if (!wal) return { problems: [], behind: `${moved} (deleted, as SQLite does at the last connection's close); ${next}` };
      const [shadowHead, walHead] = await Promise.all([readWalFileHeader(shadow), readWalFileHeader(wal)]);
      if (shadowHead.kind !== 'ok') return { problems: [] };
      if (walHead.kind !== 'ok') return { problems: [], behind: `${moved} (empty: checkpointed and truncated, or deleted at the last close and made again); ${next}` };
      if (!sameWalHeader(shadowHead.header, walHead.header)) {
        return { problems: [], behind: `${moved} (restarted: ${describeHeaderChange(shadowHead.header, walHead.header)}); ${next}` };
      }
      if (walHead.fileSize < shadowHead.fileSize) {
        return { problems: [{ file, offset: walHead.fileSize, message: `longer than the real WAL ${db.walPath} (${shadowHead.fileSize} > ${walHead.fileSize} bytes)` }] };
      }
      const differsAt = await firstDifference(shadow, wal, shadowHead.fileSize);
      return { problems: differsAt === undefined ? [] : [{ file, offset: differsAt, message: `differs from the real WAL ${db.walPath}` }] };
    } finally {
      await shadow.close();
      await wal?.close();
    }
  } finally {
    db.unlockWrites();
  }
}

async function firstDifference(a: fs.FileHandle, b: fs.FileHandle, length: number): Promise<number | undefined> {
  const bufferA = Buffer.alloc(Math.min(COMPARE_CHUNK_SIZE, length));
  const bufferB = Buffer.alloc(bufferA.byteLength);
  for (let offset = 0; offset < length; offset += bufferA.byteLength) {
    const size = Math.min(bufferA.byteLength, length - offset);
    const [chunkA, chunkB] = await Promise.all([readRange(a, offset, size, bufferA), readRange(b, offset, size, bufferB)]);
    if (!Buffer.from(chunkA).equals(chunkB)) {
      for (let i = 0; i < size; i++) if (chunkA[i] !== chunkB[i]) return offset + i;
    }
  }
  return undefined;
}

async function openWalIfExists(db: LiveDb): Promise<fs.FileHandle | undefined> {
  try {
    return await db.openWal();
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
