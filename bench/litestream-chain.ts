/**
 * The chain bench's workload replicated by Litestream 0.3.13
 * (LITESTREAM_BIN): the same 1 GiB database and SEGMENTS commits of
 * rewritten rows, each waited for until Litestream has shipped it as a
 * segment of its own, so its replica holds a chain as long as walsync's.
 * Litestream checkpoints on its own (PASSIVE at 1000 pages), so its chain
 * runs over many WAL indexes where walsync's bench chain has one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { startApp } from '../test/helpers/app.js';
import { stopDaemon, timed } from './daemons.js';
import type { Figure } from './figure.js';
import { litestreamBin, startLitestream } from './litestream.js';
import { SEGMENTS, assertSameRows, bestOfTwo, growToOneGiB, restoreTimed, rewriteRows } from './chain-workload.js';

/** How long a commit waits to ship as a segment of its own; past it, it ships with the next (Litestream pauses at times under the bench's disk load). */
const SHIP_WAIT_MS = 10_000;
/** After the last commit: the replica counts as complete once no segment came for this long. */
const SETTLED_MS = 3_000;

export interface LitestreamChain {
  readonly dbPath: string;
  readonly replicaDir: string;
  readonly segmentCount: number;
  /** Commits that did not ship within SHIP_WAIT_MS and went out with a later one. */
  readonly mergedCount: number;
}

export async function buildLitestreamChain(dir: string): Promise<LitestreamChain> {
  const dbPath = path.join(dir, 'chain-ls.db');
  const replicaDir = path.join(dir, 'chain-ls-replica');
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    const rows = await growToOneGiB(app, dbPath);
    const litestream = await startLitestream(path.join(dir, 'chain-ls.yml'), [{ dbPath, replicaDir }], { monitor: '10ms', sync: '10ms' });
    let mergedCount = 0;
    let unshippedInARow = 0;
    try {
      for (let i = 0; i < SEGMENTS; i++) {
        const before = segmentCount(replicaDir);
        await rewriteRows(app, rows);
        unshippedInARow = (await shipped(litestream, replicaDir, before, SHIP_WAIT_MS)) ? 0 : unshippedInARow + 1;
        if (unshippedInARow > 0) mergedCount++;
        if (unshippedInARow === 3) throw new Error(`bench chain: litestream shipped nothing for 3 commits in a row (${(3 * SHIP_WAIT_MS) / 1000} s)`);
      }
      // The rows a restore is checked against are all in the replica once the segments stop coming.
      while (await shipped(litestream, replicaDir, segmentCount(replicaDir), SETTLED_MS)) {}
    } finally {
      await stopDaemon(litestream);
    }
    return { dbPath, replicaDir, segmentCount: segmentCount(replicaDir), mergedCount };
  } finally {
    await app.close();
  }
}

function segmentCount(replicaDir: string): number {
  return fs.readdirSync(path.join(replicaDir, 'generations'), { recursive: true }).filter((name) => String(name).endsWith('.wal.lz4')).length;
}

/** Whether a segment past the first `before` came within `waitMs`. */
async function shipped(litestream: ChildProcess, replicaDir: string, before: number, waitMs: number): Promise<boolean> {
  const by = Date.now() + waitMs;
  while (segmentCount(replicaDir) <= before) {
    if (litestream.exitCode !== null) throw new Error(`bench chain: litestream replicate exited (${litestream.exitCode})`);
    if (Date.now() > by) return false;
    await sleep(5);
  }
  return true;
}

/**
 * Litestream's restore of its chain beside walsync's of its own (measured by
 * the caller, from the same workload), and walsync restoring Litestream's.
 */
export async function litestreamChainFigures(dir: string, walsync: { ms: number; uncheckedMs: number }): Promise<Figure[]> {
  const chain = await buildLitestreamChain(dir);
  const out = path.join(dir, 'chain-ls-restored.db');
  const litestream = bestOfTwo(() => {
    fs.rmSync(out, { force: true });
    timed('sync', []);
    const { ms, stderr } = timed('/usr/bin/time', ['-f', 'maxrss=%M', litestreamBin(), 'restore', '-o', out, `file://${chain.replicaDir}`]);
    return { ms, peakMiB: Number(/maxrss=(\d+)/.exec(stderr)?.[1] ?? 0) / 1024 };
  });
  assertSameRows(chain.dbPath, out);
  const ofTheirs = bestOfTwo(() => restoreTimed(out, chain.replicaDir));
  assertSameRows(chain.dbPath, out);
  fs.rmSync(out, { force: true });
  return [
    {
      name: `restore time of the chain from each tool's own replica, walsync vs litestream 0.3.13`,
      value: walsync.ms / litestream.ms,
      unit: 'x litestream',
      goal: '<= 1',
      pass: walsync.ms <= litestream.ms,
      raw:
        `walsync ${walsync.ms.toFixed(0)} ms (integrity_check included), --integrity-check none ${walsync.uncheckedMs.toFixed(0)} ms; ` +
        `litestream restore ${litestream.ms.toFixed(0)} ms (no check) of its ${chain.segmentCount} segments (${chain.mergedCount} commits shipped with a later one), peak RSS ${litestream.peakMiB.toFixed(0)} MiB; ` +
        `walsync restoring litestream's replica ${ofTheirs.ms.toFixed(0)} ms, peak RSS ${ofTheirs.peakMiB.toFixed(0)} MiB (best of 2 each)`,
    },
  ];
}
