/**
 * A real S3 HTTP server on 127.0.0.1 for a test: s3rver in a child process,
 * on a free port, storing into a temp directory, stopped in after(). It can
 * be stopped and started again on the same port and data (a store that goes
 * away mid-run), and it records every request it receives.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';

const childScript = fileURLToPath(new URL('./s3-server-child.js', import.meta.url));
const running = new Set<ChildProcessWithoutNullStreams>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** s3rver's fixed account. */
export const S3_TEST_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const S3_TEST_BUCKET = 'walsync-test';

export interface S3ServerRequest {
  readonly method: string;
  readonly url: string;
}

export interface S3Server {
  readonly endpoint: string;
  readonly port: number;
  /** Every request received since the server first started (across restarts). */
  readonly requests: S3ServerRequest[];
  /** An s3:// URL for a prefix of the test bucket on this server. */
  url(prefix: string, bucket?: string): string;
  /** The environment a walsync child process needs to reach this server. */
  env(): NodeJS.ProcessEnv;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/**
 * Starts a server; `onCleanup` registers its stop (a test's `t.after`, or a
 * suite's `after`), which also removes its data.
 */
export async function startS3Server(onCleanup: (stop: () => Promise<void>) => void, options: { buckets?: string[] } = {}): Promise<S3Server> {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'walsync-s3-'));
  const buckets = options.buckets ?? [S3_TEST_BUCKET];
  const requests: S3ServerRequest[] = [];
  let child: ChildProcessWithoutNullStreams | undefined;
  let port = 0;

  async function start(): Promise<void> {
    const started = spawn(process.execPath, ['--openssl-legacy-provider', childScript, JSON.stringify({ port, directory, buckets })], { stdio: 'pipe' });
    running.add(started);
    child = started;
    let stderr = '';
    started.stderr.on('data', (chunk) => (stderr += chunk));
    const lines = readline.createInterface({ input: started.stdout });
    port = await new Promise<number>((resolve, reject) => {
      started.once('exit', (code) => reject(new Error(`s3rver exited (code ${code}): ${stderr}`)));
      lines.once('line', (line) => resolve((JSON.parse(line) as { port: number }).port));
    });
    lines.on('line', (line) => requests.push(JSON.parse(line) as S3ServerRequest));
    started.on('exit', () => running.delete(started));
  }

  async function stop(): Promise<void> {
    const stopping = child;
    child = undefined;
    if (!stopping || stopping.exitCode !== null || stopping.signalCode !== null) return;
    await new Promise((resolve) => {
      stopping.once('exit', resolve);
      // SIGKILL: a store that vanishes, with connections cut mid-request.
      stopping.kill('SIGKILL');
    });
  }

  await start();
  onCleanup(async () => {
    await stop();
    fs.rmSync(directory, { recursive: true, force: true });
  });
  const endpoint = () => `http://127.0.0.1:${port}`;
  return {
    get endpoint() {
      return endpoint();
    },
    get port() {
      return port;
    },
    requests,
    url: (prefix, bucket = buckets[0]!) => `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(endpoint())}`,
    env: () => ({ ...process.env, WALSYNC_ACCESS_KEY_ID: S3_TEST_CREDENTIALS.accessKeyId, WALSYNC_SECRET_ACCESS_KEY: S3_TEST_CREDENTIALS.secretAccessKey }),
    stop,
    start,
  };
}
