/**
 * `walsync run [--config F]`: the job runner, until SIGINT/SIGTERM (a final
 * sync to every replica, exit 0 within 10 s). SIGHUP reloads the config; an
 * invalid new one is reported and the old one keeps running.
 */
import { configPathFrom, loadConfig } from '../../config.js';
import type { Config } from '../../config.js';
import { ConfigError, EXIT_OK, messageOf } from '../../errors.js';
import { createLogger } from '../../log.js';
import type { Logger } from '../../log.js';
import { Metrics, serveMetrics } from '../../metrics.js';
import { createRunner } from '../../runner.js';
import type { Runner } from '../../runner.js';
import type { CliIo } from '../io.js';
import { warnIfBelowNormalPriority } from '../priority.js';

export interface RunArgs {
  config?: string;
}

const SHUTDOWN_LIMIT_MS = 9000;

export async function runCommand(args: RunArgs, io: CliIo, json: boolean): Promise<number> {
  const file = configPathFrom(args.config, process.env);
  let config = await loadConfig(file);
  const log = loggerFor(config, json);
  const metrics = config.addr ? new Metrics() : undefined;
  const server = config.addr && metrics ? await serveMetrics(config.addr, metrics) : undefined;
  let runner: Runner;
  try {
    runner = await createRunner(config, log, metrics);
  } catch (error) {
    server?.close();
    throw error;
  }
  log.info('running', { config: file, dbs: config.dbs.length, metrics: config.addr });
  warnIfBelowNormalPriority(log);
  await new Promise<void>((resolve) => {
    let reloading = Promise.resolve();
    const remove = io.onSignals(['SIGINT', 'SIGTERM', 'SIGHUP'], (signal) => {
      if (signal !== 'SIGHUP') {
        remove();
        log.info('stopping after a final sync', { signal });
        void reloading.then(() => stopWithin(runner, log)).then(resolve);
        return;
      }
      reloading = reloading.then(async () => {
        const next = await reload(file, log);
        if (!next) return;
        await runner.stop();
        config = next;
        runner = await createRunner(config, log, metrics);
        log.info('config reloaded', { config: file, dbs: config.dbs.length });
      });
    });
  });
  server?.close();
  return EXIT_OK;
}

function loggerFor(config: Config, json: boolean): Logger {
  return createLogger({ format: json ? 'json' : config.logging.format, level: config.logging.level, stream: process.stderr });
}

async function reload(file: string, log: Logger): Promise<Config | undefined> {
  try {
    return await loadConfig(file);
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
