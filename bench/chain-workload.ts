/**
 * The chain benches' workload (the many-small-syncs case): a 1 GiB database,
 * then SEGMENTS commits of ROWS_PER_SYNC random rows rewritten, each shipped
 * as a WAL segment of its own; and how a restore of it is timed and checked.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import Database from 'better-sqlite3';
import type { App } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { timed } from './daemons.js';

const MiB = 1024 * 1024;
export const SEGMENTS = 1000;
/** Rows rewritten per sync: each is one 4 KiB page, with the b-tree pages above it (about 256 KiB of WAL). */
const ROWS_PER_SYNC = 60;

/** Grows the app's database to 1 GiB of 4 KiB rows, checkpointed; returns the number of rows. */
export async function growToOneGiB(app: App, dbPath: string): Promise<number> {
  while (fs.statSync(dbPath).size < 1024 * MiB) {
    await app.insert(20_000, { size: 4000, perTx: 500 });
    await app.checkpoint('TRUNCATE');
  }
  const [{ rows }] = await app.query<{ rows: number }>('SELECT max(rowid) AS rows FROM t');
  return rows;
}

/** One of the chain's commits: ROWS_PER_SYNC random rows of `rows` rewritten. */
export function rewriteRows(app: App, rows: number): Promise<void> {
  return app.exec(
    `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS_PER_SYNC}) ` +
      `UPDATE t SET body = randomblob(4000) WHERE rowid IN (SELECT 1 + abs(random()) % ${rows} FROM n)`,
  );
}

/** A walsync CLI restore to `out` (removed first, the page cache written back), with its time and peak RSS. */
export function restoreTimed(out: string, replica: string, cli = cliPath, flags: string[] = []): { ms: number; peakMiB: number } {
  fs.rmSync(out, { force: true });
  timed('sync', []);
  const { ms, stderr } = timed('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, cli, 'restore', ...flags, '-o', out, replica]);
  return { ms, peakMiB: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024 };
}

/** The restore holds the primary's rows: their count, total size, and every 500th row's bytes (a full dump of 1 GiB would dwarf the restore). */
export function assertSameRows(primaryPath: string, restoredPath: string): void {
  const summary = (dbPath: string) => {
    const db = new Database(dbPath, { readonly: true });
    try {
      const hash = createHash('sha256');
      for (const row of db.prepare('SELECT rowid, body FROM t WHERE rowid % 500 = 7 ORDER BY rowid').iterate() as Iterable<{ rowid: number; body: Buffer }>) {
        hash.update(String(row.rowid)).update(row.body);
      }
      const { count, bytes } = db.prepare('SELECT count(*) AS count, sum(length(body)) AS bytes FROM t').get() as { count: number; bytes: number };
      return `${count} rows, ${bytes} bytes, sample ${hash.digest('hex')}`;
    } finally {
      db.close();
    }
  };
  const [primary, restored] = [summary(primaryPath), summary(restoredPath)];
  if (primary !== restored) throw new Error(`bench chain: the restore differs from the primary (${restored} vs ${primary})`);
}

/** The best time and the highest peak of two restores. */
export function bestOfTwo(restore: () => { ms: number; peakMiB: number }): { ms: number; peakMiB: number } {
  const runs = [restore(), restore()];
  return { ms: Math.min(...runs.map((r) => r.ms)), peakMiB: Math.max(...runs.map((r) => r.peakMiB)) };
}
