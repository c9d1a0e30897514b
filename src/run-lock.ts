/**
 * One `walsync run` per database: a second one would fight the first over
 * one shadow. The lock is a pid file in the shadow directory; a file whose
 * process is gone (a crash) is taken over.
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
      const holder = await readPid(lockPath);
      if (holder !== undefined && holder !== process.pid && isAlive(holder)) {
        throw new WalsyncError('LOCKED', `${dbPath}: another walsync run (pid ${holder}) already syncs this database (${lockPath}); not starting a second one`);
      }
      await fs.rm(lockPath, { force: true });
    }
  }
  throw new WalsyncError('LOCKED', `${dbPath}: could not take ${lockPath}`);
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
