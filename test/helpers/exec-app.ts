/**
 * The app that `walsync run --exec` starts in the tests: it writes rows into
 * its database until it is told to stop (SIGTERM, or after `exitAfterMs`),
 * commits one last row, and exits with `exitCode`. Options as argv[2] (JSON).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import Database from 'better-sqlite3';

export interface ExecAppOptions {
  readonly dbPath: string;
  /** Where the app writes `{"rowsAtStart": n}` once it has opened its database. */
  readonly startedFile: string;
  readonly exitCode?: number;
  readonly exitAfterMs?: number;
  /** Exit by the default action of SIGTERM (no handler), as an app that ignores the signal's meaning would. */
  readonly noTermHandler?: boolean;
  /** Leave an orphan behind: a grandchild whose parent exits at once, and which exits itself shortly after. */
  readonly orphan?: boolean;
}

const options = JSON.parse(process.argv[2]!) as ExecAppOptions;
const db = new Database(options.dbPath);
db.pragma('journal_mode = WAL');
db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)');
const insert = db.prepare('INSERT INTO notes (body) VALUES (?)');
const rowsAtStart = (db.prepare('SELECT count(*) AS n FROM notes').get() as { n: number }).n;
fs.writeFileSync(options.startedFile, JSON.stringify({ rowsAtStart, pid: process.pid }));
if (options.orphan) spawn('sh', ['-c', 'sleep 0.3 &'], { stdio: 'ignore' });

let written = 0;
const timer = setInterval(() => insert.run(`row ${++written}`), 20);
const finish = () => {
  clearInterval(timer);
  insert.run('last');
  db.close();
  process.exit(options.exitCode ?? 0);
};
if (!options.noTermHandler) process.on('SIGTERM', finish);
if (options.exitAfterMs !== undefined) setTimeout(finish, options.exitAfterMs);
