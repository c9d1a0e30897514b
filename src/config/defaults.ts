/**
 * Every default walsync has, in one table: the config file's reader, the
 * CLI's flags and the library's options all take theirs from here (docs/configuration.md
 * lists them), so the three cannot drift apart.
 */
import type { LogFormat, LogLevel } from '../log.js';
import type { CheckpointPolicy } from '../shadow/checkpoint.js';
import { parseDuration } from './duration.js';

export const DEFAULTS = {
  logging: { level: 'info' as LogLevel, format: 'text' as LogFormat },
  busyTimeout: '5s',
  /** Jobs `walsync run` runs at once over all its databases; 2 keeps stores that take few uploads at once (Cloudflare R2) working. */
  maxConcurrentJobs: 2,
  /** Series per database on /metrics; false sums them, for fleets whose scrape would be too large. */
  metrics: { perDb: true },
  checkpoint: { minPages: 1000, truncatePages: 121359, idleInterval: '1m' },
  health: { maxLag: '1m', heartbeatInterval: '1m' },
  replica: { syncInterval: '1s', snapshotInterval: '24h', retention: '24h', retentionCheckInterval: '1h' },
} as const;

function ms(text: string): number {
  return parseDuration(text)!;
}

export const DEFAULT_BUSY_TIMEOUT_MS = ms(DEFAULTS.busyTimeout);

export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = {
  minPageCount: DEFAULTS.checkpoint.minPages,
  truncatePageCount: DEFAULTS.checkpoint.truncatePages,
  idleIntervalMs: ms(DEFAULTS.checkpoint.idleInterval),
};

/** The sync schedule of a database without replicas (its shadow alone), as a replica's would be. */
export const DEFAULT_SYNC_SCHEDULE = { kind: 'interval', ms: ms(DEFAULTS.replica.syncInterval), text: DEFAULTS.replica.syncInterval } as const;

/** How long a replica keeps snapshots where nothing says otherwise. */
export const DEFAULT_RETENTION_MS = ms(DEFAULTS.replica.retention);
