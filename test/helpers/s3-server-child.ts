/**
 * A local S3 server (s3rver) for the tests, in its own node process started
 * with --openssl-legacy-provider (s3rver's continuation tokens use a cipher
 * OpenSSL 3 disables by default). Prints `{"port"}` once listening, then one
 * JSON line per request it receives, so tests can count what reached it.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  httpServer: Server;
}

type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const { port, directory, buckets } = JSON.parse(process.argv[2]!) as { port: number; directory: string; buckets: string[] };
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
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
