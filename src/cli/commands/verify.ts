/** `walsync verify DB [--json]`: exit 0 consistent, 3 inconsistent, 2 nothing to verify. */
import type { Argv } from 'yargs';
import { run as runVerify } from '../../../jobs/verify.js';
import { EXIT_INCONSISTENT, EXIT_OK } from '../../errors.js';
import type { DbArgs } from '../common.js';
import { openFromArgs, withDbOptions } from '../common.js';
import type { CliIo } from '../io.js';
import { verifyLines } from '../output.js';

export interface VerifyArgs extends DbArgs {
  json: boolean;
}

export function verifyBuilder<T>(yargs: Argv<T>) {
  return withDbOptions(yargs).positional('db', { type: 'string', describe: 'SQLite database walsync syncs' });
}

export async function verifyCommand(args: VerifyArgs, io: CliIo): Promise<number> {
  const ctx = await openFromArgs(args, io.log, { switchToWal: false });
  try {
    const result = await runVerify(ctx);
    const consistent = result.problems.length === 0;
    if (args.json) {
      io.stdout(JSON.stringify({ ...result, consistent }));
    } else {
      for (const line of verifyLines(result)) (consistent ? io.stdout : io.stderr)(line);
    }
    return consistent ? EXIT_OK : EXIT_INCONSISTENT;
  } finally {
    ctx.db.close();
  }
}
