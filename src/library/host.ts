/**
 * Runs the library's entry points in a worker thread of walsync's own (see
 * worker.ts for why), relaying its log lines to the app's Logger and its
 * errors back as WalsyncErrors with their codes.
 */
import { Worker } from 'node:worker_threads';
import { WalsyncError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Runner } from '../daemon/runner.js';
import type { HostMessage, WorkerMessage, WorkerRequest } from './protocol.js';

const workerScript = new URL('./worker.js', import.meta.url);

interface Conversation {
  readonly worker: Worker;
  /** The first message that is not a log line. */
  next(): Promise<Exclude<WorkerMessage, { kind: 'log' }>>;
}

function converse(request: WorkerRequest, log: Logger): Conversation {
  const worker = new Worker(workerScript, { workerData: request });
  const waiting: ((message: Exclude<WorkerMessage, { kind: 'log' }>) => void)[] = [];
  const queued: Exclude<WorkerMessage, { kind: 'log' }>[] = [];
  const deliver = (message: Exclude<WorkerMessage, { kind: 'log' }>) => {
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else queued.push(message);
  };
  worker.on('message', (message: WorkerMessage) => {
    if (message.kind === 'log') log[message.level](message.event, message.fields);
    else deliver(message);
  });
  worker.on('error', (error) => deliver({ kind: 'failed', error: { message: `walsync worker crashed: ${error.message}` } }));
  worker.on('exit', (code) => deliver({ kind: 'failed', error: { message: `walsync worker exited (code ${code})` } }));
  return {
    worker,
    next: () => {
      const message = queued.shift();
      return message ? Promise.resolve(message) : new Promise((resolve) => waiting.push(resolve));
    },
  };
}

function raise(message: Exclude<WorkerMessage, { kind: 'log' }>): never {
  if (message.kind !== 'failed') throw new Error(`walsync worker answered ${message.kind} out of turn`);
  const { code, message: text } = message.error;
  throw code ? new WalsyncError(code, text) : new Error(text);
}

export async function runOneShotInWorker<T>(request: Extract<WorkerRequest, { op: 'syncOnce' | 'verify' }>, log: Logger): Promise<T> {
  const conversation = converse(request, log);
  const answer = await conversation.next();
  if (answer.kind === 'done') return answer.result as T;
  return raise(answer);
}

export async function startRunnerInWorker(request: Extract<WorkerRequest, { op: 'runner' }>, log: Logger): Promise<Runner> {
  const conversation = converse(request, log);
  const answer = await conversation.next();
  if (answer.kind !== 'started') raise(answer);
  let stopping: Promise<void> | undefined;
  return {
    stop() {
      stopping ??= (async () => {
        conversation.worker.postMessage({ kind: 'stop' } satisfies HostMessage);
        const done = await conversation.next();
        if (done.kind !== 'done') raise(done);
      })();
      return stopping;
    },
  };
}
