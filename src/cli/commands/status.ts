/**
 * `walsync status [--config F] [--all] [--db TEXT] [--json]`: per database
 * and replica, the generation and position, replica lag, and each job's
 * last success, last error and next run — read from disk (the shadow, the
 * replicas and the daemon's status file), so it works while `walsync run`
 * is running. Past a screenful of databases it says how many are healthy,
 * lagging and failing, with the worst lags, and lists them only with --all
 * or those whose path holds --db.
 */
import { configPathFrom, loadConfig } from '../../config/config.js';
import { EXIT_OK } from '../../errors.js';
import { defaultMetaDir } from '../../layout.js';
import { formatRequestCounts } from '../../replica/request-counter.js';
import { discoverDatabases } from '../../daemon/discovery.js';
import { describeDatabase } from '../../daemon/status-report.js';
import { silentLogger } from '../../log.js';
import type { DatabaseReport } from '../../daemon/status-report.js';
import type { CliIo } from '../io.js';
import { LISTED_WITHOUT_ALL } from '../config-option.js';

export interface StatusArgs {
  config?: string;
  all: boolean;
  db?: string;
  json: boolean;
}

const WORST_SHOWN = 5;

export async function statusCommand(args: StatusArgs, io: CliIo): Promise<number> {
  // The daemon's unit may set secrets this shell lacks: status reads none of them.
  const config = await loadConfig(configPathFrom(args.config, process.env), process.env, { unsetVariables: 'kept' });
  const reports = [];
  // What walsync run would skip is its log's to say, not status's.
  for (const db of await discoverDatabases(config, silentLogger)) {
    if (args.db === undefined || db.path.includes(args.db)) reports.push(await describeDatabase(db, db.metaPath ?? defaultMetaDir(db.path)));
  }
  if (args.json) {
    io.stdout(JSON.stringify(reports));
    return EXIT_OK;
  }
  if (reports.length > LISTED_WITHOUT_ALL) for (const line of summaryLines(reports, config.health.maxLagMs / 1000)) io.stdout(line);
  if (reports.length > LISTED_WITHOUT_ALL && !args.all && args.db === undefined) return EXIT_OK;
  for (const report of reports) {
    io.stdout(`${report.db}: ${report.running ? `running (pid ${report.pid})` : 'not running'} generation=${report.generationId ?? '-'} position=${report.position ?? '-'}`);
    for (const replica of report.replicas) {
      io.stdout(`  replica ${replica.name} ${replica.url}: position=${replica.position ?? '-'} lag=${replica.lagBytes ?? '?'} bytes, ${replica.lagSeconds ?? '?'} s${replica.error ? ` error=${replica.error}` : ''}`);
      if (replica.requests) io.stdout(`    requests since start: ${formatRequestCounts(replica.requests)}`);
    }
    for (const [job, status] of Object.entries(report.jobs)) {
      io.stdout(
        `  job ${job}: runs=${status.runs} failures=${status.failures} last-success=${status.lastSuccess ?? '-'} next=${status.nextRun ?? '-'}` +
          (status.lastError ? ` last-error=${JSON.stringify(`${status.lastError.at} ${status.lastError.message}`)}` : ''),
      );
    }
  }
  return EXIT_OK;
}

type Standing = 'healthy' | 'lagging' | 'failing';

function standingOf(report: DatabaseReport, maxLagSeconds: number): Standing {
  const failing = report.replicas.some((replica) => replica.error) || Object.values(report.jobs).some((job) => job.lastError && (!job.lastSuccess || job.lastError.at > job.lastSuccess));
  if (failing) return 'failing';
  // lagSeconds is the age of the replica's newest object: an idle database's replica is old, not behind.
  return report.replicas.some((replica) => (replica.lagBytes ?? 0) > 0 && (replica.lagSeconds ?? 0) > maxLagSeconds) ? 'lagging' : 'healthy';
}

function summaryLines(reports: readonly DatabaseReport[], maxLagSeconds: number): string[] {
  const counts: Record<Standing, number> = { healthy: 0, lagging: 0, failing: 0 };
  for (const report of reports) counts[standingOf(report, maxLagSeconds)]++;
  const lags = reports
    .flatMap((report) => report.replicas.map((replica) => ({ db: report.db, replica, lag: replica.lagSeconds ?? 0, behind: replica.lagBytes ?? 0 })))
    .filter((entry) => entry.behind > 0)
    .sort((a, b) => b.lag - a.lag || b.behind - a.behind)
    .slice(0, WORST_SHOWN);
  return [
    `${reports.length} databases: ${counts.healthy} healthy, ${counts.lagging} lagging (over max-lag ${maxLagSeconds}s), ${counts.failing} failing (--all or --db TEXT lists them)`,
    ...lags.map((entry) => `  behind ${entry.behind} bytes, newest object ${entry.lag} s old: ${entry.db} replica ${entry.replica.name} ${entry.replica.url}`),
  ];
}

