/**
 * The app that `walsync run --exec` starts: walsync's own child, which
 * gets the signals walsync gets and whose exit ends the run.
 */
import { spawn } from 'node:child_process';
import os from 'node:os';
import { WalsyncError, messageOf } from '../errors.js';
import type { Logger } from '../log.js';

export interface AppProcess {
  readonly pid: number;
  /** The app's exit code, or 128 + the signal's number when a signal ended it (as a shell reports it). */
  readonly exitCode: Promise<number>;
  signal(signal: NodeJS.Signals): void;
}

export async function startAppProcess(argv: readonly string[], log: Logger): Promise<AppProcess> {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit' });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (error) => reject(new WalsyncError('USAGE', `exec: ${argv[0]}: cannot start: ${messageOf(error)}`, { cause: error })));
  });
  const pid = child.pid!;
  log.info('app started', { pid, command: argv[0] });
  const exitCode = new Promise<number>((resolve) => {
    child.once('exit', (code, signal) => {
      const status = code ?? 128 + (signal ? (os.constants.signals[signal] ?? 0) : 0);
      log.info('app exited', { pid, code: code ?? undefined, signal: signal ?? undefined });
      resolve(status);
    });
  });
  return {
    pid,
    exitCode,
    signal(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
  };
}
