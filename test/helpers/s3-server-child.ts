/**
 * A local S3 server (s3rver) for the tests, in its own node process started
 * with --openssl-legacy-provider (s3rver's continuation tokens use a cipher
 * OpenSSL 3 disables by default). Prints `{"port"}` once listening, then one
 * JSON line per request it receives, so tests can count what reached it.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server } from 'node:http';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  httpServer: Server;
}

type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

interface FilesystemStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putObject(object: { bucket: string; key: string }): Promise<{ size: number; md5: string }>;
}

const { port, directory, buckets } = JSON.parse(process.argv[2]!) as { port: number; directory: string; buckets: string[] };
const require = createRequire(import.meta.url);
const S3rver = require('s3rver') as S3rverConstructor;

/**
 * s3rver answers a PUT once its bytes have passed its hashing stream, before
 * the file stream under it has written them, so a HEAD right after can see a
 * short object (walsync HEADs every upload). S3 is read-after-write
 * consistent: the test server answers once the object is whole on disk.
 */
const store = (require('s3rver/lib/stores/filesystem') as { prototype: FilesystemStore }).prototype;
const putObject = store.putObject;
store.putObject = async function (this: FilesystemStore, object) {
  const stored = await putObject.call(this, object);
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  while (fs.statSync(objectPath).size < stored.size) await sleep(1);
  return stored;
};
const server = new S3rver({
  address: '127.0.0.1',
  port,
  directory,
  silent: true,
  vhostBuckets: false,
  configureBuckets: buckets.map((name) => ({ name })),
});
const address = await server.run();
server.httpServer.on('request', (request) => {
  process.stdout.write(`${JSON.stringify({ method: request.method, url: request.url })}\n`);
});
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => server.httpServer.close(() => process.exit(0)));
