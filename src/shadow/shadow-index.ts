/**
 * Starting a shadow WAL file: the next index of a generation after a WAL
 * restart walsync can prove lost nothing, or index 0 of a new generation.
 */
import type { FileHandle } from 'node:fs/promises';
import { makeDirDurable } from '../fsx/durable.js';
import { shadowWalDirPath, shadowWalPath } from '../layout.js';
import type { WalHeader } from '../wal/format.js';
import type { FileIdentity } from '../db/file-identity.js';
import { newGenerationId, writeFollowedFile, writeGeneration } from './generation.js';
import type { ShadowModes } from './permissions.js';
import type { CopyCount, ShadowCursor } from './shadow-wal.js';
import { createShadowWal, readLastFrame } from './shadow-wal.js';

export interface StartedShadowWal {
  readonly cursor: ShadowCursor;
  /** The real WAL's committed frames copied into it. */
  readonly count: CopyCount;
}

/** Shadow WAL `index` of a generation, from the real WAL's header and committed frames. */
export async function createShadowIndex(
  metaDir: string,
  modes: ShadowModes,
  wal: FileHandle,
  at: { readonly generationId: string; readonly index: number; readonly header: WalHeader },
): Promise<StartedShadowWal> {
  const { generationId, index, header } = at;
  await makeDirDurable(shadowWalDirPath(metaDir, generationId), modes.dirMode);
  const walk = await createShadowWal(shadowWalPath(metaDir, generationId, index), wal, header, modes.fileMode);
  const lastFrame = await readLastFrame(wal, header, walk.commitEnd.offset);
  return {
    cursor: { generationId, index, header, end: walk.commitEnd, lastFrame },
    count: { frameCount: walk.committedFrameCount, transactionCount: walk.commitCount, byteCount: walk.commitEnd.offset },
  };
}

/**
 * A new generation of the database file `file`: its first shadow WAL and the
 * record of the file, then the generation file that names it, so the file
 * never names an empty generation.
 */
export async function startGeneration(metaDir: string, modes: ShadowModes, wal: FileHandle, header: WalHeader, file: FileIdentity): Promise<StartedShadowWal> {
  const started = await createShadowIndex(metaDir, modes, wal, { generationId: newGenerationId(), index: 0, header });
  await writeFollowedFile(metaDir, started.cursor.generationId, file, modes.fileMode);
  await writeGeneration(metaDir, started.cursor.generationId, modes.fileMode);
  return started;
}
