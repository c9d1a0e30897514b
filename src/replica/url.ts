/**
 * Turns the replica a user names — `file:///abs/dir`, a directory path,
 * `s3://bucket/prefix?…`, or the S3 settings of a config file — into a client.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalsyncError } from '../errors.js';
import type { ReplicaClient } from './client.js';
import type { FileReplicaOptions } from './file.js';
import { FileReplicaClient } from './file.js';
import { LazyS3ReplicaClient } from './s3/lazy.js';
import type { S3ReplicaSettings } from './s3/settings.js';
import { isS3Url, parseS3Url, resolveS3Settings } from './s3/settings.js';

/** A replica URL or directory, or the settings of a `type: s3` replica from a config file. */
export type ReplicaLocation = string | S3ReplicaSettings;

export function openReplica(location: ReplicaLocation, options?: FileReplicaOptions, env: NodeJS.ProcessEnv = process.env): ReplicaClient {
  if (typeof location !== 'string') return new LazyS3ReplicaClient(resolveS3Settings(location, env));
  const url = location;
  if (isS3Url(url)) return new LazyS3ReplicaClient(resolveS3Settings(parseS3Url(url), env));
  if (url.startsWith('file:')) {
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch (error) {
      throw new WalsyncError('USAGE', `${url}: not a valid file:// URL (use file:///absolute/dir)`, { cause: error });
    }
    return new FileReplicaClient(root, options);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new WalsyncError('USAGE', `${url}: unsupported replica URL scheme (use file:///absolute/dir, s3://bucket/prefix or a directory path)`);
  }
  return new FileReplicaClient(path.resolve(url), options);
}
