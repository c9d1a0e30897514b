/**
 * A long-running walsync (run, or run --exec) as a separate process, with
 * what the daemon tests share: starting it from a config, waiting for a
 * condition, writing through an app for a while, stopping it with a signal,
 * and restoring its replica to compare with the live database.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { listPids, readCommandLine } from '../../src/proc/processes.js';
import type { App } from './app.js';
import { collect, runCli, spawnCli } from './cli.js';
import type { CliOptions, CliResult } from './cli.js';
import { dumpTables } from './shadow.js';

export interface Daemon {
  readonly child: ChildProcess;
  readonly done: Promise<CliResult>;
  stderr(): string;
}

/** A config with one database and one file replica named `backup`, syncing every second. */
export function configFor(dbPath: string, replica: string, extra = ''): string {
  return [
    'dbs:',
    `  - path: ${dbPath}`,
    '    replicas:',
    '      - name: backup',
    `        path: ${replica}`,
    '        sync-interval: 1s',
    '        snapshot-interval: 7s',
    '        retention: 15s',
    '        retention-check-interval: 5s',
    extra,
  ].join('\n');
}

/** Writes `dir/walsync.yml` and starts `walsync run --config` it (plus `args`), waiting for `ready` in its log. */
export async function startRun(dir: string, config: string, options: CliOptions & { args?: string[]; ready?: RegExp } = {}): Promise<Daemon> {
  const file = path.join(dir, 'walsync.yml');
  await fs.writeFile(file, config);
  const child = spawnCli(['run', '--config', file, ...(options.args ?? [])], options);
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const done = collect(child, 180_000);
  const ready = options.ready ?? /runner started/;
  await waitFor(`walsync run to log ${ready}`, async () => ready.test(stderr) || child.exitCode !== null, 10_000);
  assert.match(stderr, ready);
  return { child, done, stderr: () => stderr };
}

export async function waitFor(what: string, check: () => Promise<boolean> | boolean, limitMs = 60_000): Promise<void> {
  for (const end = Date.now() + limitMs; Date.now() < end; await sleep(100)) {
    if (await check()) return;
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Commits through the app for `ms` (10 rows every ~20 ms, two per transaction); returns how many rows. */
export async function writeFor(app: App, ms: number): Promise<number> {
  const end = Date.now() + ms;
  let commits = 0;
  while (Date.now() < end) {
    await app.insert(20, { size: 300, perTx: 2 });
    commits += 10;
    await sleep(20);
  }
  return commits;
}

/** Signals a running walsync and waits for it to exit; how long that takes is bench's figure (stop), not a test's. */
export async function signalAndWait(child: ChildProcess, done: Promise<CliResult>, signal: NodeJS.Signals = 'SIGTERM'): Promise<CliResult> {
  child.kill(signal);
  return done;
}

export async function restoreEquals(dir: string, replica: string, dbPath: string, options: CliOptions = {}): Promise<void> {
  const out = path.join(dir, `restored-${Date.now()}.db`);
  const restored = await runCli(['restore', '-o', out, replica], options);
  assert.equal(restored.code, 0, restored.stderr);
  assert.deepEqual(dumpTables(out), dumpTables(dbPath));
}

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * From the process table, the pids of the processes whose command line
 * mentions `marker` (a test's temp dir) and runs `program` (default: walsync's CLI).
 */
export async function processesOf(marker: string, program = /(\/cli\/main\.js|\/walsync)$/): Promise<number[]> {
  const pids: number[] = [];
  for (const pid of await listPids()) {
    if (pid === process.pid) continue;
    const argv = await readCommandLine(pid);
    if (argv.some((arg) => arg.includes(marker)) && argv.some((arg) => program.test(arg))) pids.push(pid);
  }
  return pids;
}
