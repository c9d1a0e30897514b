/**
 * The `generation` file names the generation the shadow currently extends.
 * Missing or malformed is not an error: it is a reason to start a new one.
 * Each generation records the database file it follows (device, inode,
 * birth time), so that a later process can tell a file replaced at the path
 * between its runs.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { fileError, isNotFound } from '../errors.js';
import { writeBytesAtomic } from '../fsx/durable.js';
import type { FileIdentity } from '../db/file-identity.js';
import { followedFilePath, generationFilePath, parseShadowWalName, shadowWalDirPath } from '../layout.js';
import { isGenerationId } from '../wal/pos.js';

export type GenerationLookup =
  | { kind: 'ok'; generationId: string }
  | { kind: 'missing' }
  | { kind: 'malformed'; content: string };

export function newGenerationId(): string {
  return randomBytes(8).toString('hex');
}

export async function readGeneration(metaDir: string): Promise<GenerationLookup> {
  let content: string;
  try {
    content = await fs.readFile(generationFilePath(metaDir), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return { kind: 'missing' };
    throw fileError(generationFilePath(metaDir), error);
  }
  const generationId = content.trim();
  if (!isGenerationId(generationId) || content !== `${generationId}\n`) {
    return { kind: 'malformed', content: content.slice(0, 40) };
  }
  return { kind: 'ok', generationId };
}

export async function writeGeneration(metaDir: string, generationId: string, mode: number): Promise<void> {
  await writeBytesAtomic(generationFilePath(metaDir), mode, Buffer.from(`${generationId}\n`));
}

export async function writeFollowedFile(metaDir: string, generationId: string, file: FileIdentity, mode: number): Promise<void> {
  const record = { dev: file.dev, ino: file.ino, birthtimeMs: file.birthtimeMs };
  await writeBytesAtomic(followedFilePath(metaDir, generationId), mode, Buffer.from(`${JSON.stringify(record)}\n`));
}

/** The file a generation follows; undefined when it recorded none (made by an older walsync) or the record is unreadable. */
export async function readFollowedFile(metaDir: string, generationId: string): Promise<FileIdentity | undefined> {
  let content: string;
  try {
    content = await fs.readFile(followedFilePath(metaDir, generationId), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw fileError(followedFilePath(metaDir, generationId), error);
  }
  try {
    const record = JSON.parse(content) as Partial<Record<keyof FileIdentity, unknown>>;
    const { dev, ino, birthtimeMs } = record;
    return typeof dev === 'number' && typeof ino === 'number' && typeof birthtimeMs === 'number' ? { dev, ino, birthtimeMs } : undefined;
  } catch {
    return undefined;
  }
}

/** Shadow WAL indexes present for a generation, ascending; foreign names are ignored. */
export async function listShadowIndexes(metaDir: string, generationId: string): Promise<number[]> {
  let names: string[];
  try {
    names = await fs.readdir(shadowWalDirPath(metaDir, generationId));
  } catch (error) {
    if (isNotFound(error)) return [];
    throw fileError(shadowWalDirPath(metaDir, generationId), error);
  }
  return names
    .map(parseShadowWalName)
    .filter((index): index is number => index !== undefined)
    .sort((a, b) => a - b);
}
