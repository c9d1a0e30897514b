/**
 * (chain) Restore of the many-small-syncs case: a 1 GiB database and then
 * 1,000 syncs of about 256 KiB of WAL each (random rows rewritten), so the
 * replica holds a snapshot and 1,000 WAL segments — from a file replica and
 * from the local S3 server, against `cp` of the result, with peak RSS.
 * With BASELINE_CLI (another build's dist/src/cli/main.js), that build
 * restores the same file replica in the same run, for a before and after;
 * with LITESTREAM_BIN, Litestream replicates the same workload and each tool
 * restores its own replica (bench/litestream-chain.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run as runSnapshot } from '../jobs/snapshot.js';
import { run as runSync } from '../jobs/sync.js';
import { openJobContext } from '../src/job/context.js';
import { silentLogger } from '../src/log.js';
import type { ReplicaSpec } from '../src/replica/url.js';
import { startApp } from '../test/helpers/app.js';
import { startS3Server } from '../test/helpers/s3-server.js';
import { timed } from './daemons.js';
import type { Figure } from './figure.js';
import { HUGE_POLICY } from './in-process.js';
import { SEGMENTS, assertSameRows, bestOfTwo, growToOneGiB, restoreTimed, rewriteRows } from './chain-workload.js';
import { litestreamChainFigures } from './litestream-chain.js';

const MiB = 1024 * 1024;

/** The database, a first snapshot and SEGMENTS syncs to every replica, in this process (no process start per sync). */
async function buildChain(dbPath: string, replicas: ReplicaSpec[]): Promise<{ walMiB: number }> {
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    const rows = await growToOneGiB(app, dbPath);
    const ctx = await openJobContext(dbPath, { policy: HUGE_POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: false, replicas, lock: { role: 'one-shot', what: 'bench' } });
    try {
      await runSync(ctx);
      await runSnapshot(ctx);
      for (let i = 0; i < SEGMENTS; i++) {
        await rewriteRows(app, rows);
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
    const best = (replica: string, cli?: string) => bestOfTwo(() => restoreTimed(out, replica, cli));
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
    // Beside Litestream where it is at hand: the same workload, each tool restoring its own replica.
    const sideBySide = process.env.LITESTREAM_BIN ? await litestreamChainFigures(dir, { ms: file.ms, uncheckedMs: bestOfTwo(() => restoreTimed(out, fileReplica, undefined, ['--integrity-check', 'none'])).ms }) : [];
    return [
      ...sideBySide,
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
