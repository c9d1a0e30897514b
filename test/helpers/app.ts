/**
 * Starts the app under test as a separate process — node + better-sqlite3 or
 * python3's sqlite3 — holding its own connection, and drives it command by
 * command. Every started app is killed when the test process exits.
 */
import { spawn } from 'node:child_process';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { AppCommand, AppOptions } from './app-protocol.js';
import { tempDir } from './tmp.js';

export type AppKind = 'node' | 'python';

const childScript = fileURLToPath(new URL('./app-child.js', import.meta.url));
// tsc does not copy .py files: the python app is read from the source tree.
const pythonScript = fileURLToPath(new URL('../../../test/helpers/app.py', import.meta.url));
const running = new Set<ChildProcessWithoutNullStreams>();
process.on('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

export interface App {
  readonly pid: number;
  exec(sql: string): Promise<void>;
  insert(count: number, options?: { size?: number; perTx?: number }): Promise<void>;
  beginHold(rows?: number, size?: number): Promise<void>;
  commitHold(): Promise<void>;
  rollbackHold(): Promise<void>;
  checkpoint(mode: 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE'): Promise<number[]>;
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
  close(): Promise<void>;
  kill(): void;
}

export async function startApp(options: AppOptions & { kind?: AppKind }): Promise<App> {
  const { kind = 'node', ...appOptions } = options;
  const args = JSON.stringify(appOptions);
  const child =
    kind === 'node'
      ? spawn(process.execPath, [childScript, args], { stdio: 'pipe' })
      : spawn('python3', [pythonScript, args], { stdio: 'pipe' });
  running.add(child);
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const replies = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const exited = new Promise<never>((_, reject) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      reject(new Error(`app (${kind}) exited (code ${code}, signal ${signal}): ${stderr.trim()}`));
    });
  });
  exited.catch(() => undefined);

  async function next(): Promise<unknown> {
    const line = await Promise.race([replies.next(), exited]);
    if (line.done) return exited;
    const reply = JSON.parse(line.value) as { ok: boolean; result?: unknown; error?: string };
    if (!reply.ok) throw new Error(`app (${kind}): ${reply.error}`);
    return reply.result;
  }
  async function send(command: AppCommand): Promise<unknown> {
    child.stdin.write(`${JSON.stringify(command)}\n`);
    return next();
  }

  await next();
  return {
    pid: child.pid!,
    exec: async (sql) => void (await send({ op: 'exec', sql })),
    insert: async (count, opts = {}) => void (await send({ op: 'insert', count, ...opts })),
    beginHold: async (rows = 0, size = 100) => void (await send({ op: 'beginHold', rows, size })),
    commitHold: async () => void (await send({ op: 'commitHold' })),
    rollbackHold: async () => void (await send({ op: 'rollbackHold' })),
    checkpoint: async (mode) => (await send({ op: 'checkpoint', mode })) as number[],
    query: async <T>(sql: string) => (await send({ op: 'query', sql })) as T[],
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await send({ op: 'close' }).catch(() => undefined);
      await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}

/** A fresh temp dir with an app writing `app.db` in it; both go away when the test ends. */
export async function startAppInTempDir(
  t: TestContext,
  options: Omit<AppOptions, 'dbPath'> & { kind?: AppKind } = {},
): Promise<{ dir: string; dbPath: string; app: App }> {
  const dir = tempDir(t);
  const dbPath = path.join(dir, 'app.db');
  const app = await startApp({ ...options, dbPath });
  t.after(() => app.close());
  return { dir, dbPath, app };
}
