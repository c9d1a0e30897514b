/** Other processes, as Linux shows them in /proc and to kill(pid, 0). */
import fs from 'node:fs/promises';
import { systemErrorCode } from '../errors.js';

/** Whether a process with this pid exists (EPERM: it does, but belongs to another user). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return systemErrorCode(error) === 'EPERM';
  }
}

export interface ProcessState {
  /** R, S, D, Z (zombie), … */
  readonly state: string;
  readonly parentPid: number;
}

/** Undefined when the process is gone. */
export async function readProcessState(pid: number): Promise<ProcessState | undefined> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name is in parentheses and may hold anything: the fields after its last ')' are fixed.
  const [state = '', parent = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { state, parentPid: Number(parent) };
}

/** The process's argv, empty when it is gone. */
export async function readCommandLine(pid: number): Promise<string[]> {
  const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  return cmdline.split('\0').filter((arg) => arg !== '');
}

export async function listPids(): Promise<number[]> {
  return (await fs.readdir('/proc')).filter((name) => /^\d+$/.test(name)).map(Number);
}

/** The children of `parentPid` that have exited and wait to be reaped. */
export async function zombieChildrenOf(parentPid: number): Promise<number[]> {
  const zombies: number[] = [];
  for (const pid of await listPids()) {
    const stat = await readProcessState(pid);
    if (stat?.state === 'Z' && stat.parentPid === parentPid) zombies.push(pid);
  }
  return zombies;
}
