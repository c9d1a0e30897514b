/**
 * The replica backends the contract suite runs against, each with a way to
 * put a raw object under the replica root behind the client's back (foreign
 * names, out-of-order writes).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { ReplicaClient } from '../../src/replica/client.js';
import { openReplica } from '../../src/replica/url.js';
import { S3_TEST_BUCKET, S3_TEST_CREDENTIALS, startS3Server } from './s3-server.js';
import type { S3Server } from './s3-server.js';
import type { SshServer } from './sshd.js';
import { startSshServer } from './sshd.js';
import { tempDir } from './tmp.js';

export interface ReplicaBackend {
  readonly client: ReplicaClient;
  /** The replica as the CLI takes it. */
  readonly url: string;
  readonly env: NodeJS.ProcessEnv;
  putRaw(key: string, bytes: Uint8Array): Promise<void>;
  getRaw(key: string): Promise<Uint8Array>;
  deleteRaw(key: string): Promise<void>;
}

export interface BackendKind {
  readonly name: 'file' | 's3' | 'sftp';
  open(t: TestContext): Promise<ReplicaBackend>;
}

/** A replica whose objects are files under `root` on this machine, reached through `url`. */
function localBackend(root: string, url: string): ReplicaBackend {
  return {
    client: openReplica(url),
    url,
    env: process.env,
    async putRaw(key, bytes) {
      await fs.mkdir(path.dirname(path.join(root, key)), { recursive: true });
      await fs.writeFile(path.join(root, key), bytes);
    },
    getRaw: (key) => fs.readFile(path.join(root, key)),
    deleteRaw: (key) => fs.rm(path.join(root, key)),
  };
}

export const fileBackend: BackendKind = {
  name: 'file',
  async open(t) {
    const root = path.join(tempDir(t), 'replica');
    return localBackend(root, root);
  },
};

let prefixCount = 0;

/** One sshd for a whole suite (started on first use, stopped by `onCleanup`), a fresh directory per test; raw objects are put straight into the served directory. */
export function sftpBackend(onCleanup: (stop: () => Promise<void>) => void): BackendKind {
  let server: SshServer | undefined;
  return {
    name: 'sftp',
    async open() {
      server ??= await startSshServer(onCleanup);
      const dir = `contract-${process.pid}-${++prefixCount}`;
      return localBackend(path.join(server.home, dir), server.url(dir));
    },
  };
}

/** One server for a whole suite (started on first use, stopped by `onCleanup`), a fresh key prefix per test. */
export function s3Backend(onCleanup: (stop: () => Promise<void>) => void): BackendKind {
  let server: S3Server | undefined;
  return {
    name: 's3',
    async open() {
      server ??= await startS3Server(onCleanup);
      const prefix = `contract/${process.pid}-${++prefixCount}`;
      const url = server.url(prefix);
      const env = server.env();
      const raw = new S3Client({ region: 'us-east-1', endpoint: server.endpoint, forcePathStyle: true, credentials: S3_TEST_CREDENTIALS });
      return {
        client: openReplica(url, undefined, env),
        url,
        env,
        async putRaw(key, bytes) {
          await raw.send(new PutObjectCommand({ Bucket: S3_TEST_BUCKET, Key: `${prefix}/${key}`, Body: bytes }));
        },
        async getRaw(key) {
          const object = await raw.send(new GetObjectCommand({ Bucket: S3_TEST_BUCKET, Key: `${prefix}/${key}` }));
          return object.Body!.transformToByteArray();
        },
        async deleteRaw(key) {
          await raw.send(new DeleteObjectCommand({ Bucket: S3_TEST_BUCKET, Key: `${prefix}/${key}` }));
        },
      };
    },
  };
}
