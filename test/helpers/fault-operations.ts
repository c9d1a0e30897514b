/**
 * The operations the syscall fault suites inject into, each with the state it
 * starts from and what its recovery must show: the next clean run succeeds,
 * `verify` exits 0, and a restore equals the app.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startApp } from './app.js';
import { runCli } from './cli.js';
import type { CliResult } from './cli.js';
import { restoreEquals } from './daemon.js';
import { dumpTables } from './shadow.js';
import type { FaultCase, FaultOperation } from './syscall-faults.js';
import { runWithFixedIds } from './strace.js';

async function startCase(dir: string): Promise<FaultCase> {
  const dbPath = path.join(dir, 'app.db');
  // The app checkpoints only when told, so every preparation leaves the same WAL.
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  await app.insert(60, { size: 300, perTx: 3 });
  return { dir, dbPath, replica: path.join(dir, 'replica'), app };
}

async function fixedIdStep(args: string[], idBase: number): Promise<void> {
  const result = await runWithFixedIds(args, idBase);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
}

async function mustSucceed(args: string[]): Promise<CliResult> {
  const result = await runCli(args);
  assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
  return result;
}

/** The app writes on, a clean sync ships it, verify proves the replica, and a restore equals the app. */
async function syncVerifyRestore(fault: FaultCase): Promise<void> {
  await fault.app.insert(30, { size: 300, perTx: 3 });
  await mustSucceed(syncArgs(fault));
  const verified = await runCli(['verify', fault.dbPath, '--replica', fault.replica]);
  assert.equal(verified.code, 0, `verify after recovery: ${verified.stdout}${verified.stderr}`);
  await restoreEquals(fault.dir, fault.replica, fault.dbPath);
}

function syncArgs(fault: FaultCase): string[] {
  return ['sync', '--once', fault.dbPath, fault.replica];
}

/** A case synced once, with commits since that the next operation has to take. */
async function syncedCase(dir: string): Promise<FaultCase> {
  const fault = await startCase(dir);
  await fixedIdStep(syncArgs(fault), 1);
  await fault.app.insert(30, { size: 300, perTx: 3 });
  return fault;
}

export const firstSync: FaultOperation = {
  name: 'sync --once (first sync: new generation, snapshot)',
  prepare: startCase,
  args: syncArgs,
  recover: syncVerifyRestore,
};

export const nextSync: FaultOperation = {
  name: 'sync --once (next sync: shadow append, WAL segment)',
  prepare: syncedCase,
  args: syncArgs,
  recover: syncVerifyRestore,
};

export const snapshot: FaultOperation = {
  name: 'snapshot',
  prepare: syncedCase,
  args: (fault) => ['snapshot', fault.dbPath, fault.replica],
  async recover(fault) {
    await mustSucceed(['snapshot', fault.dbPath, fault.replica]);
    await syncVerifyRestore(fault);
  },
};

export const retention: FaultOperation = {
  name: 'retention',
  async prepare(dir) {
    const fault = await startCase(dir);
    // Each sync checkpoints, so the replica holds three WAL indexes and a snapshot of the last.
    const checkpointEverySync = ['--checkpoint-min-pages', '1'];
    for (const idBase of [1, 2, 3]) {
      await fixedIdStep(['sync', '--once', ...checkpointEverySync, fault.dbPath, fault.replica], idBase);
      await fault.app.insert(30, { size: 300, perTx: 3 });
    }
    await fixedIdStep(['snapshot', fault.dbPath, fault.replica], 4);
    return fault;
  },
  // Everything before the newest snapshot is past a 1 ms retention.
  args: (fault) => ['retention', fault.replica, '--retention', '1ms'],
  async recover(fault) {
    await mustSucceed(['retention', fault.replica, '--retention', '1ms']);
    await syncVerifyRestore(fault);
  },
};

export const restore: FaultOperation = {
  name: 'restore',
  async prepare(dir) {
    const fault = await syncedCase(dir);
    await fixedIdStep(syncArgs(fault), 2);
    return fault;
  },
  args: (fault) => ['restore', '-o', restoreOutput(fault), fault.replica],
  async recover(fault, injected) {
    const out = restoreOutput(fault);
    if (injected.code !== 0) {
      const left = fs.readdirSync(fault.dir).filter((name) => name.startsWith(path.basename(out)));
      assert.deepEqual(left, [], `a failed restore left files at OUT: ${injected.stderr}`);
    } else {
      assert.deepEqual(dumpTables(out), dumpTables(fault.dbPath), 'a restore that completed despite the fault differs from the app');
      fs.rmSync(out);
    }
    await mustSucceed(['restore', '-o', out, fault.replica]);
    fs.rmSync(out);
    await syncVerifyRestore(fault);
  },
};

function restoreOutput(fault: FaultCase): string {
  return path.join(fault.dir, 'out.db');
}
