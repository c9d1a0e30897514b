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

const SHIP_TIMEOUT_MS = 30_000;

export interface LitestreamChain {
  readonly dbPath: string;
  readonly replicaDir: string;
  readonly segmentCount: number;
}

export async function buildLitestreamChain(dir: string): Promise<LitestreamChain> {
  const dbPath = path.join(dir, 'chain-ls.db');
  const replicaDir = path.join(dir, 'chain-ls-replica');
  const app = await startApp({ dbPath, autocheckpoint: 0 });
  try {
    const rows = await growToOneGiB(app, dbPath);
    const litestream = await startLitestream(path.join(dir, 'chain-ls.yml'), [{ dbPath, replicaDir }], { monitor: '10ms', sync: '10ms' });
    try {
      for (let i = 0; i < SEGMENTS; i++) {
        const before = segmentCount(replicaDir);
        await rewriteRows(app, rows);
        await waitForShipped(litestream, replicaDir, before);
      }
    } finally {
      await stopDaemon(litestream);
    }
    return { dbPath, replicaDir, segmentCount: segmentCount(replicaDir) };
  } finally {
    await app.close();
  }
}

function segmentCount(replicaDir: string): number {
  return fs.readdirSync(path.join(replicaDir, 'generations'), { recursive: true }).filter((name) => String(name).endsWith('.wal.lz4')).length;
}

async function waitForShipped(litestream: ChildProcess, replicaDir: string, before: number): Promise<void> {
  const by = Date.now() + SHIP_TIMEOUT_MS;
  while (segmentCount(replicaDir) <= before) {
    if (litestream.exitCode !== null) throw new Error(`bench chain: litestream replicate exited (${litestream.exitCode})`);
    if (Date.now() > by) throw new Error(`bench chain: litestream shipped no segment for a commit within ${SHIP_TIMEOUT_MS / 1000} s`);
    await sleep(5);
  }
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
        `litestream restore ${litestream.ms.toFixed(0)} ms (no check) of its ${chain.segmentCount} segments, peak RSS ${litestream.peakMiB.toFixed(0)} MiB; ` +
        `walsync restoring litestream's replica ${ofTheirs.ms.toFixed(0)} ms, peak RSS ${ofTheirs.peakMiB.toFixed(0)} MiB (best of 2 each)`,
    },
  ];
}
