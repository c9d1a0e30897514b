/**
 * `npx walsync run` / `npm exec`: npm dies at once on SIGTERM without
 * passing it on, which would leave walsync running as an orphan, still
 * holding the database's lock. So walsync watches an npm launcher among its
 * ancestors and, when it is gone, stops as if it had been sent SIGTERM.
 */
import path from 'node:path';
import { isAlive, readCommandLine, readProcessState } from '../proc/processes.js';

const POLL_MS = 500;
/** npm exec starts the bin through `sh -c`, so npm is the parent or the grandparent. */
const ANCESTORS_LOOKED_AT = 3;

export async function watchNpmLauncher(onGone: () => void): Promise<{ launcherPid?: number; stop: () => void }> {
  const launcherPid = await findNpmAncestor();
  if (launcherPid === undefined) return { stop: () => undefined };
  const timer = setInterval(() => {
    if (isAlive(launcherPid)) return;
    clearInterval(timer);
    onGone();
  }, POLL_MS);
  timer.unref();
  return { launcherPid, stop: () => clearInterval(timer) };
}

async function findNpmAncestor(): Promise<number | undefined> {
  let pid = process.ppid;
  for (let i = 0; i < ANCESTORS_LOOKED_AT && pid > 1; i++) {
    if ((await readCommandLine(pid)).slice(0, 2).some(isNpm)) return pid;
    pid = (await readProcessState(pid))?.parentPid ?? 0;
  }
  return undefined;
}

/** npm renames its process (`npm exec walsync run …`), so argv[0] may be its whole title. */
function isNpm(arg: string): boolean {
  return /^(npm|npx|npm-cli\.js|npx-cli\.js)$/.test(path.basename(arg.split(' ')[0]!));
}
