/**
 * The shadow as a sync finds it, read once, before the write lock: the
 * generation it extends and where its newest WAL ends. Only one walsync
 * process works on a database at a time (src/db/db-lock.ts), so what is read
 * here still holds under the lock. A killed append's torn tail is cut back
 * here; a shadow that cannot be trusted is a reason to start a new
 * generation, returned as data. So is a generation that followed another
 * database file than the one at the path now (replaced between two runs).
 */
import fs from 'node:fs/promises';
import { fileError, isNotFound } from '../errors.js';
import { generationFilePath, generationsDirPath, shadowWalDirPath, shadowWalPath } from '../layout.js';
import type { FileIdentity } from '../db/file-identity.js';
import { describeChange, sameFile } from '../db/file-identity.js';
import { listShadowIndexes, readFollowedFile, readGeneration } from './generation.js';
import type { ShadowCursor } from './shadow-wal.js';
import { cutBackShadowWal, damageReason, inspectShadowWal } from './shadow-wal.js';

export type ShadowState =
  | { readonly kind: 'continues'; readonly cursor: ShadowCursor; readonly cutBack?: { readonly file: string; readonly byteCount: number } }
  | { readonly kind: 'new-generation'; readonly reason: string; readonly firstSync?: boolean };

/**
 * `previous` is where this process's last sync left the shadow: trusted,
 * without reading the file, when its size still says so. `databaseFile`
 * is the database file the sync has open.
 */
export async function readShadowState(metaDir: string, previous: ShadowCursor | undefined, databaseFile: FileIdentity): Promise<ShadowState> {
  const lookup = await readGeneration(metaDir);
  if (lookup.kind === 'missing') {
    const firstSync = (await listGenerationDirs(metaDir)).length === 0;
    return firstSync ? { kind: 'new-generation', reason: 'first sync of this database', firstSync } : newGeneration(`generation file ${generationFilePath(metaDir)} is missing`);
  }
  if (lookup.kind === 'malformed') {
    return newGeneration(`generation file ${generationFilePath(metaDir)} is malformed (${JSON.stringify(lookup.content)})`);
  }
  const { generationId } = lookup;
  if (previous?.generationId !== generationId) {
    const followed = await readFollowedFile(metaDir, generationId);
    if (followed && !sameFile(followed, databaseFile)) return newGeneration(`database file replaced at its path (${describeChange(followed, databaseFile)})`);
  }
  const index = (await listShadowIndexes(metaDir, generationId)).at(-1);
  if (index === undefined) {
    return newGeneration(`shadow WAL of generation ${generationId} is missing (${shadowWalDirPath(metaDir, generationId)})`);
  }
  const file = shadowWalPath(metaDir, generationId, index);
  if (previous?.generationId === generationId && previous.index === index && (await fs.stat(file)).size === previous.end.offset) {
    return { kind: 'continues', cursor: previous };
  }
  const inspection = await inspectShadowWal(file);
  if (inspection.kind === 'damaged') return newGeneration(damageReason(file, inspection));
  const { header, end, lastFrame, tailSize } = inspection;
  const cursor = { generationId, index, header, end, lastFrame };
  if (tailSize === 0) return { kind: 'continues', cursor };
  await cutBackShadowWal(file, end.offset);
  return { kind: 'continues', cursor, cutBack: { file, byteCount: tailSize } };
}

function newGeneration(reason: string): ShadowState {
  return { kind: 'new-generation', reason };
}

async function listGenerationDirs(metaDir: string): Promise<string[]> {
  try {
    return await fs.readdir(generationsDirPath(metaDir));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw fileError(generationsDirPath(metaDir), error);
  }
}
