/**
 * walsync's own thread inside an app's process. Its event loop is free while
 * the app's thread sits in SQLite's synchronous busy wait for the write lock
 * walsync holds, so walsync can finish and release it: in the app's thread,
 * the wait would block the very callbacks that release the lock. One
 * better-sqlite3 (and one SQLite) serves both threads, so their POSIX locks
 * see each other.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { WalsyncError, messageOf } from '../errors.js';
import type { LogFields, Logger } from '../log.js';
import { createRunner } from '../daemon/runner.js';
import type { Runner } from '../daemon/runner.js';
import { loadJobRegistry } from '../job/registry.js';
import { syncOnceHere, verifyHere } from './operations.js';
import type { HostMessage, WorkerMessage, WorkerRequest } from './protocol.js';

const port = parentPort!;
const post = (message: WorkerMessage) => port.postMessage(message);
const forward =
  (level: 'debug' | 'info' | 'warn' | 'error') =>
  (event: string, fields?: LogFields): void =>
    post({ kind: 'log', level, event, fields });
const log: Logger = { debug: forward('debug'), info: forward('info'), warn: forward('warn'), error: forward('error') };

function fail(error: unknown): void {
  post({ kind: 'failed', error: { code: error instanceof WalsyncError ? error.code : undefined, message: messageOf(error) } });
}

async function serveRunner(config: Extract<WorkerRequest, { op: 'runner' }>['config']): Promise<void> {
  let runner: Runner;
  try {
    runner = await createRunner(config, log, { jobs: await loadJobRegistry() });
  } catch (error) {
    fail(error);
    return;
  }
  post({ kind: 'started' });
  port.once('message', (message: HostMessage) => {
    if (message.kind !== 'stop') return;
    void runner.stop().then(
      () => {
        post({ kind: 'done' });
        port.close();
      },
      (error: unknown) => {
        fail(error);
        port.close();
      },
    );
  });
}

async function serveOneShot(request: Extract<WorkerRequest, { op: 'syncOnce' | 'verify' }>): Promise<void> {
  try {
    const jobs = await loadJobRegistry();
    const result = request.op === 'syncOnce' ? await syncOnceHere(jobs, request.dbPath, request.options, log) : await verifyHere(jobs, request.dbPath, request.options, log);
    post({ kind: 'done', result });
  } catch (error) {
    fail(error);
  }
  port.close();
}

const request = workerData as WorkerRequest;
await (request.op === 'runner' ? serveRunner(request.config) : serveOneShot(request));
