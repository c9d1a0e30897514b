/** Reading a database's shadow from a test, and rebuilding a database from it the way a restore would. */
import fs from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';

export function metaDirOf(dbPath: string): string {
  return path.join(path.dirname(dbPath), `.${path.basename(dbPath)}-walsync`);
}

export async function currentGeneration(dbPath: string): Promise<string> {
  return (await fs.readFile(path.join(metaDirOf(dbPath), 'generation'), 'utf8')).trim();
}

export async function listGenerations(dbPath: string): Promise<string[]> {
  return (await fs.readdir(path.join(metaDirOf(dbPath), 'generations'))).sort();
}

/** Shadow WAL files of a generation, in index order. */
export async function shadowFiles(dbPath: string, generationId: string): Promise<string[]> {
  const dir = path.join(metaDirOf(dbPath), 'generations', generationId, 'wal');
  return (await fs.readdir(dir))
    .filter((name) => /^[0-9a-f]{8}\.wal$/.test(name))
    .sort()
    .map((name) => path.join(dir, name));
}

export async function listTmpFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true });
  return entries.filter((name) => String(name).endsWith('.tmp')).map(String);
}

/**
 * Applies shadow WAL files in order to a copy of the database taken before
 * the generation's first frame: each becomes `<db>-wal` and is checkpointed
 * with TRUNCATE, as a restore does.
 */
export async function rebuildFromShadow(baseDbPath: string, walFiles: string[], outPath: string): Promise<void> {
  await fs.copyFile(baseDbPath, outPath);
  for (const walFile of walFiles) {
    await fs.copyFile(walFile, `${outPath}-wal`);
    await fs.rm(`${outPath}-shm`, { force: true });
    const db = new Database(outPath);
    try {
      const [row] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number; checkpointed: number }[];
      if (row!.busy !== 0 || row!.log !== row!.checkpointed) throw new Error(`checkpoint of ${walFile} incomplete`);
    } finally {
      db.close();
    }
  }
}

/** All rows of every table, for a row-for-row comparison. */
export function dumpTables(dbPath: string, options: { exclude?: string[] } = {}): Record<string, unknown[]> {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    const dump: Record<string, unknown[]> = {};
    for (const { name } of tables) {
      if (options.exclude?.includes(name)) continue;
      dump[name] = db.prepare(`SELECT * FROM "${name}" ORDER BY rowid`).all();
    }
    return dump;
  } finally {
    db.close();
  }
}

export function integrityCheck(dbPath: string): string {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  try {
    return String(db.pragma('integrity_check', { simple: true }));
  } finally {
    db.close();
  }
}
