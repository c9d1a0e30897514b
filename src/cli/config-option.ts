/** The options of `run` and `status`, apart from their commands so the CLI loads those only when they run. */
import type { Argv } from 'yargs';

export function withConfigOption<T>(yargs: Argv<T>) {
  return yargs.option('config', { type: 'string', describe: 'Config file (default: $WALSYNC_CONFIG, else ./walsync.yml)' });
}

export function runBuilder<T>(yargs: Argv<T>) {
  return withConfigOption(yargs)
    .option('exec', { type: 'string', describe: 'Start this app as a child once every database is open; walsync exits with its exit code (config: exec)' })
    .option('restore-if-db-not-exists', { type: 'boolean', default: false, describe: 'Restore each missing database from its first replica with a backup before starting' });
}

/** Up to this many databases, `walsync status` lists each one without being asked. */
export const LISTED_WITHOUT_ALL = 10;

export function statusBuilder<T>(yargs: Argv<T>) {
  return withConfigOption(yargs)
    .option('all', { type: 'boolean', default: false, describe: `List every database, not only the summary (which comes past ${LISTED_WITHOUT_ALL})` })
    .option('db', { type: 'string', describe: 'List the databases whose path holds this text' });
}
