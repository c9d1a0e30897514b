/**
 * Copying the real WAL's commits into the shadow with the app's write lock
 * held: continue the shadow where it provably continues the WAL, or start a
 * new generation and say why. Appends are not fsynced here, where the app
 * would wait for them; the sync fsyncs the files named in `appendedPaths`
 * once the lock is gone.
 */
import type { FileHandle } from 'node:fs/promises';
import type { LiveDb } from '../db/live-db.js';
import { shadowWalPath } from '../layout.js';
import type { Logger } from '../log.js';
import type { WalHeader } from '../wal/format.js';
import { continuityBreak } from './continuity.js';
import type { ShadowModes } from './permissions.js';
import { startGeneration } from './shadow-index.js';
import type { ShadowState } from './shadow-state.js';
import type { CopyCount, ShadowCursor } from './shadow-wal.js';
import { appendCommittedFrames } from './shadow-wal.js';

/** The real WAL, open under the write lock, and the shadow it is copied to. */
export interface LockedWal {
  readonly db: LiveDb;
  readonly wal: FileHandle;
  readonly metaDir: string;
  readonly modes: ShadowModes;
  readonly log: Logger;
}

export interface Copied {
  readonly cursor: ShadowCursor;
  readonly count: CopyCount;
  readonly appendedPaths: readonly string[];
  readonly newGenerationReason?: string;
}

export async function continueOrStartGeneration(at: LockedWal, header: WalHeader, shadow: ShadowState): Promise<Copied> {
  if (shadow.kind === 'new-generation') return startNewGeneration(at, header, shadow.reason);
  const reason = await continuityBreak(at.wal, header, shadow.cursor);
  if (reason !== undefined) return startNewGeneration(at, header, reason);
  return appendCommitted(at, shadow.cursor);
}

/** Appends every transaction committed after the cursor. */
export async function appendCommitted(at: LockedWal, cursor: ShadowCursor): Promise<Copied> {
  const shadowPath = shadowWalPath(at.metaDir, cursor.generationId, cursor.index);
  const appended = await appendCommittedFrames(at.wal, shadowPath, cursor);
  return { ...appended, appendedPaths: appended.count.byteCount > 0 ? [shadowPath] : [] };
}

export async function startNewGeneration(at: LockedWal, header: WalHeader, reason: string): Promise<Copied> {
  const started = await startGeneration(at.metaDir, at.modes, at.wal, header, at.db.file.identity);
  at.log.info('new generation', { db: at.db.dbPath, generation: started.cursor.generationId, reason });
  return { ...started, appendedPaths: [], newGenerationReason: reason };
}
