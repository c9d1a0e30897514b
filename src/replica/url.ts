/**
 * Turns the replica a user names — `file:///abs/dir`, a directory path,
 * `s3://bucket/prefix?…`, `sftp://user@host/path?…`, or the S3 or SFTP settings
 * of a config file — into a client.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalsyncError } from '../errors.js';
import { AgeReplicaClient } from './age/age-replica.js';
import type { AgeKeys } from './age/keys.js';
import type { ReplicaClient } from './client.js';
import type { FileReplicaOptions } from './file.js';
import { FileReplicaClient } from './file.js';
import { LazyS3ReplicaClient } from './s3/lazy.js';
import type { S3ReplicaSettings } from './s3/settings.js';
import { isS3Url, parseS3Url, resolveS3Settings } from './s3/settings.js';
import { SftpReplicaClient } from './sftp/replica.js';
import type { SftpReplicaSettings } from './sftp/settings.js';
import { isSftpUrl, parseSftpUrl, resolveSftpSettings } from './sftp/settings.js';

/** A replica URL or directory, or the settings of a `type: s3` or `type: sftp` replica from a config file. */
export type ReplicaLocation = string | S3ReplicaSettings | SftpReplicaSettings;

/** A replica as a job opens it: where it is, and the age keys of its objects when it is encrypted. */
export interface ReplicaSpec {
  readonly location: ReplicaLocation;
  readonly age?: AgeKeys;
}

/** A client for `location`; with `age`, one that encrypts what it writes and decrypts what it reads. */
export function openReplica(location: ReplicaLocation, options?: FileReplicaOptions, env: NodeJS.ProcessEnv = process.env, age?: AgeKeys): ReplicaClient {
  const client = openStore(location, options, env);
  return age ? new AgeReplicaClient(client, age) : client;
}

/**
 * Text that starts like a URL (`scheme:`), or like one that lost its colon
 * (`s3//bucket`): never taken for a directory path, where a one-slash typo
 * of `s3://` would back up to the local disk without a word.
 */
const LOOKS_LIKE_URL = /^([a-z][a-z0-9+.-]*:|(s3|sftp|file)\/\/)/i;

const URL_FORMS = 'use file:///absolute/dir, s3://bucket/prefix, sftp://user@host/path or a directory path';

/** The directory of a file replica named by `url` (a path or file:// URL); undefined for a remote one. */
export function localReplicaDir(url: string): string | undefined {
  if (!url.startsWith('file:') && LOOKS_LIKE_URL.test(url)) return undefined;
  try {
    return url.startsWith('file:') ? fileURLToPath(url) : path.resolve(url);
  } catch {
    return undefined;
  }
}

function openStore(location: ReplicaLocation, options: FileReplicaOptions | undefined, env: NodeJS.ProcessEnv): ReplicaClient {
  if (typeof location !== 'string') {
    return 'host' in location ? new SftpReplicaClient(resolveSftpSettings(location, env)) : new LazyS3ReplicaClient(resolveS3Settings(location, env));
  }
  const url = location;
  if (isS3Url(url)) return new LazyS3ReplicaClient(resolveS3Settings(parseS3Url(url), env));
  if (isSftpUrl(url)) return new SftpReplicaClient(resolveSftpSettings(parseSftpUrl(url, { passwordAllowed: false }), env));
  if (url.startsWith('file:')) {
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch (error) {
      throw new WalsyncError('USAGE', `${url}: not a valid file:// URL (use file:///absolute/dir)`, { cause: error });
    }
    return new FileReplicaClient(root, options);
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1];
  if (scheme !== undefined) throw new WalsyncError('USAGE', `${url}: unsupported replica URL scheme ${scheme}: (${URL_FORMS})`);
  if (LOOKS_LIKE_URL.test(url)) throw new WalsyncError('USAGE', `${url}: not a well-formed replica URL (${URL_FORMS}; a directory path cannot start like a URL: write ./${url})`);
  return new FileReplicaClient(path.resolve(url), options);
}
