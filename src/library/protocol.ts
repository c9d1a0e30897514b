/** The messages between an app's thread (host.ts) and walsync's worker thread (worker.ts). */
import type { Config } from '../config/config.js';
import type { WalsyncErrorCode } from '../errors.js';
import type { LogFields } from '../log.js';
import type { OneShotOptions } from './operations.js';

export type WorkerRequest =
  | { readonly op: 'runner'; readonly config: Config }
  | { readonly op: 'syncOnce' | 'verify'; readonly dbPath: string; readonly options: OneShotOptions };

export type WorkerMessage =
  | { readonly kind: 'log'; readonly level: 'debug' | 'info' | 'warn' | 'error'; readonly event: string; readonly fields?: LogFields }
  | { readonly kind: 'started' }
  | { readonly kind: 'done'; readonly result?: unknown }
  | { readonly kind: 'failed'; readonly error: { readonly code?: WalsyncErrorCode; readonly message: string } };

/** What the host sends the runner's worker. */
export type HostMessage = { readonly kind: 'stop' };
