/**
 * Prometheus metrics for `walsync run` (served at the config's `addr`, path
 * /metrics), named after what Litestream exports, with a `walsync_` prefix.
 * With `metrics.per-db: false` (a fleet of thousands) the counters are summed
 * under db="*", the per-database gauges and walsync_replica_operation_bytes
 * (labelled by the replica's URL, which holds the database's path) are left
 * out, and the lag is the worst replica's, so a scrape stays small.
 * The `replica` label is the replica's name everywhere (its `name:`, or
 * what the config defaults it to), so series of one replica join; its URL,
 * which names no secret, is the `replica_url` label of
 * walsync_replica_info. Every counter of a database is there at 0 from its
 * start: a dashboard sees 0, not nothing.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { SyncJobResult } from '../replication/sync-to-replicas.js';
import { WalsyncError, messageOf } from '../errors.js';
import type { HealthReport } from './health.js';
import { walPathFor } from '../layout.js';
import type { RequestCounter, RequestCounts } from '../replica/request-counter.js';
import { REQUEST_OPERATIONS } from '../replica/request-counter.js';

export class Metrics {
  readonly registry = new Registry();
  private readonly dbSize = this.gauge('walsync_db_size_bytes', 'Size of the database file', ['db']);
  private readonly walSize = this.gauge('walsync_wal_size_bytes', 'Size of the -wal file', ['db']);
  private readonly shadowIndex = this.gauge('walsync_shadow_wal_index', 'Current shadow WAL index', ['db']);
  private readonly shadowSize = this.gauge('walsync_shadow_wal_size_bytes', 'End of the current shadow WAL', ['db']);
  private readonly syncCount = this.counter('walsync_sync_count', 'Shadow syncs', ['db']);
  private readonly syncErrors = this.counter('walsync_sync_error_count', 'Failed syncs', ['db']);
  private readonly syncSeconds = this.counter('walsync_sync_seconds', 'Time spent syncing', ['db']);
  private readonly walBytes = this.counter('walsync_total_wal_bytes', 'WAL bytes copied into the shadow', ['db']);
  private readonly replacedFiles = this.counter('walsync_database_replaced_total', 'Database files found replaced at their path (each one a new generation)', ['db']);
  private readonly checkpoints = this.counter('walsync_checkpoint_count', 'walsync checkpoints', ['db', 'mode']);
  private readonly replicaIndex = this.gauge('walsync_replica_wal_index', 'WAL index the replica holds up to', ['db', 'replica']);
  private readonly replicaOffset = this.gauge('walsync_replica_wal_offset', 'Offset in that index the replica holds up to', ['db', 'replica']);
  private readonly replicaBytes = this.counter('walsync_replica_operation_bytes', 'WAL bytes shipped to the replica', ['db', 'replica']);
  private readonly jobRuns = this.counter('walsync_job_runs_total', 'Job runs', ['db', 'job', 'replica', 'outcome']);
  private readonly replicaInfo = this.gauge('walsync_replica_info', 'A replica of the database: its name (the replica label everywhere) and its URL', ['db', 'replica', 'replica_url']);
  private readonly replicaRequests = this.counter('walsync_replica_requests_total', 'Requests made to the replica (retries included)', ['db', 'replica', 'operation']);
  private readonly replicaTransfer = this.counter('walsync_replica_transfer_bytes_total', 'Bytes sent to and received from the replica', ['db', 'replica', 'direction']);
  /**
   * The counts last reported, per replica client: prom-client counters take
   * increments, and a client opened again (a reload, a tenant made again at
   * its path) counts from zero.
   */
  private readonly reportedRequests = new WeakMap<RequestCounter, RequestCounts>();
  /** The running runner's health, read at each scrape so the lag is as of the scrape. */
  private health: (() => HealthReport) | undefined;

  constructor(private readonly perDb = true) {
    this.healthGauge('walsync_replica_lag_seconds', 'Seconds since the replica last held everything in the shadow', (r) => r.lagSeconds);
    this.healthGauge('walsync_replica_last_success_timestamp_seconds', 'When a sync to the replica last succeeded (Unix time)', (r) =>
      r.lastSuccess === undefined ? undefined : Date.parse(r.lastSuccess) / 1000,
    );
  }

  reportHealth(source: () => HealthReport): void {
    this.health = source;
  }

  private healthGauge(name: string, help: string, value: (replica: HealthReport['dbs'][number]['replicas'][number]) => number | undefined) {
    const metrics = this;
    return new Gauge({
      name,
      help,
      labelNames: ['db', 'replica'],
      registers: [this.registry],
      collect() {
        this.reset();
        let worst: number | undefined;
        for (const db of metrics.health?.().dbs ?? []) {
          for (const replica of db.replicas) {
            const seconds = value(replica);
            if (seconds === undefined) continue;
            if (metrics.perDb) this.set({ db: db.db, replica: replica.replica }, seconds);
            else worst = Math.max(worst ?? seconds, seconds);
          }
        }
        if (worst !== undefined) this.set({ db: '*', replica: '*' }, worst);
      },
    });
  }

  private gauge(name: string, help: string, labelNames: string[]) {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter(name: string, help: string, labelNames: string[]) {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A database started: its counters at 0, and what each replica is. */
  addDatabase(dbPath: string, replicas: readonly { readonly name: string; readonly url?: string }[]): void {
    const db = this.dbLabel(dbPath);
    for (const counter of [this.syncCount, this.syncErrors, this.syncSeconds, this.walBytes, this.replacedFiles]) counter.inc({ db }, 0);
    for (const mode of ['PASSIVE', 'TRUNCATE']) this.checkpoints.inc({ db, mode }, 0);
    for (const { name: replica, url } of replicas) {
      for (const job of ['sync', 'snapshot', 'retention', 'verify']) for (const outcome of ['ok', 'error']) this.jobRuns.inc({ db, job, replica, outcome }, 0);
      if (url === undefined) continue;
      for (const operation of REQUEST_OPERATIONS) this.replicaRequests.inc({ db, replica, operation }, 0);
      for (const direction of ['up', 'down']) this.replicaTransfer.inc({ db, replica, direction }, 0);
      if (!this.perDb) continue;
      this.replicaBytes.inc({ db, replica }, 0);
      this.replicaInfo.set({ db, replica, replica_url: url }, 1);
    }
  }

  /** `replica`: the name of the replica this sync shipped to, if any. */
  async observeSync(dbPath: string, replica: string, result: SyncJobResult, seconds: number): Promise<void> {
    const db = this.dbLabel(dbPath);
    this.syncCount.inc({ db });
    this.syncSeconds.inc({ db }, seconds);
    this.walBytes.inc({ db }, result.byteCount);
    if (result.checkpoint) this.checkpoints.inc({ db, mode: result.checkpoint.mode });
    if (result.fileReplaced) this.replacedFiles.inc({ db });
    if (!this.perDb) return;
    this.shadowIndex.set({ db }, result.index);
    this.shadowSize.set({ db }, result.offset);
    for (const shipped of result.replicas) {
      this.replicaIndex.set({ db, replica }, shipped.position.index);
      this.replicaOffset.set({ db, replica }, shipped.position.offset);
      this.replicaBytes.inc({ db, replica }, shipped.byteCount);
    }
    // stat only: opening the database file would drop this process's POSIX locks on it.
    this.dbSize.set({ db }, (await fs.stat(db).catch(() => ({ size: 0 }))).size);
    this.walSize.set({ db }, (await fs.stat(walPathFor(db)).catch(() => ({ size: 0 }))).size);
  }

  /** The db label: the database's path, or "*" when the series are not per database. */
  private dbLabel(dbPath: string): string {
    return this.perDb ? dbPath : '*';
  }

  observeRequests(dbPath: string, replica: string, requests: RequestCounter): void {
    const db = this.dbLabel(dbPath);
    const counts = requests.snapshot();
    const last = this.reportedRequests.get(requests);
    for (const operation of REQUEST_OPERATIONS) this.replicaRequests.inc({ db, replica, operation }, counts[operation] - (last?.[operation] ?? 0));
    this.replicaTransfer.inc({ db, replica, direction: 'up' }, counts.uploadedSize - (last?.uploadedSize ?? 0));
    this.replicaTransfer.inc({ db, replica, direction: 'down' }, counts.downloadedSize - (last?.downloadedSize ?? 0));
    this.reportedRequests.set(requests, counts);
  }

  observeJob(dbPath: string, job: string, replica: string, ok: boolean): void {
    const db = this.dbLabel(dbPath);
    this.jobRuns.inc({ db, job, replica, outcome: ok ? 'ok' : 'error' });
    if (job === 'sync' && !ok) this.syncErrors.inc({ db });
  }
}

/**
 * Serves /metrics and /healthz (200 while every replica is healthy, else
 * 503, with the same JSON body) at `addr` (`:9090` for every interface, or `host:port`).
 */
export async function serveMetrics(addr: string, metrics: Metrics, health: () => HealthReport | undefined): Promise<http.Server> {
  const match = /^(.*):(\d+)$/.exec(addr);
  if (!match) throw new WalsyncError('CONFIG_INVALID', `addr: ${JSON.stringify(addr)} is not host:port or :port`);
  const server = http.createServer((request, response) => {
    if (request.url === '/healthz') {
      // Undefined while the databases are still being opened: not yet backing anything up.
      const report = health() ?? { healthy: false, starting: true };
      response.writeHead(report.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(`${JSON.stringify(report, null, 2)}\n`);
      return;
    }
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (text) => response.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
      (error) => response.writeHead(500).end(messageOf(error)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new WalsyncError('IO', `addr ${addr}: ${messageOf(error)}`, { cause: error })));
    server.listen(Number(match[2]), match[1] || undefined, resolve);
  });
  return server;
}
