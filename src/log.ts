/**
 * One line per event on stderr, naming the database and generation: text
 * for people, JSON lines for machines. Library code never prints; it logs
 * through the Logger it is handed.
 */
import type { Writable } from 'node:stream';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFormat = 'text' | 'json';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(event: string, fields?: LogFields): void;
  info(event: string, fields?: LogFields): void;
  warn(event: string, fields?: LogFields): void;
  error(event: string, fields?: LogFields): void;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LoggerOptions {
  readonly format: LogFormat;
  readonly level: LogLevel;
  readonly stream: Writable;
  readonly now?: () => Date;
}

export function createLogger(options: LoggerOptions): Logger {
  const now = options.now ?? (() => new Date());
  const write = (level: LogLevel, event: string, fields: LogFields = {}) => {
    if (levelRank[level] < levelRank[options.level]) return;
    const time = now().toISOString();
    const line =
      options.format === 'json'
        ? JSON.stringify({ time, level, msg: event, ...fields })
        : `${time} ${level.toUpperCase()} ${event}${formatFields(fields)}`;
    options.stream.write(`${line}\n`);
  };
  return {
    debug: (event, fields) => write('debug', event, fields),
    info: (event, fields) => write('info', event, fields),
    warn: (event, fields) => write('warn', event, fields),
    error: (event, fields) => write('error', event, fields),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

function formatFields(fields: LogFields): string {
  let text = '';
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    const shown = typeof value === 'string' ? value : JSON.stringify(value);
    text += ` ${key}=${/[\s"=]/.test(shown) || shown === '' ? JSON.stringify(shown) : shown}`;
  }
  return text;
}
