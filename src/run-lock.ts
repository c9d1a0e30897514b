/**
 * One `walsync run` per database: a second one would fight the first over
 * one shadow, and a one-shot beside it would race its writes to the shadow
 * and the replicas (two processes shipping the same segment write through
 * the same temp name). The lock is a pid file in the shadow directory; a file
 * whose process is gone (a crash) is taken over.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { WalsyncError, systemErrorCode } from './errors.js';
import { makeDirDurable } from './fsx/atomic.js';
import { readShadowModes } from './shadow/permissions.js';

export interface RunLock {
  release(): Promise<void>;
}

export const RUN_LOCK_NAME = 'run.pid';

export async function acquireRunLock(metaDir: string, dbPath: string): Promise<RunLock> {
  const modes = await readShadowModes(dbPath);
  await makeDirDurable(metaDir, modes.dirMode);
  const lockPath = path.join(metaDir, RUN_LOCK_NAME);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await fs.writeFile(lockPath, `${process.pid}\n`, { flag: 'wx', mode: modes.fileMode });
      return {
        async release() {
          if ((await readPid(lockPath)) === process.pid) await fs.rm(lockPath, { force: true });
        },
      };
    } catch (error) {
      if (systemErrorCode(error) !== 'EEXIST') throw error;
      await refuseBesideRun(metaDir, dbPath);
      await fs.rm(lockPath, { force: true });
    }
  }
  throw new WalsyncError('LOCKED', `${dbPath}: could not take ${lockPath}`);
}

/** Fails when another live process holds the database's run lock. */
export async function refuseBesideRun(metaDir: string, dbPath: string): Promise<void> {
  const lockPath = path.join(metaDir, RUN_LOCK_NAME);
  const holder = await readPid(lockPath);
  if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
    throw new WalsyncError(
      'LOCKED',
      `${dbPath}: another walsync run (pid ${holder}) already syncs this database (${lockPath}); stop it first, or let its jobs do this (verify-interval for scheduled verifies)`,
    );
  }
}

async function readPid(lockPath: string): Promise<number | undefined> {
  const text = await fs.readFile(lockPath, 'utf8').catch(() => '');
  const pid = Number.parseInt(text, 10);
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return systemErrorCode(error) === 'EPERM';
  }
}
