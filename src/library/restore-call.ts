/**
 * The library's `restore(replica, options)`: a replica URL or directory (or
 * a client from openReplica), the options the CLI's restore takes, and a
 * WalsyncError (code USAGE) naming the argument that is wrong, instead of
 * whatever a wrong type would throw deep inside.
 */
import { WalsyncError } from '../errors.js';
import type { AgeKeys } from '../replica/age/keys.js';
import { isAgeIdentity, readIdentityFile } from '../replica/age/keys.js';
import type { ReplicaClient } from '../replica/client.js';
import { openReplica as openReplicaLocation } from '../replica/url.js';
import type { IntegrityCheck, RestoreResult } from '../restore/restore.js';
import { INTEGRITY_CHECKS, restore as restoreWith } from '../restore/restore.js';

export interface ReplicaOptions {
  /** Age identities (`AGE-SECRET-KEY-1…`) of an encrypted replica. */
  readonly ageIdentities?: readonly string[];
  /** Files holding them, as `--age-identity` reads them. */
  readonly ageIdentityFiles?: readonly string[];
}

export interface LibraryRestoreOptions extends ReplicaOptions {
  /** Where the database goes (the CLI's `-o`); never overwritten. */
  readonly output: string;
  readonly generation?: string;
  /** Up to the end of this WAL index (`--index`). */
  readonly index?: number;
  /** The newest position at or before this time (`--timestamp`): a Date or an RFC 3339 string. */
  readonly timestamp?: Date | string;
  readonly ifDbNotExists?: boolean;
  readonly ifReplicaExists?: boolean;
  /** `full` (the default), `quick` or `none`. */
  readonly integrityCheck?: IntegrityCheck;
}

/** A client for a replica URL or directory, as the CLI takes them (S3 credentials from the environment). */
export function openReplica(replica: string, options: ReplicaOptions = {}): ReplicaClient {
  if (typeof replica !== 'string' || replica === '') throw usage('replica', 'must be a replica URL or directory (a non-empty string)');
  if (typeof options !== 'object' || options === null) throw usage('options', 'must be an object');
  return openReplicaLocation(replica, undefined, process.env, ageKeys(options));
}

export async function restore(replica: string | ReplicaClient, options: LibraryRestoreOptions): Promise<RestoreResult> {
  if (typeof options !== 'object' || options === null) throw usage('options', 'must be an object with at least `output`');
  const { output, generation, index, timestamp, integrityCheck } = options;
  if (typeof output !== 'string' || output === '') throw usage('options.output', 'must be the path to restore to');
  if (generation !== undefined && (typeof generation !== 'string' || !/^[0-9a-f]{16}$/.test(generation))) throw usage('options.generation', 'must be a generation id (16 hex digits)');
  if (index !== undefined && (!Number.isInteger(index) || index < 0)) throw usage('options.index', 'must be a WAL index (a whole number >= 0)');
  if (integrityCheck !== undefined && !INTEGRITY_CHECKS.includes(integrityCheck)) throw usage('options.integrityCheck', `must be one of ${INTEGRITY_CHECKS.join(', ')}`);
  const client = typeof replica === 'string' ? openReplica(replica, options) : replica;
  if (typeof client?.listGenerations !== 'function') throw usage('replica', 'must be a replica URL or directory, or a client from openReplica');
  return restoreWith({
    client,
    outputPath: output,
    generationId: generation,
    index,
    timestamp: timestamp === undefined ? undefined : timeOf(timestamp),
    ifDbNotExists: options.ifDbNotExists,
    ifReplicaExists: options.ifReplicaExists,
    integrityCheck,
  });
}

function ageKeys(options: ReplicaOptions): AgeKeys | undefined {
  const identities = [...(options.ageIdentities ?? [])];
  for (const identity of identities) if (typeof identity !== 'string' || !isAgeIdentity(identity)) throw usage('options.ageIdentities', 'must hold age identities (AGE-SECRET-KEY-1…)');
  for (const file of options.ageIdentityFiles ?? []) {
    try {
      identities.push(...readIdentityFile(file));
    } catch (error) {
      throw new WalsyncError('AGE_KEY', `options.ageIdentityFiles: ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  }
  return identities.length > 0 ? { recipients: [], identities } : undefined;
}

function timeOf(timestamp: Date | string): Date {
  const date = timestamp instanceof Date ? timestamp : typeof timestamp === 'string' ? new Date(timestamp) : new Date(Number.NaN);
  if (Number.isNaN(date.getTime())) throw usage('options.timestamp', 'must be a Date or an RFC 3339 time (e.g. 2026-11-24T12:00:00Z)');
  return date;
}

function usage(argument: string, message: string): WalsyncError {
  return new WalsyncError('USAGE', `restore: ${argument}: ${message}`);
}
