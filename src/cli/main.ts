#!/usr/bin/env node
/**
 * The walsync command line: the only place that prints errors and exits.
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage/config/input, 3 verify
 * found an inconsistency.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { ConfigError, EXIT_RUNTIME, WalsyncError, codeOf, exitCodeFor, messageOf } from '../errors.js';
import { loadJobRegistry } from '../job/registry.js';
import { createLogger } from '../log.js';
import type { CliIo } from './io.js';
import { syncBuilder, syncCommand } from './commands/sync.js';
import type { SyncArgs } from './commands/sync.js';
import { listBuilder, listCommand } from './commands/list.js';
import type { ListArgs } from './commands/list.js';
import { restoreBuilder, restoreCommand } from './commands/restore.js';
import type { RestoreArgs } from './commands/restore.js';
import { retentionBuilder, retentionCommand } from './commands/retention.js';
import type { RetentionArgs } from './commands/retention.js';
import type { RunArgs } from './commands/run.js';
import { snapshotBuilder, snapshotCommand } from './commands/snapshot.js';
import type { StatusArgs } from './commands/status.js';
import { runBuilder, statusBuilder } from './config-option.js';
import type { SnapshotArgs } from './commands/snapshot.js';
import { verifyBuilder, verifyCommand } from './commands/verify.js';
import type { VerifyArgs } from './commands/verify.js';

// stderr carries one line per event: the AWS SDK's multi-line notice about the Node versions of its future releases is not one.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  const debug = argv.includes('--debug');
  const io = processIo(json, debug);
  let exitCode = 0;
  try {
    await yargs(argv)
      .scriptName('walsync')
      .usage('$0 <command> [options]')
      .option('json', { type: 'boolean', default: false, global: true, describe: 'Machine-readable output' })
      .option('debug', { type: 'boolean', default: false, global: true, describe: 'Debug logs and stack traces' })
      .command('sync [db] [replicas..]', 'Copy committed WAL frames into the shadow WAL and ship them to replicas', syncBuilder, async (args) => {
        exitCode = await syncCommand(args as unknown as SyncArgs, io, await loadJobRegistry());
      })
      .command('snapshot [db] [replicas..]', 'Write a full snapshot of the current position to replicas', snapshotBuilder, async (args) => {
        exitCode = await snapshotCommand(args as unknown as SnapshotArgs, io, await loadJobRegistry());
      })
      .command('restore [replica]', 'Restore a database from a replica, to the latest or an earlier position', restoreBuilder, async (args) => {
        exitCode = await restoreCommand(args as unknown as RestoreArgs, io);
      })
      .command('generations [replica]', 'List the generations in a replica', listBuilder, async (args) => {
        exitCode = await listCommand('generations', args as unknown as ListArgs, io);
      })
      .command('snapshots [replica]', 'List the snapshots in a replica', listBuilder, async (args) => {
        exitCode = await listCommand('snapshots', args as unknown as ListArgs, io);
      })
      .command('wal [replica]', 'List the WAL segments in a replica', listBuilder, async (args) => {
        exitCode = await listCommand('wal', args as unknown as ListArgs, io);
      })
      // The config file's parser, croner and the metrics client load only for the commands that use them.
      .command('run', 'Run the job runner from the config file until SIGINT/SIGTERM (or, with --exec, until the app exits)', runBuilder, async (args) => {
        const { runCommand } = await import('./commands/run.js');
        exitCode = await runCommand(args as unknown as RunArgs, io, json, await loadJobRegistry());
      })
      .command('status', 'Show generations, positions, replica lag and job history of the configured databases', statusBuilder, async (args) => {
        const { statusCommand } = await import('./commands/status.js');
        exitCode = await statusCommand(args as unknown as StatusArgs, io);
      })
      .command('retention [replica]', 'Delete snapshots and WAL segments past the retention period', retentionBuilder, async (args) => {
        exitCode = await retentionCommand(args as unknown as RetentionArgs, io);
      })
      .command('verify [db]', 'Check that the shadow WAL is whole and continues the real WAL', verifyBuilder, async (args) => {
        exitCode = await verifyCommand(args as unknown as VerifyArgs, io, await loadJobRegistry());
      })
      .demandCommand(1, 'a command is required')
      .strict()
      .exitProcess(false)
      .fail((message, error) => {
        throw error ?? new WalsyncError('USAGE', message);
      })
      .help()
      .version()
      .wrap(null)
      .parseAsync();
    return exitCode;
  } catch (error) {
    return reportError(error, debug);
  }
}

function reportError(error: unknown, debug: boolean): number {
  if (error instanceof ConfigError) {
    for (const problem of error.problems) process.stderr.write(`walsync: ${error.code}: ${oneLine(problem)}\n`);
    return exitCodeFor(error);
  }
  if (error instanceof WalsyncError) {
    process.stderr.write(`walsync: ${error.code}: ${oneLine(error.message)}\n`);
    if (debug && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCodeFor(error);
  }
  if (codeOf(error) === 'IO') {
    // The operating system said no (EIO, ENOSPC, EMFILE) where no caller named the file: still not a bug.
    process.stderr.write(`walsync: IO: ${oneLine(messageOf(error))}\n`);
    if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return EXIT_RUNTIME;
  }
  process.stderr.write(`walsync: BUG: ${oneLine(messageOf(error))} (please report this with --debug output)\n`);
  if (debug && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return EXIT_RUNTIME;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

function processIo(json: boolean, debug: boolean): CliIo {
  return {
    log: createLogger({ format: json ? 'json' : 'text', level: debug ? 'debug' : 'info', stream: process.stderr }),
    stdout: (line) => process.stdout.write(`${line}\n`),
    stderr: (line) => process.stderr.write(`${line}\n`),
    isTerminal: process.stderr.isTTY === true,
    progress: (line) => process.stderr.write(`\r\x1b[2K${line}`),
    onSignals(signals, handler) {
      const listeners = signals.map((signal) => [signal, () => handler(signal)] as const);
      for (const [signal, listener] of listeners) process.on(signal, listener);
      return () => {
        for (const [signal, listener] of listeners) process.off(signal, listener);
      };
    },
  };
}

// A reader that stopped reading (`walsync status | head -3`) is the end of the command, as for git log: quietly, exit 0.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});
const code = await main(hideBin(process.argv));
process.exitCode = code;
// A job past the shutdown limit must not keep the process alive; output already written still drains.
setTimeout(() => process.exit(code), 1000).unref();
