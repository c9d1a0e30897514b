/**
 * Whether walsync run's replicas keep up, for /healthz, the lag metrics and
 * the heartbeat: a replica is healthy once a sync to it has succeeded, while
 * its last sync succeeded and it held everything in the shadow no longer
 * than `max-lag` ago. A replica
 * that turns late is one ERROR line, and one INFO line when it recovers,
 * however many syncs fail in between. A database whose file is missing
 * makes the report unhealthy (`database missing`) until a file at its path
 * syncs again; the window it was missing stays in the report after.
 */
import type { Logger } from '../log.js';
import { messageOf } from '../errors.js';

export interface HealthSettings {
  readonly maxLagMs: number;
  readonly heartbeatUrl?: string;
  readonly heartbeatIntervalMs: number;
}

export interface ReplicaHealth {
  readonly replica: string;
  readonly healthy: boolean;
  /** When the replica last held everything in the shadow (a sync to it succeeded). */
  readonly lastSuccess?: string;
  /** Seconds since then, or since walsync started when it has not yet succeeded. */
  readonly lagSeconds: number;
  /** Bytes walsync copied into the shadow since then. */
  readonly lagBytes: number;
  readonly lastError?: { readonly at: string; readonly message: string };
  /** Why it is not healthy. */
  readonly problem?: string;
}

/** When the database file was last missing; `to` is unset while it still is. */
export interface MissingWindow {
  readonly from: string;
  readonly to?: string;
}

export interface DatabaseHealth {
  readonly db: string;
  readonly replicas: readonly ReplicaHealth[];
  readonly missing?: MissingWindow;
}

export interface HealthReport {
  readonly healthy: boolean;
  readonly maxLagSeconds: number;
  /** `db replica` of each replica that is not healthy. */
  readonly late: readonly string[];
  /** `db: database missing` for each database whose file is missing now. */
  readonly missing: readonly string[];
  readonly dbs: readonly DatabaseHealth[];
}

interface ReplicaRecord {
  lastSuccessAt?: number;
  /** The database's shadow byte count when the replica last succeeded. */
  bytesAtSuccess: number;
  lastFailed: boolean;
  /** Nothing changed since the last sync succeeded (its task sleeps): the replica holds everything as of now. */
  quiet: boolean;
  lastError?: { at: string; message: string };
  /** Whether the ERROR line for this replica was written and its INFO line is still due. */
  reportedLate: boolean;
}

interface DatabaseRecord {
  readonly replicas: Map<string, ReplicaRecord>;
  /** Bytes copied into the shadow by this process so far (read from the sync jobs' shared state). */
  shadowBytes: () => number;
}

export class HealthBook {
  private readonly dbs = new Map<string, DatabaseRecord>();
  /**
   * By database path, and kept when a followed database is let go of: a
   * tenant deleted and made again reports the window it was gone.
   */
  private readonly missingWindows = new Map<string, { from: number; to?: number; alarm: boolean }>();
  private readonly startedAt = Date.now();

  constructor(
    private readonly maxLagMs: number,
    private readonly log: Logger,
  ) {}

  addReplica(db: string, replica: string, shadowBytes: () => number): void {
    const record = this.dbs.get(db) ?? { replicas: new Map<string, ReplicaRecord>(), shadowBytes };
    record.replicas.set(replica, { bytesAtSuccess: 0, lastFailed: false, quiet: false, reportedLate: false });
    this.dbs.set(db, record);
  }

  /**
   * A tick with nothing to sync (the WAL has not changed since a sync that
   * succeeded) proves the replica still holds everything, as a sync would,
   * and goes on proving it until the kernel reports a change (walChanged).
   */
  confirmQuiet(db: string, replica: string): void {
    const record = this.dbs.get(db)?.replicas.get(replica);
    if (record?.lastSuccessAt !== undefined && !record.lastFailed) record.quiet = true;
  }

  /** The database's WAL changed: its quiet replicas held everything until now. */
  walChanged(db: string): void {
    for (const record of this.dbs.get(db)?.replicas.values() ?? []) {
      if (!record.quiet) continue;
      record.quiet = false;
      record.lastSuccessAt = Date.now();
    }
  }

  /**
   * The database file is missing since `at` (or since a window already
   * open). `alarm`: the report is unhealthy meanwhile (a listed database;
   * not a followed one, which is let go of).
   */
  databaseMissing(db: string, at: number, alarm: boolean): void {
    const window = this.missingWindows.get(db);
    if (window && window.to === undefined) window.alarm = alarm;
    else this.missingWindows.set(db, { from: at, alarm });
  }

  /** A sync of a file at the path succeeded: the missing window, if one is open, closes. */
  databaseBack(db: string, at: number): void {
    const window = this.missingWindows.get(db);
    if (window && window.to === undefined) window.to = at;
  }

  /** Forgets a database walsync let go of. */
  removeDatabase(db: string): void {
    this.dbs.delete(db);
  }

  recordSync(db: string, replica: string, outcome: { ok: true } | { ok: false; error: unknown }): void {
    const dbRecord = this.dbs.get(db);
    const record = dbRecord?.replicas.get(replica);
    if (!dbRecord || !record) return;
    record.quiet = false;
    if (outcome.ok) {
      record.lastSuccessAt = Date.now();
      record.bytesAtSuccess = dbRecord.shadowBytes();
      record.lastFailed = false;
    } else {
      record.lastFailed = true;
      record.lastError = { at: new Date().toISOString(), message: messageOf(outcome.error) };
    }
    // This replica's turn only: all of them are looked at once a second, and a fleet syncs thousands.
    this.logTurn(db, replica, record, dbRecord.shadowBytes(), Date.now());
  }

  report(now = Date.now()): HealthReport {
    const dbs: DatabaseHealth[] = [];
    const late: string[] = [];
    const missing: string[] = [];
    for (const [db, window] of this.missingWindows) if (window.alarm && window.to === undefined) missing.push(`${db}: database missing`);
    for (const [db, dbRecord] of this.dbs) {
      const replicas: ReplicaHealth[] = [];
      for (const [replica, record] of dbRecord.replicas) {
        const health = this.replicaHealth(replica, record, dbRecord.shadowBytes(), now);
        if (!health.healthy) late.push(`${db} ${replica}`);
        replicas.push(health);
      }
      const window = this.missingWindows.get(db);
      dbs.push(window ? { db, replicas, missing: { from: new Date(window.from).toISOString(), to: window.to === undefined ? undefined : new Date(window.to).toISOString() } } : { db, replicas });
    }
    return { healthy: late.length === 0 && missing.length === 0, maxLagSeconds: this.maxLagMs / 1000, late, missing, dbs };
  }

  /** Writes the ERROR line of each replica that turned late and the INFO line of each that recovered. */
  logTurns(now = Date.now()): void {
    for (const [db, dbRecord] of this.dbs) {
      for (const [replica, record] of dbRecord.replicas) this.logTurn(db, replica, record, dbRecord.shadowBytes(), now);
    }
  }

  private logTurn(db: string, replica: string, record: ReplicaRecord, shadowBytes: number, now: number): void {
    if (record.quiet && !record.reportedLate) return;
    const health = this.replicaHealth(replica, record, shadowBytes, now);
    const lagging = health.lagSeconds * 1000 > this.maxLagMs;
    if (lagging && !record.reportedLate) {
      record.reportedLate = true;
      this.log.error('replica late', { db, replica, lagSeconds: Math.round(health.lagSeconds), lagBytes: health.lagBytes, maxLag: `${this.maxLagMs / 1000}s`, error: record.lastError?.message });
    } else if (health.healthy && record.reportedLate) {
      record.reportedLate = false;
      this.log.info('replica caught up', { db, replica });
    }
  }

  private replicaHealth(replica: string, record: ReplicaRecord, shadowBytes: number, now: number): ReplicaHealth {
    const heldEverythingAt = record.quiet ? now : (record.lastSuccessAt ?? this.startedAt);
    const lagSeconds = (now - heldEverythingAt) / 1000;
    const lagBytes = Math.max(0, shadowBytes - record.bytesAtSuccess);
    let problem: string | undefined;
    if (lagSeconds * 1000 > this.maxLagMs) problem = `last held everything ${Math.round(lagSeconds)}s ago (max-lag ${this.maxLagMs / 1000}s)`;
    else if (record.lastFailed) problem = 'its last sync failed';
    // Until its first sync succeeds, a replica holds nothing of this run yet: not healthy, though not late either.
    else if (record.lastSuccessAt === undefined) problem = 'no sync has succeeded yet';
    return {
      replica,
      healthy: problem === undefined,
      lastSuccess: record.lastSuccessAt === undefined ? undefined : new Date(heldEverythingAt).toISOString(),
      lagSeconds,
      lagBytes,
      lastError: record.lastError,
      problem,
    };
  }
}

/**
 * Pings `url` every interval while every replica is healthy (a dead man's
 * switch: the service alarms when the pings stop). A failed ping is one
 * warning line; only the URL's origin is logged, as its path is often the secret.
 */
export function startHeartbeat(url: string, intervalMs: number, healthy: () => boolean, log: Logger): () => void {
  const origin = safeOrigin(url);
  let inFlight = false;
  const ping = async () => {
    if (inFlight || !healthy()) return;
    inFlight = true;
    try {
      const response = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(Math.min(intervalMs, 10_000)) });
      await response.body?.cancel();
      if (!response.ok) log.warn('heartbeat failed', { heartbeat: origin, status: response.status });
    } catch (error) {
      log.warn('heartbeat failed', { heartbeat: origin, error: messageOf(error).replaceAll(url, origin) });
    } finally {
      inFlight = false;
    }
  };
  const timer = setInterval(() => void ping(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

function safeOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
