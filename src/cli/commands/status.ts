/**
 * `walsync status [--config F] [--json]`: per database and replica, the
 * generation and position, replica lag, and each job's last success, last
 * error and next run — read from disk (the shadow, the replicas and the
 * daemon's status file), so it works while `walsync run` is running.
 */
import { configPathFrom, loadConfig } from '../../config/config.js';
import { EXIT_OK } from '../../errors.js';
import { defaultMetaDir } from '../../layout.js';
import { formatRequestCounts } from '../../replica/request-counter.js';
import { discoverDatabases } from '../../daemon/discovery.js';
import { describeDatabase } from '../../daemon/status-report.js';
import { silentLogger } from '../../log.js';
import type { CliIo } from '../io.js';

export interface StatusArgs {
  config?: string;
  json: boolean;
}

export async function statusCommand(args: StatusArgs, io: CliIo): Promise<number> {
  const config = await loadConfig(configPathFrom(args.config, process.env));
  const reports = [];
  // What walsync run would skip is its log's to say, not status's.
  for (const db of await discoverDatabases(config, silentLogger)) reports.push(await describeDatabase(db, db.metaPath ?? defaultMetaDir(db.path)));
  if (args.json) {
    io.stdout(JSON.stringify(reports));
    return EXIT_OK;
  }
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
