/**
 * A file replica laid out by hand in a temp dir: empty objects with the
 * layout's names and chosen modification times (an object's creation time),
 * for the rules that only read names and times (retention, the restore plan).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { snapshotKey, walSegmentKey } from '../../src/replica/layout.js';

export const T0 = new Date('2026-11-01T00:00:00Z').getTime();

/** `minutes` after T0. */
export function at(minutes: number): Date {
  return new Date(T0 + minutes * 60_000);
}

export async function putSnapshot(root: string, generationId: string, index: number, minutes: number): Promise<void> {
  await putObject(root, snapshotKey(generationId, index), minutes);
}

export async function putWalSegment(root: string, generationId: string, index: number, offset: number, minutes: number): Promise<void> {
  await putObject(root, walSegmentKey(generationId, index, offset), minutes);
}

async function putObject(root: string, key: string, minutes: number): Promise<void> {
  const file = path.join(root, key);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, '');
  await fs.utimes(file, at(minutes), at(minutes));
}

/** Every object key under the replica, sorted. */
export async function objectKeys(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(root, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort();
}
