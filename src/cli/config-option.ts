/** The `--config` option of `run` and `status`, apart from their commands so the CLI loads those only when they run. */
import type { Argv } from 'yargs';

export function withConfigOption<T>(yargs: Argv<T>) {
  return yargs.option('config', { type: 'string', describe: 'Config file (default: $WALSYNC_CONFIG, else ./walsync.yml)' });
}
