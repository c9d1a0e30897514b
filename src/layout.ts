/**
 * Where walsync keeps things next to a database (docs/formats.md,
 * "The shadow"): `<dir>/.<name>-walsync/` holds the `generation` file and
 * `generations/<generation>/wal/<index:08x>.wal`.
 */
import path from 'node:path';
import { formatIndex, parseIndex } from './wal/pos.js';

export const TMP_SUFFIX = '.tmp';
const SHADOW_WAL_NAME = /^([0-9a-f]{8})\.wal$/;

export function walPathFor(dbPath: string): string {
  return `${dbPath}-wal`;
}

export function defaultMetaDir(dbPath: string): string {
  return path.join(path.dirname(dbPath), `.${path.basename(dbPath)}-walsync`);
}

/** A shadow directory's name, as defaultMetaDir makes it: never a place to look for databases. */
export function isMetaDirName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('-walsync');
}

export function generationFilePath(metaDir: string): string {
  return path.join(metaDir, 'generation');
}

export function generationsDirPath(metaDir: string): string {
  return path.join(metaDir, 'generations');
}

export function generationDirPath(metaDir: string, generationId: string): string {
  return path.join(generationsDirPath(metaDir), generationId);
}

/** Which database file the generation follows (src/shadow/generation.ts). */
export function followedFilePath(metaDir: string, generationId: string): string {
  return path.join(generationDirPath(metaDir, generationId), 'database.json');
}

export function shadowWalDirPath(metaDir: string, generationId: string): string {
  return path.join(generationDirPath(metaDir, generationId), 'wal');
}

export function shadowWalPath(metaDir: string, generationId: string, index: number): string {
  return path.join(shadowWalDirPath(metaDir, generationId), formatShadowWalName(index));
}

export function formatShadowWalName(index: number): string {
  return `${formatIndex(index)}.wal`;
}

export function parseShadowWalName(name: string): number | undefined {
  const match = SHADOW_WAL_NAME.exec(name);
  return match ? parseIndex(match[1]!) : undefined;
}
