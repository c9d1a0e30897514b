/** Runs the built walsync CLI as a separate process, as a user or a cron job would. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  uid?: number;
  gid?: number;
  /** Start walsync under `nice -n` this much. */
  nice?: number;
  /** As root, start walsync without the capabilities that let root past file permissions, so a 0444 file or a 0000 directory stops it as it would anyone else. */
  obeyPermissions?: boolean;
}

export function spawnCli(args: string[], options: CliOptions = {}): ChildProcess {
  const nice = options.nice === undefined ? [] : ['nice', '-n', String(options.nice)];
  const capabilities = options.obeyPermissions && process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--'] : [];
  const command = [...capabilities, ...nice, process.execPath, cliPath, ...args];
  return spawn(command[0]!, command.slice(1), {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: options.uid,
    gid: options.gid,
  });
}

export function collect(child: ChildProcess, timeoutMs = 60_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += chunk));
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`walsync did not finish within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return collect(spawnCli(args, options), options.timeoutMs);
}

/** The stderr lines that are not log lines (timestamped), i.e. what the CLI says about errors. */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line !== '' && !/^\d{4}-\d\d-\d\dT/.test(line) && !line.startsWith('{'));
}
