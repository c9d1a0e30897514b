/**
 * The "app" under test, as a separate node process with its own
 * better-sqlite3 connection: reads one JSON command per stdin line and
 * answers one JSON line on stdout. See app.ts for the commands.
 */
import { randomBytes } from 'node:crypto';
import readline from 'node:readline';
import Database from 'better-sqlite3';
import type { AppCommand, AppOptions } from './app-protocol.js';

const options = JSON.parse(process.argv[2]!) as AppOptions;
const db = new Database(options.dbPath);
if (options.pageSize) db.pragma(`page_size = ${options.pageSize}`);
db.pragma('journal_mode = WAL');
if (options.autocheckpoint !== undefined && options.autocheckpoint !== null) {
  db.pragma(`wal_autocheckpoint = ${options.autocheckpoint}`);
}
if (options.cacheSize) db.pragma(`cache_size = ${options.cacheSize}`);
db.exec('CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body BLOB)');
const insert = db.prepare('INSERT INTO t (body) VALUES (?)');

function insertRows(count: number, size: number, perTx: number): number {
  for (let done = 0; done < count; done += perTx) {
    db.transaction(() => {
      for (let i = 0; i < Math.min(perTx, count - done); i++) insert.run(randomBytes(size));
    })();
  }
  return count;
}

function handle(command: AppCommand): unknown {
  switch (command.op) {
    case 'exec':
      db.exec(command.sql);
      return null;
    case 'insert':
      return insertRows(command.count, command.size ?? 100, command.perTx ?? 1);
    case 'beginHold':
      db.exec('BEGIN IMMEDIATE');
      for (let i = 0; i < (command.rows ?? 0); i++) insert.run(randomBytes(command.size ?? 100));
      return null;
    case 'commitHold':
      db.exec('COMMIT');
      return null;
    case 'rollbackHold':
      db.exec('ROLLBACK');
      return null;
    case 'checkpoint':
      return Object.values((db.pragma(`wal_checkpoint(${command.mode})`) as Record<string, number>[])[0]!);
    case 'query':
      return db.prepare(command.sql).all();
    case 'close':
      db.close();
      return null;
  }
}

const lines = readline.createInterface({ input: process.stdin });
process.stdout.write(`${JSON.stringify({ ok: true, result: 'ready' })}\n`);
lines.on('line', (line) => {
  const command = JSON.parse(line) as AppCommand;
  let reply;
  try {
    reply = { ok: true, result: handle(command) };
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  process.stdout.write(`${JSON.stringify(reply)}\n`);
  if (command.op === 'close') process.exit(0);
});
lines.on('close', () => process.exit(0));
