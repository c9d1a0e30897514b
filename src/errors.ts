/**
 * The one place walsync's error types live. Every error a user can see is a
 * WalsyncError whose message starts with the thing at fault (a path, a flag,
 * a key); the CLI maps its code to an exit status with exitCodeFor().
 */

export type WalsyncErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'DB_NOT_FOUND'
  | 'DB_INVALID'
  | 'DB_BUSY'
  | 'DB_MISSING'
  | 'DB_REPLACED'
  | 'META_UNWRITABLE'
  | 'WAL_CORRUPT'
  | 'SHADOW_MISSING'
  | 'IO'
  | 'LOCKED'
  | 'SQLITE_COPIES'
  | 'REPLICA_CORRUPT'
  | 'REPLICA_IO'
  | 'REPLICA_NOT_FOUND'
  | 'RESTORE_GAP'
  | 'OUTPUT_EXISTS'
  | 'NO_BACKUPS'
  | 'VERIFY_MISMATCH'
  | 'JOBS_INVALID'
  | 'AGE_KEY'
  | 'HOST_KEY';

export class WalsyncError extends Error {
  readonly code: WalsyncErrorCode;

  constructor(code: WalsyncErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WalsyncError';
    this.code = code;
  }
}

/** Every problem found in a configuration, reported together. */
export class ConfigError extends WalsyncError {
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', problems.join('; '));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;
export const EXIT_INCONSISTENT = 3;

const usageCodes: ReadonlySet<WalsyncErrorCode> = new Set([
  'USAGE',
  'CONFIG_INVALID',
  'DB_NOT_FOUND',
  'DB_INVALID',
  'META_UNWRITABLE',
  'SHADOW_MISSING',
  'OUTPUT_EXISTS',
  'AGE_KEY',
  'HOST_KEY',
]);

export function exitCodeFor(error: unknown): number {
  if (!(error instanceof WalsyncError)) return EXIT_RUNTIME;
  if (error.code === 'VERIFY_MISMATCH') return EXIT_INCONSISTENT;
  return usageCodes.has(error.code) ? EXIT_USAGE : EXIT_RUNTIME;
}

/** The errno-style code of a Node system error, if it has one. */
export function systemErrorCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = (error as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** The errno name of an operating-system error (EIO, ENOSPC); undefined for anything else, SQLite's and the SDK's codes included. */
function errnoOf(error: unknown): string | undefined {
  const code = systemErrorCode(error);
  return code !== undefined && /^E[A-Z0-9]+$/.test(code) ? code : undefined;
}

/**
 * A Node system error (EIO, ENOSPC, EACCES...) met while working on
 * `filePath`, as one IO line naming that file: the error of a write or an
 * fsync on an open handle names no path of its own. Other errors pass
 * through unchanged.
 */
export function fileError(filePath: string, error: unknown): unknown {
  const code = errnoOf(error);
  if (error instanceof WalsyncError || code === undefined) return error;
  // "EIO: i/o error, write '/x'" → "i/o error, write"
  const description = messageOf(error).replace(/^E[A-Z0-9]+: /, '').replace(/ '.*$/, '');
  return new WalsyncError('IO', `${filePath}: ${code}: ${description}`, { cause: error });
}

/** The system error inside a fileError, for a caller that names the failure in its own terms; anything else as it is. */
export function unwrapFileError(error: unknown): unknown {
  return error instanceof WalsyncError && error.code === 'IO' && errnoOf(error.cause) !== undefined ? error.cause : error;
}

/** Runs `action`, turning a system error into fileError(filePath). */
export async function onFile<T>(filePath: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (error) {
    throw fileError(filePath, error);
  }
}

/** The code a log line or a status gives any thrown value: a WalsyncError's own, IO for a system error, else BUG. */
export function codeOf(error: unknown): string {
  if (error instanceof WalsyncError) return error.code;
  return errnoOf(error) ? 'IO' : 'BUG';
}

export function isNotFound(error: unknown): boolean {
  return systemErrorCode(error) === 'ENOENT';
}

/** The message of any thrown value, for wrapping it into one line. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
