/**
 * (chain) Restore of the many-small-syncs case: a 1 GiB database and then
 * 1,000 syncs of about 256 KiB of WAL each (random rows rewritten), so the
 * replica holds a snapshot and 1,000 WAL segments — from a file replica and
 * from the local S3 server, against `cp` of the result, with peak RSS.
 * With BASELINE_CLI (another build's dist/src/cli/main.js), that build
 * restores the same file replica in the same run, for a before and after.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { run as runSnapshot } from '../jobs/snapshot.js';
import { run as runSync } from '../jobs/sync.js';
import { openJobContext } from '../src/job/context.js';
import { silentLogger } from '../src/log.js';
import type { ReplicaSpec } from '../src/replica/url.js';
import { startApp } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { startS3Server } from '../test/helpers/s3-server.js';
import { timed } from './daemons.js';
import type { Figure } from './figure.js';
import { HUGE_POLICY } from './in-process.js';

const MiB = 1024 * 1024;
const SEGMENTS = 1000;
/** Rows rewritten per sync: each is one 4 KiB page, with the b-tree pages above it (about 256 KiB of WAL). */
const ROWS_PER_SYNC = 60;

/** The database, a first snapshot and SEGMENTS syncs to every replica, in this process (no process start per sync). */
async function buildChain(dbPath: string, replicas: ReplicaSpec[]): Promise<{ walMiB: number }> {
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    while (fs.statSync(dbPath).size < 1024 * MiB) {
      await app.insert(20_000, { size: 4000, perTx: 500 });
      await app.checkpoint('TRUNCATE');
    }
    const [{ rows }] = await app.query<{ rows: number }>('SELECT max(rowid) AS rows FROM t');
    const ctx = await openJobContext(dbPath, { policy: HUGE_POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: false, replicas, lock: { role: 'one-shot', what: 'bench' } });
    try {
      await runSync(ctx);
      await runSnapshot(ctx);
      for (let i = 0; i < SEGMENTS; i++) {
        await app.exec(
          `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ${ROWS_PER_SYNC}) ` +
            `UPDATE t SET body = randomblob(4000) WHERE rowid IN (SELECT 1 + abs(random()) % ${rows} FROM n)`,
        );
        await runSync(ctx);
      }
    } finally {
      await ctx.close();
    }
    return { walMiB: fs.statSync(`${dbPath}-wal`).size / MiB };
  } finally {
    await app.close();
  }
}

/** Peak RSS of the bare SDK download of the snapshot (bench/s3-download.ts): what the S3 restore's peak is to be read against. */
function s3DownloadPeakMiB(replica: string): number {
  const script = fileURLToPath(new URL('./s3-download.js', import.meta.url));
  const { stderr } = timed('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, script, replica]);
  return Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024;
}

function restoreTimed(out: string, replica: string, cli = cliPath): { ms: number; peakMiB: number } {
  fs.rmSync(out, { force: true });
  timed('sync', []);
  const { ms, stderr } = timed('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, cli, 'restore', '-o', out, replica]);
  return { ms, peakMiB: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024 };
}

/** The restore holds the primary's rows: their count, total size, and every 500th row's bytes (a full dump of 1 GiB would dwarf the restore). */
function assertSameRows(primaryPath: string, restoredPath: string): void {
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

export async function chainFigures(dir: string): Promise<Figure[]> {
  const stops: (() => Promise<void>)[] = [];
  const savedEnv = { ...process.env };
  try {
    const s3 = await startS3Server((stop) => stops.push(stop));
    // The syncs in this process and the restores it starts reach the server with its credentials.
    Object.assign(process.env, s3.env());
    const fileReplica = path.join(dir, 'chain-replica');
    const dbPath = path.join(dir, 'chain.db');
    const { walMiB } = await buildChain(dbPath, [{ location: fileReplica }, { location: s3.url('chain') }]);
    const out = path.join(dir, 'chain-restored.db');
    const best = (replica: string, cli?: string) => {
      const runs = [restoreTimed(out, replica, cli), restoreTimed(out, replica, cli)];
      return { ms: Math.min(...runs.map((r) => r.ms)), peakMiB: Math.max(...runs.map((r) => r.peakMiB)) };
    };
    const baselineCli = process.env.BASELINE_CLI;
    const baseline = baselineCli ? best(fileReplica, baselineCli) : undefined;
    const file = best(fileReplica);
    const fromS3 = best(s3.url('chain'));
    const downloadPeakMiB = Math.max(s3DownloadPeakMiB(s3.url('chain')), s3DownloadPeakMiB(s3.url('chain')));
    assertSameRows(dbPath, out);
    const restoredMiB = fs.statSync(out).size / MiB;
    timed('sync', []);
    const cpMs = Math.min(...[0, 1].map(() => timed('cp', [out, path.join(dir, 'chain-copy.db')]).ms));
    fs.rmSync(path.join(dir, 'chain-copy.db'));
    const what = `a 1 GiB database + ${walMiB.toFixed(0)} MiB of WAL in ${SEGMENTS} segments`;
    return [
      {
        name: `restore time of ${what}, file replica`,
        value: file.ms / cpMs,
        unit: 'x cp',
        goal: '<= 2',
        pass: file.ms / cpMs <= 2,
        raw:
          `restore ${file.ms.toFixed(0)} ms (best of 2, the CLI, integrity_check included) for ${restoredMiB.toFixed(0)} MiB, cp of the result ${cpMs.toFixed(0)} ms` +
          (baseline ? `; ${baselineCli} in the same run: ${baseline.ms.toFixed(0)} ms, peak RSS ${baseline.peakMiB.toFixed(0)} MiB` : ''),
      },
      {
        name: `restore time of ${what}, local S3 server`,
        value: fromS3.ms / cpMs,
        unit: 'x cp',
        goal: 'none (reported)',
        pass: true,
        raw: `restore ${fromS3.ms.toFixed(0)} ms (best of 2) from s3rver on 127.0.0.1, cp ${cpMs.toFixed(0)} ms`,
      },
      {
        name: 'peak RSS of those restores',
        value: Math.max(file.peakMiB, fromS3.peakMiB),
        unit: 'MiB',
        goal: '<= 128',
        pass: Math.max(file.peakMiB, fromS3.peakMiB) <= 128,
        raw:
          `file ${file.peakMiB.toFixed(0)} MiB, s3 ${fromS3.peakMiB.toFixed(0)} MiB; ` +
          `a bare download of the snapshot through the same S3 client, dropping every byte, peaks at ${downloadPeakMiB.toFixed(0)} MiB (bench/s3-download.ts)`,
      },
    ];
  } finally {
    process.env = savedEnv;
    for (const stop of stops) await stop();
  }
}
