/**
 * `npm run bench`: walsync's speed and memory, each figure a ratio against a
 * baseline measured in the same run on the same machine.
 *  (a) shadow copy throughput of a >= 256 MiB committed WAL vs cp + fsync
 *  (b) a no-op `sync --once` vs a bare `node -e ''`
 *  (c) app commit throughput with `walsync sync --interval 1s` running vs without
 *  (d) peak RSS of syncing the 256 MiB WAL
 *  (e) a 1 GiB database with 256 MiB of WAL: snapshot vs the lz4 CLI,
 *      restore vs cp, and the restore's peak memory
 *  (f) CPU time of an idle `walsync run` over 10 databases, as a share of one core
 *  (g) app commit throughput with `walsync run` active vs without, and for
 *      reference beside the least a WAL backup does (bench/wal-tailer.ts)
 *  (s) `walsync run`'s stop, SIGTERM to exit with its final sync, beside a busy app, vs docker stop's 10 s grace
 *  (age) the 1 GiB database's snapshot and restore with age encryption on vs off (bench/remote.ts)
 *  (sftp) its snapshot upload and restore over SFTP to a local sshd vs a file replica (bench/remote.ts)
 *  (chain) restore of the 1 GiB database + 1,000 WAL segments of ~256 KiB, from a file replica and s3rver, vs cp (bench/restore-chain.ts)
 *  (follow) commit-to-standby lag of restore --follow beside walsync run at 1 s, and the follower's memory (bench/follow.ts)
 *  (fleet) one walsync run over a dir: entry of 1,000 databases (FLEET_SIZES): first snapshots, idle CPU, memory, descriptors, commit-to-replica lag (bench/fleet.ts)
 *  (ls) with LITESTREAM_BIN: walsync run and litestream replicate side by side (bench/litestream.ts); (lsrestore) only its restore figure, asked for by name
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from '../test/helpers/app.js';
import type { App } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { run as runSync } from '../jobs/sync.js';
import { openJobContext } from '../src/job/context.js';
import { silentLogger } from '../src/log.js';
import { fleetFigures } from './fleet.js';
import { HUGE_POLICY, inProcessSnapshot } from './in-process.js';
import { ageFigures, sftpFigures } from './remote.js';
import { chainFigures } from './restore-chain.js';
import { followFigures } from './follow.js';
import { litestreamFigures, litestreamRestoreFigure } from './litestream.js';
import { s3Figures } from './s3.js';
import type { Figure } from './figure.js';
import { commitFigure, commitRates, commitsFor, cpuSecondsOf, startWalsyncRun, stopDaemon, timed } from './daemons.js';
import type { RunTarget } from './daemons.js';

const MiB = 1024 * 1024;
const WAL_TARGET_SIZE = 260 * MiB;
const NO_CHECKPOINTS = ['--checkpoint-min-pages', '100000000', '--checkpoint-truncate-pages', '100000000', '--checkpoint-idle-interval', '0'];

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
  const ctx = await openJobContext(dbPath, { policy: HUGE_POLICY, busyTimeoutMs: 5000, log: silentLogger, switchToWal: false, lock: { role: 'one-shot', what: 'bench' } });
  try {
    const start = process.hrtime.bigint();
    await runSync(ctx);
    return Number(process.hrtime.bigint() - start) / 1e6;
  } finally {
    await ctx.close();
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

/**
 * A 1 GiB database with 256 MiB of WAL on top: a snapshot of it vs the lz4
 * CLI on the same file, and a restore of it (snapshot plus WAL) vs cp of the
 * same bytes, with the restore's peak memory.
 */
async function replicaFigures(dir: string): Promise<Figure[]> {
  const dbPath = path.join(dir, 'big.db');
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  const replica = path.join(dir, 'replica');
  const out = path.join(dir, 'restored.db');
  try {
    while (fs.statSync(dbPath).size < 1024 * MiB) {
      await app.insert(20_000, { size: 4000, perTx: 500 });
      await app.checkpoint('TRUNCATE');
    }
    while (fs.statSync(`${dbPath}-wal`).size < 256 * MiB) await app.insert(5000, { size: 4000, perTx: 250 });
    const dbSize = fs.statSync(dbPath).size;
    const measure = (args: string[]) => {
      const { ms, stderr } = timed('/usr/bin/time', ['-f', 'maxrss=%M', process.execPath, cliPath, ...args]);
      return { ms, peakMiB: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024 };
    };
    timed(process.execPath, [cliPath, 'sync', '--once', ...NO_CHECKPOINTS, dbPath, replica]);
    const snapshotCli = measure(['snapshot', ...NO_CHECKPOINTS, dbPath, replica]);
    // The disk here is shared and noisy: the sides take turns, each keeps its best, and each
    // starts with nothing dirty in the page cache (building the database leaves gigabytes to write back).
    const lz4Out = path.join(dir, 'cli.lz4');
    let lz4Ms = Infinity;
    let snapshot = { ms: Infinity, imageSize: 0 };
    for (let trial = 0; trial < 3; trial++) {
      timed('sync', []);
      lz4Ms = Math.min(lz4Ms, timed('sh', ['-c', 'lz4 -q -f "$1" "$2" && sync "$2"', 'sh', dbPath, lz4Out]).ms);
      timed('sync', []);
      const inProcess = await inProcessSnapshot(dbPath, { location: replica });
      if (inProcess.ms < snapshot.ms) snapshot = inProcess;
    }
    fs.rmSync(lz4Out);
    const restore = measure(['restore', '-o', out, replica]);
    const restoredSize = fs.statSync(out).size;
    const cpMs = timed('cp', [out, path.join(dir, 'copy.db')]).ms;
    fs.rmSync(path.join(dir, 'copy.db'));
    const rate = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);
    const snapshotRatio = rate(snapshot.imageSize, snapshot.ms) / rate(dbSize, lz4Ms);
    const restoreRatio = restore.ms / cpMs;
    return [
      {
        name: 'snapshot throughput of a 1 GiB database',
        value: snapshotRatio,
        unit: 'x lz4 CLI + fsync',
        goal: '>= 0.7',
        pass: snapshotRatio >= 0.7,
        raw:
          `walsync ${rate(snapshot.imageSize, snapshot.ms).toFixed(0)} MiB/s (${(snapshot.imageSize / MiB).toFixed(0)} MiB database image in ${snapshot.ms.toFixed(0)} ms, in process), ` +
          `lz4 -q + sync ${rate(dbSize, lz4Ms).toFixed(0)} MiB/s (${(dbSize / MiB).toFixed(0)} MiB file in ${lz4Ms.toFixed(0)} ms); ` +
          `the CLI's walsync snapshot with its process start and shadow check: ${snapshotCli.ms.toFixed(0)} ms`,
      },
      {
        name: 'restore time of the 1 GiB database with 256 MiB of WAL',
        value: restoreRatio,
        unit: 'x cp',
        goal: '<= 3',
        pass: restoreRatio <= 3,
        raw: `restore ${restore.ms.toFixed(0)} ms for ${(restoredSize / MiB).toFixed(0)} MiB, cp of the result ${cpMs.toFixed(0)} ms`,
      },
      {
        name: 'peak RSS of that restore',
        value: restore.peakMiB,
        unit: 'MiB',
        goal: '<= 128',
        pass: restore.peakMiB <= 128,
        raw: `restore ${restore.peakMiB.toFixed(0)} MiB, snapshot (the CLI) ${snapshotCli.peakMiB.toFixed(0)} MiB`,
      },
    ];
  } finally {
    await app.close();
  }
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

async function commitThroughput(dir: string, autocheckpoint?: number): Promise<Figure> {
  const dbPath = path.join(dir, `busy-${autocheckpoint ?? 'default'}.db`);
  const rates = await commitRates(dbPath, autocheckpoint, async () => {
    const walsync = spawn(process.execPath, [cliPath, 'sync', '--interval', '1s', dbPath], { stdio: 'ignore' });
    await sleep(500);
    return walsync;
  });
  return commitFigure(`app commit throughput with sync running (app wal_autocheckpoint ${autocheckpoint ?? 'default 1000'})`, 'walsync sync --interval 1s', rates);
}

async function idleRunCpu(dir: string): Promise<Figure> {
  const databaseCount = 10;
  const measureMs = 60_000;
  const targets: RunTarget[] = [];
  const apps: App[] = [];
  try {
    for (let i = 0; i < databaseCount; i++) {
      const target = { dbPath: path.join(dir, `idle-${i}.db`), replicaDir: path.join(dir, `idle-replica-${i}`) };
      const app = await startApp({ dbPath: target.dbPath });
      apps.push(app);
      await app.insert(1000, { perTx: 100 });
      targets.push(target);
    }
    // Each database's last commit is followed by one idle checkpoint (a new WAL index shipped to
    // its replica): work the writes left, not idleness. A short idle interval gets it done first.
    const walsync = await startWalsyncRun(path.join(dir, 'idle.yml'), targets, ['    checkpoint:', '      idle-interval: 2s']);
    try {
      await sleep(6000);
      const before = cpuSecondsOf(walsync.pid!);
      await sleep(measureMs);
      const cpuSeconds = cpuSecondsOf(walsync.pid!) - before;
      const percent = (cpuSeconds / (measureMs / 1000)) * 100;
      return {
        name: `CPU of an idle walsync run, ${databaseCount} databases synced every 1 s`,
        value: percent,
        unit: '% of one core',
        goal: '<= 1',
        pass: percent <= 1,
        raw: `${(cpuSeconds * 1000).toFixed(0)} ms user+system CPU in ${measureMs / 1000} s, ${databaseCount} small databases each with a file replica, apps idle, after each database's idle checkpoint`,
      };
    } finally {
      await stopDaemon(walsync);
    }
  } finally {
    await Promise.all(apps.map((app) => app.close()));
  }
}

async function commitThroughputUnderRun(dir: string, autocheckpoint?: number): Promise<Figure> {
  const target = { dbPath: path.join(dir, `run-busy-${autocheckpoint ?? 'default'}.db`), replicaDir: path.join(dir, `run-replica-${autocheckpoint ?? 'default'}`) };
  const configPath = path.join(dir, `run-busy-${autocheckpoint ?? 'default'}.yml`);
  const rates = await commitRates(target.dbPath, autocheckpoint, () => startWalsyncRun(configPath, [target]));
  return commitFigure(
    `app commit throughput with walsync run active (app wal_autocheckpoint ${autocheckpoint ?? 'default 1000'})`,
    'walsync run (sync-interval 1s, a file replica)',
    rates,
  );
}

/**
 * (g)'s reference: the app beside the least any WAL backup process does
 * (bench/wal-tailer.ts), so (g) can be read against what copying the WAL at
 * all costs the app on this machine.
 */
async function commitThroughputBesideTailer(dir: string): Promise<Figure> {
  const dbPath = path.join(dir, 'tailed.db');
  const tailer = fileURLToPath(new URL('./wal-tailer.js', import.meta.url));
  const rates = await commitRates(dbPath, 0, async () => {
    const child = spawn(process.execPath, [tailer, `${dbPath}-wal`, path.join(dir, 'tailed-wal-copy')], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    return child;
  });
  return {
    ...commitFigure('reference for (g): app commit throughput beside a minimal WAL copier (app wal_autocheckpoint 0)', 'a process copying the new WAL bytes and fsyncing every 1 s', rates),
    goal: 'none (reference)',
    pass: true,
  };
}

async function stopTime(dir: string): Promise<Figure> {
  const target = { dbPath: path.join(dir, 'stop.db'), replicaDir: path.join(dir, 'stop-replica') };
  const app = await startApp({ dbPath: target.dbPath, autocheckpoint: 0 });
  const graceSeconds = 10;
  try {
    await app.insert(100);
    const seconds: number[] = [];
    for (let trial = 0; trial < 3; trial++) {
      const walsync = await startWalsyncRun(path.join(dir, 'stop.yml'), [target]);
      await commitsFor(app, 2000);
      const signalled = Date.now();
      await stopDaemon(walsync);
      seconds.push((Date.now() - signalled) / 1000);
    }
    seconds.sort((a, b) => a - b);
    const median = seconds[1]!;
    return {
      name: 'walsync run stop: SIGTERM to exit, final sync included, right after 2 s of app commits',
      value: median / graceSeconds,
      unit: "x docker stop's grace",
      goal: '< 1',
      pass: median < graceSeconds,
      raw: `median of 3 stops ${median.toFixed(2)} s (${seconds.map((s) => s.toFixed(2)).join(', ')} s); docker stop and systemd's default kill walsync after ${graceSeconds} s and 90 s`,
    };
  } finally {
    await app.close();
  }
}

/** Figures by their letter above ((d) comes with (a); s3 is bench/s3.ts, ls bench/litestream.ts); `npm run bench -- c g` runs only those. */
const FIGURES: Record<string, (dir: string) => Promise<Figure[]>> = {
  a: async (dir) => {
    const dbPath = path.join(dir, 'app.db');
    const app = await startApp({ dbPath, autocheckpoint: 0 });
    try {
      const walSize = await buildBigWal(app, `${dbPath}-wal`);
      return await copyThroughput(dir, dbPath, walSize);
    } finally {
      await app.close();
    }
  },
  b: async (dir) => [await noopSync(dir)],
  c: async (dir) => [await commitThroughput(dir), await commitThroughput(dir, 0)],
  e: replicaFigures,
  s3: s3Figures,
  age: ageFigures,
  sftp: sftpFigures,
  chain: chainFigures,
  follow: followFigures,
  f: async (dir) => [await idleRunCpu(dir)],
  g: async (dir) => [await commitThroughputUnderRun(dir), await commitThroughputUnderRun(dir, 0), await commitThroughputBesideTailer(dir)],
  s: async (dir) => [await stopTime(dir)],
  fleet: fleetFigures,
  ls: litestreamFigures,
  lsrestore: async (dir) => [await litestreamRestoreFigure(dir)],
};

async function main(): Promise<void> {
  const chosen = process.argv.slice(2);
  const unknown = chosen.filter((name) => !(name in FIGURES));
  if (unknown.length > 0) throw new Error(`bench: unknown figure ${unknown.join(', ')} (have ${Object.keys(FIGURES).join(', ')})`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walsync-bench-'));
  try {
    const figures: Figure[] = [];
    for (const [name, measure] of Object.entries(FIGURES)) {
      // The side-by-side figures need the real Litestream: a full run has them only where LITESTREAM_BIN is set.
      const wanted = chosen.length === 0 ? (name !== 'ls' || process.env.LITESTREAM_BIN !== undefined) && name !== 'lsrestore' : chosen.includes(name);
      if (wanted) figures.push(...(await measure(dir)));
    }
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
