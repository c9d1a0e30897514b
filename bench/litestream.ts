/**
 * `npm run bench` with LITESTREAM_BIN set (or `npm run bench -- ls`): the
 * same figures for `walsync run` and `litestream replicate` (v0.3.13),
 * measured side by side in one run: the app's commit throughput beside each
 * daemon (both autocheckpoint settings), the daemon's CPU and peak memory
 * under that load, the idle CPU of 10 databases, and the restore time of one
 * database from each tool's own replica.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from '../test/helpers/app.js';
import type { App } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { commitRates, cpuSecondsOf, peakRssMiB, startWalsyncRun, stopDaemon, timed } from './daemons.js';
import type { RunTarget } from './daemons.js';
import type { Figure } from './figure.js';

const MiB = 1024 * 1024;
const IDLE_DATABASES = 10;
const IDLE_MEASURE_MS = 30_000;

type StartDaemon = (configPath: string, targets: RunTarget[]) => Promise<ChildProcess>;

export function litestreamBin(): string {
  const bin = process.env.LITESTREAM_BIN;
  if (!bin) throw new Error('bench ls: LITESTREAM_BIN is not set (the path of a litestream v0.3.13 binary)');
  return path.resolve(bin);
}

/** How often Litestream looks at the WAL (its `monitor-interval`, 1s by default) and ships it (`sync-interval`). */
export interface LitestreamIntervals {
  readonly monitor?: string;
  readonly sync: string;
}

/** `litestream replicate` on the same databases and replicas, resolved once each replica has its first snapshot. */
export async function startLitestream(configPath: string, targets: RunTarget[], intervals: LitestreamIntervals = { sync: '1s' }): Promise<ChildProcess> {
  const config = ['dbs:'];
  for (const target of targets) {
    config.push(`  - path: ${target.dbPath}`);
    if (intervals.monitor) config.push(`    monitor-interval: ${intervals.monitor}`);
    config.push('    replicas:', `      - path: ${target.replicaDir}`, `        sync-interval: ${intervals.sync}`);
  }
  fs.writeFileSync(configPath, `${config.join('\n')}\n`);
  const child = spawn(litestreamBin(), ['replicate', '-config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const by = Date.now() + 60_000;
  while (!targets.every((target) => hasSnapshot(target.replicaDir))) {
    if (child.exitCode !== null || Date.now() > by) {
      child.kill('SIGKILL');
      throw new Error(`litestream replicate did not write its first snapshots: ${stderr}`);
    }
    await sleep(200);
  }
  // Past its start-up work (the snapshot and the first WAL segment), as walsync is when its jobs have run once.
  await sleep(1500);
  return child;
}

function hasSnapshot(replicaDir: string): boolean {
  if (!fs.existsSync(replicaDir)) return false;
  return fs.readdirSync(replicaDir, { recursive: true }).some((name) => String(name).endsWith('.snapshot.lz4'));
}

const walsyncRun: StartDaemon = (configPath, targets) => startWalsyncRun(configPath, targets);

interface UnderLoad {
  commitsPerSecond: number;
  ratio: number;
  cpuPerSecond: number;
  peakMiB: number;
}

/** The app's commits beside one daemon, with what that daemon spent of the CPU during the trials and its peak memory. */
async function underLoad(dir: string, name: string, start: StartDaemon, autocheckpoint: number | undefined): Promise<UnderLoad> {
  const label = `${name}-${autocheckpoint ?? 'default'}`;
  const target = { dbPath: path.join(dir, `ls-${label}.db`), replicaDir: path.join(dir, `ls-replica-${label}`) };
  let cpuSeconds = 0;
  let trialSeconds = 0;
  let peakMiB = 0;
  const cpuAtStart = new Map<number, { cpu: number; at: number }>();
  const rates = await commitRates(
    target.dbPath,
    autocheckpoint,
    async () => {
      const child = await start(path.join(dir, `ls-${label}.yml`), [target]);
      cpuAtStart.set(child.pid!, { cpu: cpuSecondsOf(child.pid!), at: Date.now() });
      return child;
    },
    (child) => {
      const started = cpuAtStart.get(child.pid!)!;
      cpuSeconds += cpuSecondsOf(child.pid!) - started.cpu;
      trialSeconds += (Date.now() - started.at) / 1000;
      peakMiB = Math.max(peakMiB, peakRssMiB(child.pid!));
    },
  );
  return { commitsPerSecond: rates.withWalsync, ratio: rates.ratio, cpuPerSecond: cpuSeconds / trialSeconds, peakMiB };
}

async function idleCpu(dir: string, name: string, start: StartDaemon): Promise<number> {
  const targets: RunTarget[] = [];
  const apps: App[] = [];
  try {
    for (let i = 0; i < IDLE_DATABASES; i++) {
      const target = { dbPath: path.join(dir, `ls-idle-${name}-${i}.db`), replicaDir: path.join(dir, `ls-idle-replica-${name}-${i}`) };
      const app = await startApp({ dbPath: target.dbPath });
      apps.push(app);
      await app.insert(1000, { perTx: 100 });
      targets.push(target);
    }
    const child = await start(path.join(dir, `ls-idle-${name}.yml`), targets);
    try {
      // Both tools checkpoint once after the last commit; that is the writes' work, not idleness.
      await sleep(6000);
      const before = cpuSecondsOf(child.pid!);
      await sleep(IDLE_MEASURE_MS);
      return ((cpuSecondsOf(child.pid!) - before) / (IDLE_MEASURE_MS / 1000)) * 100;
    } finally {
      await stopDaemon(child);
    }
  } finally {
    await Promise.all(apps.map((app) => app.close()));
  }
}

/** A 256 MiB database with 64 MiB of WAL, replicated by each tool into its own replica, then restored from it. */
async function restoreTimes(dir: string): Promise<{ walsyncMs: number; walsyncUncheckedMs: number; litestreamMs: number; size: number }> {
  const dbPath = path.join(dir, 'ls-restore.db');
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    while (fs.statSync(dbPath).size < 256 * MiB) {
      await app.insert(10_000, { size: 4000, perTx: 500 });
      await app.checkpoint('TRUNCATE');
    }
    while (fs.statSync(`${dbPath}-wal`).size < 64 * MiB) await app.insert(5000, { size: 4000, perTx: 250 });
  } finally {
    await app.close();
  }
  const walsyncReplica = path.join(dir, 'ls-restore-walsync');
  const litestreamReplica = path.join(dir, 'ls-restore-litestream');
  timed(process.execPath, [cliPath, 'sync', '--once', dbPath, walsyncReplica]);
  const litestream = await startLitestream(path.join(dir, 'ls-restore.yml'), [{ dbPath, replicaDir: litestreamReplica }]);
  await stopDaemon(litestream);
  const size = fs.statSync(dbPath).size;
  let walsyncMs = Infinity;
  let walsyncUncheckedMs = Infinity;
  let litestreamMs = Infinity;
  for (let trial = 0; trial < 3; trial++) {
    for (const out of ['ls-out-walsync.db', 'ls-out-unchecked.db', 'ls-out-litestream.db']) fs.rmSync(path.join(dir, out), { force: true });
    timed('sync', []);
    walsyncMs = Math.min(walsyncMs, timed(process.execPath, [cliPath, 'restore', '-o', path.join(dir, 'ls-out-walsync.db'), walsyncReplica]).ms);
    timed('sync', []);
    walsyncUncheckedMs = Math.min(walsyncUncheckedMs, timed(process.execPath, [cliPath, 'restore', '--integrity-check', 'none', '-o', path.join(dir, 'ls-out-unchecked.db'), walsyncReplica]).ms);
    timed('sync', []);
    litestreamMs = Math.min(litestreamMs, timed(litestreamBin(), ['restore', '-o', path.join(dir, 'ls-out-litestream.db'), `file://${litestreamReplica}`]).ms);
  }
  return { walsyncMs, walsyncUncheckedMs, litestreamMs, size };
}

export async function litestreamFigures(dir: string): Promise<Figure[]> {
  litestreamBin();
  const figures: Figure[] = [];
  for (const autocheckpoint of [undefined, 0]) {
    const setting = `app wal_autocheckpoint ${autocheckpoint ?? 'default 1000'}`;
    const ours = await underLoad(dir, 'walsync', walsyncRun, autocheckpoint);
    const theirs = await underLoad(dir, 'litestream', startLitestream, autocheckpoint);
    figures.push(
      {
        // Each side against the app alone in its own pairs: the app's own rate drifts more between the two sides' minutes than either daemon costs it.
        name: `app commit throughput beside the daemon (x without it), walsync run vs litestream replicate (${setting})`,
        value: ours.ratio / theirs.ratio,
        unit: 'x litestream',
        goal: '>= 1',
        pass: ours.ratio >= theirs.ratio,
        raw: `walsync ${ours.ratio.toFixed(2)}x without (${ours.commitsPerSecond.toFixed(0)} commits/s), litestream ${theirs.ratio.toFixed(2)}x without (${theirs.commitsPerSecond.toFixed(0)} commits/s); medians of 5 pairs each`,
      },
      {
        name: `daemon CPU under that load (${setting})`,
        value: ours.cpuPerSecond / theirs.cpuPerSecond,
        unit: 'x litestream',
        goal: '<= 1',
        pass: ours.cpuPerSecond <= theirs.cpuPerSecond,
        raw: `walsync ${(ours.cpuPerSecond * 100).toFixed(0)} % of a core, litestream ${(theirs.cpuPerSecond * 100).toFixed(0)} %`,
      },
      {
        name: `daemon peak RSS under that load (${setting})`,
        value: ours.peakMiB / theirs.peakMiB,
        unit: 'x litestream',
        goal: '<= 1',
        pass: ours.peakMiB <= theirs.peakMiB,
        raw: `walsync ${ours.peakMiB.toFixed(0)} MiB, litestream ${theirs.peakMiB.toFixed(0)} MiB`,
      },
    );
  }
  const idleOurs = await idleCpu(dir, 'walsync', walsyncRun);
  const idleTheirs = await idleCpu(dir, 'litestream', startLitestream);
  figures.push({
    name: `idle CPU of ${IDLE_DATABASES} databases synced every 1 s`,
    value: idleOurs / idleTheirs,
    unit: 'x litestream',
    goal: '<= 1',
    pass: idleOurs <= idleTheirs,
    raw: `walsync ${idleOurs.toFixed(2)} % of a core, litestream ${idleTheirs.toFixed(2)} % over ${IDLE_MEASURE_MS / 1000} s`,
  });
  figures.push(await litestreamRestoreFigure(dir));
  return figures;
}

/** `npm run bench -- lsrestore`: the restore side by side alone. */
export async function litestreamRestoreFigure(dir: string): Promise<Figure> {
  litestreamBin();
  const restore = await restoreTimes(dir);
  return {
    name: `restore time of a ${(restore.size / MiB).toFixed(0)} MiB database with 64 MiB of WAL, each from its own replica`,
    value: restore.walsyncMs / restore.litestreamMs,
    unit: 'x litestream',
    goal: '<= 1',
    pass: restore.walsyncMs <= restore.litestreamMs,
    raw:
      `walsync restore ${restore.walsyncMs.toFixed(0)} ms (integrity_check included), walsync --integrity-check none ${restore.walsyncUncheckedMs.toFixed(0)} ms, ` +
      `litestream restore ${restore.litestreamMs.toFixed(0)} ms (no check; best of 3, page cache flushed to disk before each)`,
  };
}
