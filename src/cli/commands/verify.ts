/**
 * `walsync verify DB [--replica URL] [--json]`: exit 0 consistent, 3
 * inconsistent, 2 nothing to verify. With --replica it syncs, restores the
 * replica's latest position and compares it with the live database there.
 */
import type { Argv } from 'yargs';
import { EXIT_INCONSISTENT, EXIT_OK } from '../../errors.js';
import type { JobRegistry } from '../../job/registry.js';
import { formatPos } from '../../wal/pos.js';
import type { DbArgs } from '../common.js';
import { openFromArgs, withDbOptions } from '../common.js';
import type { CliIo } from '../io.js';
import type { AgeArgs } from '../age-option.js';
import { ageFromArgs, withAgeOptions } from '../age-option.js';
import { verifyLines } from '../output.js';

export interface VerifyArgs extends DbArgs, AgeArgs {
  replica?: string[];
  json: boolean;
}

export function verifyBuilder<T>(yargs: Argv<T>) {
  return withAgeOptions(withDbOptions(yargs), { write: true })
    .positional('db', { type: 'string', describe: 'SQLite database walsync syncs' })
    .option('replica', { type: 'string', array: true, describe: 'Also restore this replica and compare it with the database' });
}

export async function verifyCommand(args: VerifyArgs, io: CliIo, jobs: JobRegistry): Promise<number> {
  const replicaUrls = args.replica ?? [];
  const ctx = await openFromArgs(args, io.log, {
    switchToWal: replicaUrls.length > 0,
    replicaUrls,
    age: ageFromArgs(args, io.log),
    lock: { role: 'one-shot-if-synced', what: 'verify' },
  });
  try {
    const { shadow, replicas, consistent } = await jobs.verify.run(ctx);
    const differing = replicas.filter((r) => r.difference !== undefined);
    const unrestorable = replicas.filter((r) => r.restoreError !== undefined);
    if (args.json) {
      io.stdout(JSON.stringify({ ...shadow, consistent, replicas: replicas.map((r) => ({ ...r, position: formatPos(r.position) })) }));
      return consistent ? EXIT_OK : EXIT_INCONSISTENT;
    }
    const lines = shadow.problems.length > 0 ? verifyLines(shadow) : [];
    for (const r of differing) lines.push(`${r.replica}: restored at ${formatPos(r.position)} differs from ${ctx.db.dbPath}: ${r.difference}`);
    for (const r of unrestorable) lines.push(`${r.replica}: does not restore to ${formatPos(r.position)}: ${r.restoreError}`);
    if (consistent) {
      io.stdout(verifyLines(shadow)[0]!);
      if (shadow.behind !== undefined) io.stdout(`behind: ${shadow.behind}`);
      for (const r of replicas) io.stdout(`restores: ${r.replica} at ${formatPos(r.position)} equals ${ctx.db.dbPath}`);
    }
    for (const line of lines) io.stderr(line);
    return consistent ? EXIT_OK : EXIT_INCONSISTENT;
  } finally {
    await ctx.close();
  }
}
