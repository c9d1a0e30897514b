/** Turns the replica a user names (`file:///abs/dir` or a directory path) into a client. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { WalsyncError } from '../errors.js';
import type { ReplicaClient } from './client.js';
import type { FileReplicaOptions } from './file.js';
import { FileReplicaClient } from './file.js';

export function openReplica(url: string, options?: FileReplicaOptions): ReplicaClient {
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
    throw new WalsyncError('USAGE', `${url}: unsupported replica URL scheme (use file:///absolute/dir or a directory path)`);
  }
  return new FileReplicaClient(path.resolve(url), options);
}
