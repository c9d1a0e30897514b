/**
 * The job registry: every job walsync runs, one-shot or on a schedule. The
 * runner, the CLI and the library load it (src/job/registry.ts) and run
 * every job through it.
 */
import { DEFAULTS } from '../src/config/defaults.js';
import type { JobRegistry } from '../src/job/registry.js';
import * as retention from './retention.js';
import * as snapshot from './snapshot.js';
import * as sync from './sync.js';
import * as verify from './verify.js';

export const jobs: JobRegistry = {
  sync: { run: sync.run, defaultSchedule: DEFAULTS.replica.syncInterval },
  snapshot: { run: snapshot.run, defaultSchedule: DEFAULTS.replica.snapshotInterval },
  retention: { run: retention.run, defaultSchedule: DEFAULTS.replica.retentionCheckInterval },
  verify: { run: verify.run, defaultSchedule: undefined },
};
