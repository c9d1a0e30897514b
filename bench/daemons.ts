/**
 * What the figures that run a backup daemon beside a busy app share: the
 * app's commit rate alone and beside the daemon, starting and stopping
 * `walsync run`, and a process's CPU time and peak memory.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { startApp } from '../test/helpers/app.js';
import type { App } from '../test/helpers/app.js';
import { cliPath } from '../test/helpers/cli.js';
import { defaultMetaDir } from '../src/layout.js';
import { STATUS_FILE_NAME, readStatusFile } from '../src/daemon/status.js';
import type { Figure } from './figure.js';

export async function commitsFor(app: App, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let commits = 0;
  while (Date.now() < end) {
    await app.insert(200);
    commits += 200;
  }
  return commits;
}

export const COMMIT_PAIRS = 5;

export async function settle(app: App): Promise<void> {
  await app.checkpoint('TRUNCATE');
  spawnSync('sync');
}

/**
 * The app's commits/s alone and with a walsync process beside it, in pairs of
 * trials (alone, then with walsync) so the machine's drift hits both sides of
 * a pair alike; the figure is the median of the pairs' ratios, and the spread
 * of those ratios says how far to trust it. `startWalsync` resolves once that
 * process is ready.
 */
export async function commitRates(
  dbPath: string,
  autocheckpoint: number | undefined,
  startWalsync: () => Promise<ChildProcess>,
  /** Called at the end of each trial with walsync, before it is stopped. */
  onTrialEnd?: (walsync: ChildProcess) => void,
): Promise<{ ratio: number; lowest: number; highest: number; bare: number; withWalsync: number }> {
  const app = await startApp({ dbPath, autocheckpoint });
  const runMs = 4000;
  try {
    await commitsFor(app, 1000);
    const pairs: { bare: number; withWalsync: number; ratio: number }[] = [];
    for (let pair = 0; pair < COMMIT_PAIRS; pair++) {
      // Both sides start from an empty WAL and a disk with nothing left to write back, whatever
      // the previous side (or the previous figure's gigabyte files) left behind.
      await settle(app);
      const bare = (await commitsFor(app, runMs)) / (runMs / 1000);
      await settle(app);
      const walsync = await startWalsync();
      let withWalsync: number;
      try {
        withWalsync = (await commitsFor(app, runMs)) / (runMs / 1000);
        onTrialEnd?.(walsync);
      } finally {
        await stopDaemon(walsync);
      }
      pairs.push({ bare, withWalsync, ratio: withWalsync / bare });
    }
    pairs.sort((a, b) => a.ratio - b.ratio);
    const median = pairs[Math.floor(COMMIT_PAIRS / 2)]!;
    return { ...median, lowest: pairs[0]!.ratio, highest: pairs[COMMIT_PAIRS - 1]!.ratio };
  } finally {
    await app.close();
  }
}

export function commitFigure(name: string, walsyncSide: string, rates: Awaited<ReturnType<typeof commitRates>>): Figure {
  return {
    name,
    value: rates.ratio,
    unit: 'x without',
    goal: '>= 0.95',
    pass: rates.ratio >= 0.95,
    raw: `median of ${COMMIT_PAIRS} pairs ${rates.withWalsync.toFixed(0)} commits/s with ${walsyncSide}, ${rates.bare.toFixed(0)} without; pairs ranged ${rates.lowest.toFixed(2)}-${rates.highest.toFixed(2)}x`,
  };
}

/** A database `walsync run` backs up, with the file replica it ships to. */
export interface RunTarget {
  dbPath: string;
  replicaDir: string;
}

/**
 * Starts `walsync run` on a config listing `targets` (sync every 1 s, every
 * other key at its default) and resolves once every database has had a
 * successful sync in this process, which includes its replica's first snapshot.
 */
const SETTLING_JOBS = ['sync:backup', 'snapshot:backup', 'retention:backup'];

export async function startWalsyncRun(configPath: string, targets: RunTarget[], dbLines: string[] = []): Promise<ChildProcess> {
  const config = ['dbs:'];
  for (const target of targets) {
    config.push(`  - path: ${target.dbPath}`, ...dbLines, '    replicas:', '      - name: backup', `        path: ${target.replicaDir}`, '        sync-interval: 1s');
  }
  fs.writeFileSync(configPath, `${config.join('\n')}\n`);
  const walsync = spawn(process.execPath, [cliPath, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  walsync.stderr!.on('data', (chunk) => (stderr += chunk));
  const settledBy = Date.now() + 60_000;
  // Settled once every job has run once: a new generation's first snapshot and retention pass
  // are start-up work, and left inside a few seconds' trial they would stand for a daemon's
  // steady state, which is what the figures built on this measure.
  const hasSettled = async (target: RunTarget) => {
    const status = await readStatusFile(defaultMetaDir(target.dbPath));
    return status !== undefined && status.pid === walsync.pid && SETTLING_JOBS.every((job) => status.jobs[job]?.lastSuccess !== undefined);
  };
  while (!(await Promise.all(targets.map(hasSettled))).every(Boolean)) {
    if (walsync.exitCode !== null || Date.now() > settledBy) {
      walsync.kill('SIGKILL');
      throw new Error(`walsync run did not settle (not every job of every database succeeded once in ${STATUS_FILE_NAME}): ${stderr}`);
    }
    await sleep(200);
  }
  return walsync;
}

export async function stopDaemon(daemon: ChildProcess): Promise<void> {
  if (daemon.exitCode !== null) return;
  daemon.kill('SIGTERM');
  await new Promise((resolve) => daemon.once('exit', resolve));
}

/** The most resident memory a running process has had (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1] ?? 0) / 1024;
}

/** User plus system CPU time a process has used so far, from /proc/<pid>/stat. */
export function cpuSecondsOf(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim());
}

/** Runs a command to its end; throws when it fails. */
export function timed(command: string, args: string[]): { ms: number; stderr: string } {
  const start = process.hrtime.bigint();
  const result = spawnSync(command, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return { ms, stderr: result.stderr };
}
