/**
 * An app that loads its own copy of better-sqlite3 (a second one, beside the
 * copy walsync uses) and then tries to start walsync's runner in-process,
 * which walsync must refuse. Prints the outcome as JSON.
 */
import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { createRunner, parseConfig } from '../../src/index.js';

const { dbPath, replica, secondCopy } = JSON.parse(process.argv[2]!) as { dbPath: string; replica: string; secondCopy: string };
const AppDatabase = createRequire(import.meta.url)(secondCopy) as typeof Database;
const db = new AppDatabase(dbPath);
db.pragma('journal_mode = WAL');
const config = parseConfig(`dbs:\n  - path: ${dbPath}\n    replicas:\n      - path: ${replica}\n`, '/embedded.yml', {});
try {
  const runner = await createRunner(config);
  await runner.stop();
  process.stdout.write(JSON.stringify({ ok: true }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, code: (error as { code?: string }).code, message: (error as Error).message }));
} finally {
  db.close();
}
