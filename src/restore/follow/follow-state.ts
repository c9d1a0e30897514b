/**
 * Where a follower's database stands, in a small file beside it
 * (`<db>.walsync-follow`), replaced atomically after every apply: the
 * replica, the generation, the WAL position reached, and the header and
 * checksum chain there, so a restarted follower goes on from it instead of
 * restoring from scratch. Its presence also tells a later `walsync run` that
 * the database is a standby being promoted.
 */
import fs from 'node:fs/promises';
import { WalsyncError, fileError, isNotFound, onFile } from '../../errors.js';
import { writeBytesAtomic } from '../../fsx/durable.js';
import type { WalHeader } from '../../wal/format.js';
import type { ReplayPosition } from '../restore.js';

const VERSION = 1;

export interface FollowState {
  readonly replica: string;
  readonly position: ReplayPosition;
}

export function followStatePath(dbPath: string): string {
  return `${dbPath}.walsync-follow`;
}

/** The apply's segments, each at its offset in its WAL index (a sparse file). */
export function replayPathOf(dbPath: string): string {
  return `${dbPath}.walsync-replay`;
}

export async function writeFollowState(dbPath: string, state: FollowState): Promise<void> {
  const { position } = state;
  const json = {
    version: VERSION,
    replica: state.replica,
    generation: position.generationId,
    index: position.index,
    offset: position.offset,
    header: position.continuation?.header,
    checksum: position.continuation?.from.checksum,
  };
  await writeBytesAtomic(followStatePath(dbPath), 0o600, new TextEncoder().encode(`${JSON.stringify(json)}\n`));
}

/**
 * A database that was followed and is now synced as a primary: the new
 * generation's reason, naming what it followed. The state and the replay
 * file go, so the database cannot be followed again by mistake (a follower
 * refuses a database without its state).
 */
export async function takePromotion(dbPath: string): Promise<string | undefined> {
  let state: FollowState | undefined;
  try {
    state = await readFollowState(dbPath);
  } catch {
    return 'promoted standby (its follow state was unreadable)';
  }
  if (!state) return undefined;
  await fs.rm(replayPathOf(dbPath), { force: true });
  await onFile(followStatePath(dbPath), () => fs.rm(followStatePath(dbPath), { force: true }));
  return `promoted standby (it followed generation ${state.position.generationId} of ${state.replica})`;
}

export async function readFollowState(dbPath: string): Promise<FollowState | undefined> {
  const statePath = followStatePath(dbPath);
  let text: string;
  try {
    text = await fs.readFile(statePath, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw fileError(statePath, error);
  }
  const parsed = parseState(text);
  if (!parsed) throw new WalsyncError('IO', `${statePath}: not a follow state walsync wrote (remove it and the database beside it to follow afresh)`);
  return parsed;
}

function parseState(text: string): FollowState | undefined {
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { version, replica, generation, index, offset, header, checksum } = json;
  if (version !== VERSION || typeof replica !== 'string' || typeof generation !== 'string' || !isCount(index) || !isCount(offset)) return undefined;
  if (header === undefined && checksum === undefined) return { replica, position: { generationId: generation, index, offset } };
  if (!isHeader(header) || !isPair(checksum)) return undefined;
  return { replica, position: { generationId: generation, index, offset, continuation: { header, from: { offset, checksum } } } };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isPair(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && value.every(isCount);
}

function isHeader(value: unknown): value is WalHeader {
  if (typeof value !== 'object' || value === null) return false;
  const header = value as Record<string, unknown>;
  return ['magic', 'formatVersion', 'pageSize', 'checkpointSeq', 'salt1', 'salt2'].every((key) => isCount(header[key])) && isPair(header.checksum);
}
