/**
 * The S3 replica's figures for `npm run bench`, against a local S3 server
 * (s3rver on 127.0.0.1) and the file replica on the same data:
 *  - S3 requests per 1000 app transactions with `sync --interval 1s`
 *    running under constant writes (counted by the server)
 *  - snapshot (upload) and restore throughput vs the file replica, and the
 *    peak RSS of each
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { startS3Server } from '../test/helpers/s3-server.js';
import type { S3Server } from '../test/helpers/s3-server.js';
import type { Figure } from './figure.js';

const MiB = 1024 * 1024;
const STEADY_MS = 20_000;

export async function s3Figures(dir: string): Promise<Figure[]> {
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const server = await startS3Server((stop) => cleanups.push(stop));
    return [await requestsPerTransaction(dir, server), ...(await throughputVsFile(dir, server))];
  } finally {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
  }
}

async function requestsPerTransaction(dir: string, server: S3Server): Promise<Figure> {
  const dbPath = path.join(dir, 's3-steady.db');
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  const walsync = spawn(process.execPath, [cliPath, 'sync', '--interval', '1s', dbPath, server.url('bench/steady')], { stdio: 'ignore', env: server.env() });
  try {
    await app.insert(100);
    // Past the first sync's listing and snapshot: the steady state is what a day costs.
    await sleep(3000);
    const before = server.requests.length;
    let transactions = 0;
    for (const end = Date.now() + STEADY_MS; Date.now() < end; await sleep(10)) {
      await app.insert(5, { size: 200 });
      transactions += 5;
    }
    const requests = server.requests.slice(before);
    const perSecond = requests.length / (STEADY_MS / 1000);
    const perThousand = (requests.length / transactions) * 1000;
    const methods = requests.reduce<Record<string, number>>((counts, r) => ({ ...counts, [r.method]: (counts[r.method] ?? 0) + 1 }), {});
    // Each upload is one PUT and the HEAD that confirms the store holds it (billed as a GET, about a twelfth of a PUT on AWS).
    const uploadsOnly = requests.every((r) => r.method === 'PUT' || r.method === 'HEAD') && (methods.PUT ?? 0) === (methods.HEAD ?? 0);
    const putsPerSecond = (methods.PUT ?? 0) / (STEADY_MS / 1000);
    return {
      name: 'S3 requests per 1000 app transactions, sync --interval 1s under constant writes',
      value: perThousand,
      unit: 'requests',
      // One upload per sync, plus one per WAL index that walsync's checkpoints start (the new index's first segment).
      goal: 'a PUT and its HEAD per upload, <= 2 uploads per sync',
      pass: uploadsOnly && putsPerSecond <= 2,
      raw: `${requests.length} requests (${JSON.stringify(methods)}) for ${transactions} transactions in ${STEADY_MS / 1000} s: ${perSecond.toFixed(2)} requests/s, ${(perSecond * 3600).toFixed(0)} per hour`,
    };
  } finally {
    walsync.kill('SIGTERM');
    await new Promise((resolve) => walsync.once('exit', resolve));
    await app.close();
  }
}

function measure(args: string[], env: NodeJS.ProcessEnv): { ms: number; peakMiB: number } {
  const start = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, cliPath, ...args], { encoding: 'utf8', env });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`walsync ${args.join(' ')} failed: ${result.stderr}`);
  return { ms, peakMiB: Number(/maxrss=(\d+)/.exec(result.stderr)?.[1] ?? 0) / 1024 };
}

async function throughputVsFile(dir: string, server: S3Server): Promise<Figure[]> {
  const dbPath = path.join(dir, 's3-big.db');
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    while (fs.statSync(dbPath).size < 256 * MiB) {
      await app.insert(8000, { size: 4000, perTx: 500 });
      await app.checkpoint('TRUNCATE');
    }
    const dbSize = fs.statSync(dbPath).size;
    const replicas = { file: path.join(dir, 's3-bench-file-replica'), s3: server.url('bench/big') };
    const results: Record<string, { snapshot: { ms: number; peakMiB: number }; restore: { ms: number; peakMiB: number } }> = {};
    for (const [kind, replica] of Object.entries(replicas)) {
      measure(['sync', '--once', dbPath, replica], server.env());
      const snapshot = measure(['snapshot', dbPath, replica], server.env());
      const out = path.join(dir, `s3-bench-restored-${kind}.db`);
      const restore = measure(['restore', '-o', out, replica], server.env());
      fs.rmSync(out);
      results[kind] = { snapshot, restore };
    }
    const { file, s3 } = results as Record<'file' | 's3', (typeof results)[string]>;
    const rate = (ms: number) => `${((dbSize / MiB) / (ms / 1000)).toFixed(0)} MiB/s`;
    return [
      {
        name: `snapshot (upload) of a ${(dbSize / MiB).toFixed(0)} MiB database to the local S3 server`,
        value: file.snapshot.ms / s3.snapshot.ms,
        unit: 'x file replica',
        goal: '>= 0.5',
        pass: file.snapshot.ms / s3.snapshot.ms >= 0.5,
        raw: `s3 ${s3.snapshot.ms.toFixed(0)} ms (${rate(s3.snapshot.ms)}, peak RSS ${s3.snapshot.peakMiB.toFixed(0)} MiB), file ${file.snapshot.ms.toFixed(0)} ms (${rate(file.snapshot.ms)}, ${file.snapshot.peakMiB.toFixed(0)} MiB)`,
      },
      {
        name: 'restore of that database from the local S3 server',
        value: file.restore.ms / s3.restore.ms,
        unit: 'x file replica',
        goal: '>= 0.5',
        pass: file.restore.ms / s3.restore.ms >= 0.5,
        raw: `s3 ${s3.restore.ms.toFixed(0)} ms (${rate(s3.restore.ms)}, peak RSS ${s3.restore.peakMiB.toFixed(0)} MiB), file ${file.restore.ms.toFixed(0)} ms (${rate(file.restore.ms)}, ${file.restore.peakMiB.toFixed(0)} MiB)`,
      },
    ];
  } finally {
    await app.close();
  }
}
