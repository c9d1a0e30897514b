/**
 * (follow) A warm standby's lag: an app commits a counter every 50 ms for
 * 30 s, `walsync run` ships it to a file replica every 1 s, and
 * `walsync restore --follow` keeps a standby of that replica; a reader
 * watches the standby's counter. Lag is the time from each commit on the
 * primary to its counter being visible in the standby (p50, p99), with the
 * follower's peak RSS.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { startApp } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { peakRssMiB, startWalsyncRun, stopDaemon } from './daemons.js';
import type { Figure } from './figure.js';

const COMMIT_EVERY_MS = 50;
const DURATION_MS = 30_000;

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function followFigures(dir: string): Promise<Figure[]> {
  const dbPath = path.join(dir, 'follow-primary.db');
  const replicaDir = path.join(dir, 'follow-replica');
  const standby = path.join(dir, 'follow-standby.db');
  const app = await startApp({ dbPath });
  await app.exec('CREATE TABLE counter (n INTEGER); INSERT INTO counter VALUES (0); CREATE TABLE log (n INTEGER, body BLOB)');
  const walsync = await startWalsyncRun(path.join(dir, 'follow.yml'), [{ dbPath, replicaDir }]);
  const follower = spawn(process.execPath, [cliPath, 'restore', '--follow', '-o', standby, replicaDir], { stdio: ['ignore', 'ignore', 'ignore'] });
  const committedAt = new Map<number, number>();
  const visibleAt = new Map<number, number>();
  let reading = true;
  const reader = (async () => {
    while (!fs.existsSync(standby)) await sleep(10);
    const db = new Database(standby, { readonly: true, timeout: 5000 });
    try {
      while (reading) {
        try {
          const { n } = db.prepare('SELECT n FROM counter').get() as { n: number };
          const now = Date.now();
          for (let k = n; k > 0 && !visibleAt.has(k); k--) visibleAt.set(k, now);
        } catch {
          // Locked for an apply: the next look sees it.
        }
        await sleep(5);
      }
    } finally {
      db.close();
    }
  })();
  try {
    let n = 0;
    for (const end = Date.now() + DURATION_MS; Date.now() < end; await sleep(COMMIT_EVERY_MS)) {
      n++;
      await app.exec(`BEGIN; INSERT INTO log VALUES (${n}, randomblob(500)); UPDATE counter SET n = ${n}; COMMIT`);
      committedAt.set(n, Date.now());
    }
    for (const settle = Date.now() + 15_000; !visibleAt.has(n) && Date.now() < settle; ) await sleep(50);
    const followerPeakMiB = peakRssMiB(follower.pid!);
    reading = false;
    await reader;
    const lags = [...committedAt].filter(([k]) => visibleAt.has(k)).map(([k, at]) => (visibleAt.get(k)! - at) / 1000).sort((a, b) => a - b);
    const p50 = percentile(lags, 50);
    const p99 = percentile(lags, 99);
    return [
      {
        name: 'follow lag: a commit on the primary to visible in the standby (walsync run at 1 s, restore --follow on a file replica)',
        value: p99,
        unit: 's p99',
        goal: 'none (reported)',
        pass: true,
        raw: `p50 ${p50.toFixed(2)} s, p99 ${p99.toFixed(2)} s over ${lags.length} of ${committedAt.size} commits (one every ${COMMIT_EVERY_MS} ms for ${DURATION_MS / 1000} s)`,
      },
      {
        name: 'peak RSS of restore --follow',
        value: followerPeakMiB,
        unit: 'MiB',
        goal: '<= 128',
        pass: followerPeakMiB <= 128,
        raw: `VmHWM of the follower after ${DURATION_MS / 1000} s`,
      },
    ];
  } finally {
    reading = false;
    follower.kill('SIGTERM');
    await stopDaemon(walsync);
    await app.close();
  }
}
