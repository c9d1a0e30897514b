/**
 * Reading the raw YAML document: each value checked for its type, each
 * problem collected (never thrown) as `file: key.path: what`, so that one
 * run reports them all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Cron } from 'croner';
import { messageOf, systemErrorCode } from '../errors.js';
import { secretFileWarning } from '../fsx/secret-file.js';
import type { Schedule } from './config.js';
import { parseDuration } from './duration.js';

export type Raw = Record<string, unknown>;

/** Collects problems while reading the raw document, each as `file: key.path: what`. */
export class Reader {
  readonly problems: string[] = [];
  /** What is allowed but unwise (a key file others can read): the config loads, and whoever runs it prints these. */
  readonly warnings: string[] = [];
  /** With `unsetVariables: 'kept'`: the keys whose value names a variable the environment does not set. */
  private readonly unresolvedKeys = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly unsetVariables: 'problem' | 'kept' = 'problem',
  ) {}

  /** Keys with a problem already: the first one said is the cause, and a second line on the same key (`is missing` after `${VAR} is not set`) only repeats it. */
  private readonly keysAtFault = new Set<string>();

  /** A key whose value kept an unset `${VAR}` as written says nothing wrong: what it would say is about the placeholder. */
  problem(key: string, message: string): void {
    if (this.unresolvedKeys.has(key) || this.keysAtFault.has(key)) return;
    this.keysAtFault.add(key);
    this.problems.push(`${path.basename(this.file)}: ${key}: ${message}`);
  }

  /** A file of secrets named at `key`: one that cannot be read is a problem, one that others can read a warning. */
  secretFile(key: string, filePath: string): void {
    try {
      fs.accessSync(filePath, fs.constants.R_OK);
    } catch (error) {
      this.problem(key, `${filePath}: cannot be read (${systemErrorCode(error) ?? messageOf(error)})`);
      return;
    }
    const warning = secretFileWarning(filePath);
    if (warning) this.warnings.push(`${path.basename(this.file)}: ${key}: ${warning}`);
  }

  object(value: unknown, key: string, allowed: readonly string[]): Raw | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'object' || Array.isArray(value)) {
      this.problem(key, 'must be a mapping');
      return undefined;
    }
    for (const name of Object.keys(value)) {
      if (!allowed.includes(name)) this.problem(`${key === '' ? '' : `${key}.`}${name}`, `unknown key (known: ${allowed.join(', ')})`);
    }
    return value as Raw;
  }

  string(value: unknown, key: string): string | undefined {
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      this.problem(key, 'must be a string');
      return undefined;
    }
    return this.expand(String(value), key);
  }

  /** `${VAR}` comes from the environment, so secrets stay out of the file. */
  private expand(text: string, key: string): string | undefined {
    let ok = true;
    const expanded = text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
      const value = this.env[name];
      if (value === undefined && this.unsetVariables === 'kept') {
        this.unresolvedKeys.add(key);
        return `\${${name}}`;
      }
      if (value === undefined) {
        this.problem(key, `\${${name}} is not set in the environment`);
        ok = false;
        return '';
      }
      return value;
    });
    return ok ? expanded : undefined;
  }

  duration(value: unknown, key: string, fallback: string): number | undefined {
    const text = this.string(value, key) ?? fallback;
    const ms = parseDuration(text);
    if (ms === undefined) this.problem(key, `${JSON.stringify(text)} is not a duration (e.g. 1s, 10m, 24h)`);
    this.bareNumber(key, text);
    return ms;
  }

  /** A number without a unit is taken as seconds, as it always was, and said so: it reads as milliseconds to some. */
  private bareNumber(key: string, text: string): void {
    if (/^\s*\d+\s*$/.test(text)) this.warnings.push(`${path.basename(this.file)}: ${key}: ${text.trim()} has no unit and is taken as ${text.trim()}s; write the unit (${text.trim()}s, ${text.trim()}ms)`);
  }

  schedule(value: unknown, key: string, fallback: string | undefined): Schedule | undefined {
    const text = this.string(value, key) ?? fallback;
    if (text === undefined) return undefined;
    const ms = parseDuration(text);
    if (ms !== undefined) {
      this.bareNumber(key, text);
      if (ms <= 0) this.problem(key, `${JSON.stringify(text)} must be longer than 0`);
      return { kind: 'interval', ms, text };
    }
    try {
      new Cron(text, { paused: true }).stop();
      return { kind: 'cron', pattern: text };
    } catch (error) {
      this.problem(key, `${JSON.stringify(text)} is neither a duration nor a cron expression (${messageOf(error)})`);
      return undefined;
    }
  }

  boolean(value: unknown, key: string): boolean | undefined {
    const text = this.string(value, key);
    if (text === undefined) return undefined;
    if (text === 'true' || text === 'false') return text === 'true';
    this.problem(key, `${JSON.stringify(text)} is not true or false`);
    return undefined;
  }

  pageCount(value: unknown, key: string, fallback: number): number {
    return this.positiveInteger(value, key, fallback, ' of pages');
  }

  positiveInteger(value: unknown, key: string, fallback: number, unit = ''): number {
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      this.problem(key, `${JSON.stringify(value)} is not a positive whole number${unit}`);
      return fallback;
    }
    return value;
  }
}
