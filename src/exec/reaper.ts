/**
 * As PID 1 (a container's only process), walsync inherits every orphan
 * below the app, and the kernel keeps each one that exits as a zombie until
 * PID 1 waits for it. Node waits only for the children it spawned, so the
 * others are found in /proc and waited for through libc's waitpid (koffi,
 * loaded only here); the app itself is left to Node, which reports its exit.
 */
import { messageOf } from '../errors.js';
import type { Logger } from '../log.js';
import { zombieChildrenOf } from '../proc/processes.js';

const WNOHANG = 1;
const SWEEP_MS = 1000;

type WaitPid = (pid: number, status: [number], options: number) => number;

export async function startZombieReaper(ownChildren: () => ReadonlySet<number>, log: Logger): Promise<() => void> {
  let waitpid: WaitPid;
  try {
    const { default: koffi } = await import('koffi');
    waitpid = koffi.load('libc.so.6').func('int waitpid(int pid, _Out_ int *status, int options)') as WaitPid;
  } catch (error) {
    log.warn('running as PID 1 without reaping orphaned processes', { error: messageOf(error) });
    return () => undefined;
  }
  let sweeping = false;
  const sweep = async () => {
    if (sweeping) return;
    sweeping = true;
    try {
      for (const pid of await zombieChildrenOf(process.pid)) {
        if (!ownChildren().has(pid)) waitpid(pid, [0], WNOHANG);
      }
    } finally {
      sweeping = false;
    }
  };
  const onChild = () => void sweep();
  process.on('SIGCHLD', onChild);
  const timer = setInterval(onChild, SWEEP_MS);
  timer.unref();
  log.info('running as PID 1: reaping orphaned processes');
  return () => {
    clearInterval(timer);
    process.off('SIGCHLD', onChild);
  };
}
