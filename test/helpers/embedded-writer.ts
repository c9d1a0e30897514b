/**
 * An app that writes with better-sqlite3 in its main thread while walsync's
 * runner (the library API) runs in the same process. Prints what the app saw
 * as JSON: commits, SQLITE_BUSY errors, and the generations walsync started.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { createRunner, parseConfig } from '../../src/index.js';
import type { Logger } from '../../src/index.js';

const { dbPath, replica, ms } = JSON.parse(process.argv[2]!) as { dbPath: string; replica: string; ms: number };
// A short busy timeout: a write lock held for long would show up as SQLITE_BUSY quickly.
const db = new Database(dbPath, { timeout: 1000 });
db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB, at INTEGER)');
const config = parseConfig(
  [
    'dbs:',
    `  - path: ${dbPath}`,
    '    replicas:',
    `      - path: ${replica}`,
    '        sync-interval: 1s',
    '        snapshot-interval: 4s',
  ].join('\n'),
  '/embedded.yml',
  {},
);
const generations: string[] = [];
const errors: string[] = [];
const log: Logger = {
  debug() {},
  info(event, fields) {
    if (event === 'new generation') generations.push(String(fields?.generation));
  },
  warn() {},
  error(event, fields) {
    errors.push(`${event}: ${String(fields?.error)}`);
  },
};
const runner = await createRunner(config, { log });
const insert = db.prepare('INSERT INTO t (body, at) VALUES (randomblob(?), ?)');
const commit = db.transaction(() => {
  for (let i = 0; i < 5; i++) insert.run(300, Date.now());
});
let commits = 0;
let busy = 0;
const end = Date.now() + ms;
while (Date.now() < end) {
  try {
    commit();
    commits++;
  } catch (error) {
    if (!(error instanceof Database.SqliteError && error.code.startsWith('SQLITE_BUSY'))) throw error;
    busy++;
  }
  await sleep(2);
}
await runner.stop();
db.close();
process.stdout.write(JSON.stringify({ commits, busy, generations, errors }));
