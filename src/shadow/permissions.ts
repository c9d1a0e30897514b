/**
 * Shadow files take the database file's permission bits, never wider;
 * directories add the search bit wherever a read bit is set (0600 → 0700).
 */
import fs from 'node:fs/promises';

export interface ShadowModes {
  readonly fileMode: number;
  readonly dirMode: number;
}

export function shadowModesFor(dbMode: number): ShadowModes {
  const fileMode = dbMode & 0o666;
  return { fileMode, dirMode: fileMode | ((fileMode & 0o444) >> 2) };
}

export async function readShadowModes(dbPath: string): Promise<ShadowModes> {
  return shadowModesFor((await fs.stat(dbPath)).mode);
}
