/**
 * `npm run bench`: walsync's speed and memory, each figure a ratio against a
 * baseline measured in the same run on the same machine.
 *  (a) shadow copy throughput of a >= 256 MiB committed WAL vs cp + fsync
 *  (b) a no-op `sync --once` vs a bare `node -e ''`
 *  (c) app commit throughput with `walsync sync --interval 1s` running vs without
 *  (d) peak RSS of syncing the 256 MiB WAL
 *  (e) peak RSS of shipping it to a file replica and restoring it
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from '../test/helpers/app.js';
import type { App } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { run as runSync } from '../jobs/sync.js';
import { openJobContext } from '../src/job.js';
import { silentLogger } from '../src/log.js';

const MiB = 1024 * 1024;
const WAL_TARGET_SIZE = 260 * MiB;
const NO_CHECKPOINTS = ['--checkpoint-min-pages', '100000000', '--checkpoint-truncate-pages', '100000000', '--checkpoint-idle-interval', '0'];
const HUGE_POLICY = { minPageCount: 100_000_000, truncatePageCount: 100_000_000, idleIntervalMs: 0 };

interface Figure {
  name: string;
  value: number;
  unit: string;
  goal: string;
  pass: boolean;
  raw: string;
}

function timed(command: string, args: string[]): { ms: number; stderr: string } {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return { ms, stderr: result.stderr };
}

function bestOf(times: number, run: () => number): number {
  let best = Infinity;
  for (let i = 0; i < times; i++) best = Math.min(best, run());
  return best;
}

async function buildBigWal(app: App, walPath: string): Promise<number> {
  while (fs.statSync(walPath).size < WAL_TARGET_SIZE) await app.insert(5000, { size: 4000, perTx: 250 });
  return fs.statSync(walPath).size;
}

/** The library's sync, in this process: the copy itself, without a process start. */
async function inProcessSyncMs(dbPath: string): Promise<number> {
  const ctx = await openJobContext(dbPath, { policy: HUGE_POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: false });
  try {
    const start = process.hrtime.bigint();
    await runSync(ctx);
    return Number(process.hrtime.bigint() - start) / 1e6;
  } finally {
    ctx.db.close();
  }
}

async function copyThroughput(dir: string, dbPath: string, walSize: number): Promise<Figure[]> {
  const walPath = `${dbPath}-wal`;
  const metaDir = path.join(dir, '.app.db-walsync');
  timed('sh', ['-c', 'cat "$1" > /dev/null', 'sh', walPath]); // warm the page cache for both sides
  const cpMs = bestOf(3, () => {
    const target = path.join(dir, 'copy.wal');
    fs.rmSync(target, { force: true });
    const ms = timed('cp', [walPath, target]).ms + timed('sync', [target]).ms;
    fs.rmSync(target);
    return ms;
  });
  let syncMs = Infinity;
  for (let trial = 0; trial < 5; trial++) {
    fs.rmSync(metaDir, { recursive: true, force: true });
    syncMs = Math.min(syncMs, await inProcessSyncMs(dbPath));
  }
  let peakKiB = 0;
  const cliMs = bestOf(3, () => {
    fs.rmSync(metaDir, { recursive: true, force: true });
    const { ms, stderr } = timed('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, cliPath, 'sync', '--once', ...NO_CHECKPOINTS, dbPath]);
    peakKiB = Math.max(peakKiB, Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0));
    return ms;
  });
  const rate = (ms: number) => walSize / MiB / (ms / 1000);
  const ratio = rate(syncMs) / rate(cpMs);
  const peakMiB = peakKiB / 1024;
  return [
    {
      name: 'shadow copy throughput',
      value: ratio,
      unit: 'x cp+fsync',
      goal: '>= 0.8',
      pass: ratio >= 0.8,
      raw:
        `${(walSize / MiB).toFixed(0)} MiB WAL: walsync ${rate(syncMs).toFixed(0)} MiB/s (${syncMs.toFixed(0)} ms in process), ` +
        `cp+fsync ${rate(cpMs).toFixed(0)} MiB/s (${cpMs.toFixed(0)} ms); the CLI with its process start: ${cliMs.toFixed(0)} ms`,
    },
    {
      name: 'peak RSS syncing the WAL',
      value: peakMiB,
      unit: 'MiB',
      goal: '<= 96',
      pass: peakMiB <= 96,
      raw: `maxrss ${peakKiB} KiB of the walsync CLI process for a ${(walSize / MiB).toFixed(0)} MiB WAL`,
    },
  ];
}

/** Ship the big WAL to a file replica, then restore it: time and peak memory of each. */
function replicaRoundTrip(dir: string, dbPath: string, walSize: number): Figure[] {
  const replica = path.join(dir, 'replica');
  const out = path.join(dir, 'restored.db');
  fs.rmSync(path.join(dir, '.app.db-walsync'), { recursive: true, force: true });
  const measure = (args: string[]) => {
    const { ms, stderr } = timed('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, cliPath, ...args]);
    return { ms, peakMiB: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024 };
  };
  const ship = measure(['sync', '--once', ...NO_CHECKPOINTS, dbPath, replica]);
  const back = measure(['restore', '-o', out, replica]);
  const restoredSize = fs.statSync(out).size;
  const stored = fs.readdirSync(replica, { recursive: true }).reduce<number>((sum, name) => {
    const stats = fs.statSync(path.join(replica, String(name)));
    return stats.isFile() ? sum + stats.size : sum;
  }, 0);
  const peak = Math.max(ship.peakMiB, back.peakMiB);
  return [
    {
      name: 'peak RSS shipping and restoring via a file replica',
      value: peak,
      unit: 'MiB',
      goal: '<= 96',
      pass: peak <= 96,
      raw:
        `sync to replica ${ship.ms.toFixed(0)} ms (${ship.peakMiB.toFixed(0)} MiB RSS; ${(walSize / MiB).toFixed(0)} MiB WAL + snapshot -> ${(stored / MiB).toFixed(0)} MiB LZ4), ` +
        `restore ${back.ms.toFixed(0)} ms (${back.peakMiB.toFixed(0)} MiB RSS; ${(restoredSize / MiB).toFixed(0)} MiB database, ${(restoredSize / MiB / (back.ms / 1000)).toFixed(0)} MiB/s)`,
    },
  ];
}

async function noopSync(dir: string): Promise<Figure> {
  const dbPath = path.join(dir, 'small.db');
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    await app.insert(1000, { perTx: 10 });
    timed(process.execPath, [cliPath, 'sync', '--once', dbPath]);
    const walsyncMs = bestOf(5, () => timed(process.execPath, [cliPath, 'sync', '--once', dbPath]).ms);
    const nodeMs = bestOf(5, () => timed(process.execPath, ['-e', '']).ms);
    const ratio = walsyncMs / nodeMs;
    return {
      name: 'no-op sync --once wall time',
      value: ratio,
      unit: "x node -e ''",
      goal: '<= 3',
      pass: ratio <= 3,
      raw: `walsync ${walsyncMs.toFixed(0)} ms, node -e '' ${nodeMs.toFixed(0)} ms`,
    };
  } finally {
    await app.close();
  }
}

async function commitsFor(app: App, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let commits = 0;
  while (Date.now() < end) {
    await app.insert(200);
    commits += 200;
  }
  return commits;
}

async function commitThroughput(dir: string, autocheckpoint?: number): Promise<Figure> {
  const dbPath = path.join(dir, `busy-${autocheckpoint ?? 'default'}.db`);
  const app = await startApp({ dbPath, autocheckpoint });
  const runMs = 5000;
  try {
    await commitsFor(app, 1000);
    const without: number[] = [];
    const withSync: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      // Both sides start from an empty WAL, whatever the previous side left.
      await app.checkpoint('TRUNCATE');
      without.push(await commitsFor(app, runMs));
      await app.checkpoint('TRUNCATE');
      const walsync = spawn(process.execPath, [cliPath, 'sync', '--interval', '1s', dbPath], { stdio: 'ignore' });
      try {
        await sleep(500);
        withSync.push(await commitsFor(app, runMs));
      } finally {
        walsync.kill('SIGTERM');
        await new Promise((resolve) => walsync.once('exit', resolve));
      }
    }
    const bare = Math.max(...without) / (runMs / 1000);
    const synced = Math.max(...withSync) / (runMs / 1000);
    const ratio = synced / bare;
    return {
      name: `app commit throughput with sync running (app wal_autocheckpoint ${autocheckpoint ?? 'default 1000'})`,
      value: ratio,
      unit: 'x without',
      goal: '>= 0.95',
      pass: ratio >= 0.95,
      raw: `${synced.toFixed(0)} commits/s with walsync sync --interval 1s, ${bare.toFixed(0)} commits/s without`,
    };
  } finally {
    await app.close();
  }
}

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walsync-bench-'));
  try {
    const dbPath = path.join(dir, 'app.db');
    const app = await startApp({ dbPath, autocheckpoint: 0 });
    const figures: Figure[] = [];
    try {
      const walSize = await buildBigWal(app, `${dbPath}-wal`);
      figures.push(...(await copyThroughput(dir, dbPath, walSize)));
      figures.push(...replicaRoundTrip(dir, dbPath, walSize));
    } finally {
      await app.close();
    }
    figures.push(await noopSync(dir));
    figures.push(await commitThroughput(dir));
    figures.push(await commitThroughput(dir, 0));
    for (const figure of figures) {
      process.stdout.write(
        `bench: ${figure.name} ${figure.value.toFixed(2)} ${figure.unit} (goal ${figure.goal}) ${figure.pass ? 'PASS' : 'MISS'}\n       ${figure.raw}\n`,
      );
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

await main();
