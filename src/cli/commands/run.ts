/**
 * `walsync run [--config F] [--exec CMD] [--restore-if-db-not-exists]`: the
 * job runner, until SIGINT/SIGTERM (a final sync to every replica, exit 0
 * within 10 s). SIGHUP reloads the config; an invalid new one is reported and
 * the old one keeps running.
 *
 * With --exec (or `exec:`), walsync is the app's parent, as a container's
 * one process: the app starts once every database is open, gets SIGINT,
 * SIGTERM, SIGHUP and SIGQUIT, and its exit (after a final sync) is
 * walsync's exit, with its code.
 */
import { configPathFrom, loadConfig } from '../../config/config.js';
import type { Config } from '../../config/config.js';
import { ConfigError, EXIT_OK, EXIT_RUNTIME, messageOf } from '../../errors.js';
import type { AppProcess } from '../../exec/app-process.js';
import { startAppProcess } from '../../exec/app-process.js';
import { parseExecCommand } from '../../exec/command-line.js';
import { watchNpmLauncher } from '../../exec/launcher.js';
import { startZombieReaper } from '../../exec/reaper.js';
import { restoreMissingDatabases } from '../../exec/restore-on-start.js';
import { createLogger } from '../../log.js';
import type { Logger } from '../../log.js';
import { Metrics, serveMetrics } from '../../daemon/metrics.js';
import { createRunner } from '../../daemon/runner.js';
import type { LocalRunner } from '../../daemon/runner.js';
import type { JobRegistry } from '../../job/registry.js';
import type { CliIo } from '../io.js';
import { warnIfBelowNormalPriority } from '../priority.js';

export interface RunArgs {
  config?: string;
  exec?: string;
  'restore-if-db-not-exists': boolean;
}

const SHUTDOWN_LIMIT_MS = 9000;
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
/** What an app started with --exec is sent; SIGHUP is then the app's, not a config reload. */
const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];

export async function runCommand(args: RunArgs, io: CliIo, json: boolean, jobs: JobRegistry): Promise<number> {
  const file = configPathFrom(args.config, process.env);
  let config = await loadConfig(file);
  const exec = args.exec ?? config.exec;
  const appArgv = exec === undefined ? undefined : parseExecCommand(exec, args.exec === undefined ? `${file}: exec` : '--exec');
  const log = loggerFor(config, json);
  for (const warning of config.warnings) log.warn('config warning', { warning });
  // Taken from here on and held until the runner can act on them: a signal that came while the
  // databases were being opened would otherwise meet Node's default action and kill walsync.
  const signals = holdSignals(io, appArgv ? FORWARDED_SIGNALS : [...STOP_SIGNALS, 'SIGHUP']);
  const metrics = config.addr ? new Metrics(config.metrics.perDb) : undefined;
  let runner: LocalRunner | undefined;
  let server: Awaited<ReturnType<typeof serveMetrics>> | undefined;
  try {
    await restoreMissingDatabases(config.dbs, args['restore-if-db-not-exists'], log);
    server = config.addr && metrics ? await serveMetrics(config.addr, metrics, () => runner?.health.report()) : undefined;
    runner = await createRunner(config, log, { jobs, metrics, waitForMissing: appArgv !== undefined });
  } catch (error) {
    server?.close();
    signals.release();
    throw error;
  }
  log.info('running', { config: file, dbs: runner.databaseCount(), metrics: config.addr });
  warnIfBelowNormalPriority(log);
  const current = () => runner!;
  // A fault of walsync's own in a job or a timer: one line, then the stop every signal gets (a final sync), exit 1.
  let bug: unknown;
  const onBug = (error: unknown) => {
    if (bug !== undefined) return;
    bug = error ?? 'undefined';
    io.stderr(`walsync: BUG: ${messageOf(error).replace(/\s*\n\s*/g, ' ')} (please report this with --debug output)`);
    signals.raise('SIGTERM');
  };
  process.on('uncaughtException', onBug);
  process.on('unhandledRejection', onBug);
  let exitCode: number;
  try {
    exitCode = appArgv ? await superviseApp(appArgv, current, signals, log) : await serveUntilStopped(file, signals, log, current, (next) => {
      config = next;
      return createRunner(config, log, { jobs, metrics }).then((started) => void (runner = started));
    });
  } finally {
    process.off('uncaughtException', onBug);
    process.off('unhandledRejection', onBug);
    signals.release();
    server?.close();
  }
  return bug === undefined ? exitCode : EXIT_RUNTIME;
}

interface HeldSignals {
  /** Hands every signal to `handler`, first those that came before. */
  deliver(handler: (signal: NodeJS.Signals) => void): void;
  /** As if `signal` had come from outside. */
  raise(signal: NodeJS.Signals): void;
  release(): void;
}

function holdSignals(io: CliIo, names: readonly NodeJS.Signals[]): HeldSignals {
  const early: NodeJS.Signals[] = [];
  let handler: ((signal: NodeJS.Signals) => void) | undefined;
  const take = (signal: NodeJS.Signals) => (handler ? handler(signal) : early.push(signal));
  const release = io.onSignals(names, take);
  return {
    raise: take,
    deliver(next) {
      handler = next;
      for (const signal of early.splice(0)) next(signal);
    },
    release,
  };
}

/** Without --exec: until SIGINT, SIGTERM or the end of an npm launcher; SIGHUP reloads the config. */
async function serveUntilStopped(file: string, signals: HeldSignals, log: Logger, runner: () => LocalRunner, restart: (config: Config) => Promise<void>): Promise<number> {
  await new Promise<void>((resolve) => {
    let reloading = Promise.resolve();
    let stopped = false;
    const stop = (reason: Record<string, unknown>) => {
      if (stopped) return;
      stopped = true;
      // A second SIGINT or SIGTERM during the final sync then ends walsync at once, as it always has.
      signals.release();
      launcher.then((watch) => watch.stop());
      log.info('stopping after a final sync', reason);
      void reloading.then(() => stopWithin(runner(), log)).then(resolve);
    };
    const launcher = watchNpmLauncher(() => stop({ reason: 'the npm exec that started walsync exited' }));
    signals.deliver((signal) => {
      if (signal !== 'SIGHUP') return stop({ signal });
      reloading = reloading.then(async () => {
        const next = await reload(file, log);
        if (!next) return;
        try {
          const inPlace = await runner().reload(next);
          if (!inPlace) {
            await runner().stop();
            await restart(next);
          }
          log.info('config reloaded', { config: file, dbs: runner().databaseCount(), restarted: !inPlace });
        } catch (error) {
          log.error('config reload failed', { config: file, error: messageOf(error) });
        }
      });
    });
  });
  return EXIT_OK;
}

/** With --exec: the app runs until it exits; stop signals go to it, and its exit ends the run after a final sync. */
async function superviseApp(argv: string[], runner: () => LocalRunner, signals: HeldSignals, log: Logger): Promise<number> {
  let app: AppProcess;
  try {
    app = await startAppProcess(argv, log);
  } catch (error) {
    await stopWithin(runner(), log);
    throw error;
  }
  signals.deliver((signal) => {
    log.info('passing signal to the app', { signal, pid: app.pid });
    app.signal(signal);
  });
  const launcher = await watchNpmLauncher(() => {
    log.info('the npm exec that started walsync exited; stopping the app', { pid: app.pid });
    app.signal('SIGTERM');
  });
  const stopReaper = process.pid === 1 ? await startZombieReaper(() => new Set([app.pid]), log) : () => undefined;
  const exitCode = await app.exitCode;
  signals.release();
  launcher.stop();
  log.info('stopping after a final sync', { appExitCode: exitCode });
  await stopWithin(runner(), log);
  stopReaper();
  return exitCode;
}

function loggerFor(config: Config, json: boolean): Logger {
  return createLogger({ format: json ? 'json' : config.logging.format, level: config.logging.level, stream: process.stderr });
}

async function reload(file: string, log: Logger): Promise<Config | undefined> {
  try {
    const next = await loadConfig(file);
    for (const warning of next.warnings) log.warn('config warning', { warning });
    return next;
  } catch (error) {
    const problems = error instanceof ConfigError ? error.problems : [messageOf(error)];
    for (const problem of problems) log.error('config reload refused; the old config keeps running', { problem });
    return undefined;
  }
}

async function stopWithin(runner: { stop(): Promise<void> }, log: Logger): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(() => {
      log.error('shutdown took too long; exiting anyway', { limitMs: SHUTDOWN_LIMIT_MS });
      resolve();
    }, SHUTDOWN_LIMIT_MS);
  });
  await Promise.race([runner.stop(), limit]);
  clearTimeout(timer);
}
