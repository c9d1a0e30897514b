/**
 * walsync's CLI under strace, for syscall fault injection: a traced run that
 * lists every call touching a test's own files, and runs that make one of
 * those calls fail (`-e inject=SYSCALL:error=E:when=N`).
 *
 * strace counts `when=N` per thread, among the calls its filters let through.
 * So a run is made repeatable: libuv's thread pool is one thread (its queue
 * is FIFO, so the order of walsync's file work is the order walsync asked
 * for it), generation ids come from a counter (fixed-ids.ts), and `-P` names
 * the one file the fault is for, so node's own calls (modules, pipes,
 * eventfds) and walsync's calls on other files never count and are never hit.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cliPath, collect } from './cli.js';
import type { CliResult } from './cli.js';

const fixedIdsPath = fileURLToPath(new URL('./fixed-ids.js', import.meta.url));

/** The calls that put bytes or names on disk, and the opens before them. */
export const FAULT_SYSCALLS = ['openat', 'write', 'pwrite64', 'fsync', 'fdatasync', 'fallocate', 'rename', 'unlink', 'mkdir'] as const;
export type FaultSyscall = (typeof FAULT_SYSCALLS)[number];
/** ENOSPC is also injected into the calls that allocate space. */
export const SPACE_SYSCALLS: readonly FaultSyscall[] = ['write', 'pwrite64', 'fallocate'];

export interface TracedCall {
  /** 0 for the process's main thread, 1.. for other threads in the order they first made a call. */
  readonly thread: number;
  readonly syscall: string;
  /** Paths the call names: fd annotations (`-y`) and string arguments, in argument order. */
  readonly paths: readonly string[];
  readonly injected: boolean;
  readonly line: string;
}

export interface InjectionPoint {
  readonly syscall: FaultSyscall;
  readonly errno: 'EIO' | 'ENOSPC';
  /** strace's per-thread ordinal among the calls that pass `-P`. */
  readonly when: number;
  readonly thread: number;
  /** The path strace matched in the traced run. */
  readonly path: string;
}

export interface StraceRun {
  readonly result: CliResult;
  readonly calls: TracedCall[];
}

/** Runs `walsync args` under strace, tracing every fault syscall or, with `inject`, making that one call fail. */
export async function runUnderStrace(
  args: readonly string[],
  options: { traceFile: string; idBase: number; inject?: InjectionPoint; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<StraceRun> {
  const { inject } = options;
  const straceArgs = ['-f', '-qq', '-y', '-o', options.traceFile];
  if (inject) straceArgs.push('-e', `trace=${inject.syscall}`, '-P', inject.path, '-e', `inject=${inject.syscall}:error=${inject.errno}:when=${inject.when}`);
  else straceArgs.push('-e', `trace=${FAULT_SYSCALLS.join(',')}`);
  const child = spawn('strace', [...straceArgs, '--', process.execPath, '--import', fixedIdsPath, cliPath, ...args], {
    cwd: path.dirname(options.traceFile),
    env: { ...(options.env ?? process.env), UV_THREADPOOL_SIZE: '1', FIXED_ID_BASE: String(options.idBase) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const limitMs = options.timeoutMs ?? 60_000;
  const result = await new Promise<CliResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`walsync ${args.join(' ')} under strace did not finish within ${limitMs} ms: ${stderr}`));
    }, limitMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { result, calls: parseTrace(fs.readFileSync(options.traceFile, 'utf8')) };
}

/** strace -f -y output as calls, with `<unfinished ...>` halves joined to their `resumed` ends. */
export function parseTrace(text: string): TracedCall[] {
  const calls: TracedCall[] = [];
  const threads = new Map<string, number>();
  const unfinished = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const match = /^(\d+)\s+(.*)$/.exec(raw);
    if (!match) continue;
    const [, tid, rest] = match as unknown as [string, string, string];
    if (rest.endsWith('<unfinished ...>')) {
      unfinished.set(tid, rest.slice(0, -'<unfinished ...>'.length));
      continue;
    }
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    const line = resumed ? (unfinished.get(tid) ?? '') + resumed[1] : rest;
    unfinished.delete(tid);
    const syscall = /^(\w+)\(/.exec(line)?.[1];
    if (!syscall) continue;
    if (!threads.has(tid)) threads.set(tid, threads.size);
    const argsEnd = line.lastIndexOf(') = ');
    const argText = argsEnd < 0 ? line : line.slice(0, argsEnd);
    const paths = [...argText.matchAll(/(?:\d+|AT_FDCWD)<([^>]*)>|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2]!);
    calls.push({ thread: threads.get(tid)!, syscall, paths, injected: line.endsWith('(INJECTED)'), line });
  }
  return calls;
}

/** The path of `call` that strace's `-P` looks at: the first argument, and for openat also the second. */
function matchedPath(call: TracedCall, set: ReadonlySet<string>): string | undefined {
  const candidates = call.syscall === 'openat' ? call.paths.slice(0, 2) : call.paths.slice(0, 1);
  return candidates.find((p) => set.has(p));
}

/** Every path under `dir` that the calls name (strace's `-P` set for the injected runs). */
export function pathsUnder(calls: readonly TracedCall[], dir: string): string[] {
  const paths = new Set<string>();
  for (const call of calls) for (const p of call.paths) if (p === dir || p.startsWith(`${dir}/`)) paths.add(p);
  return [...paths].sort();
}

/**
 * One injection point per call on `paths` (EIO; ENOSPC as well for the calls
 * that allocate space). An injected run passes only the point's own path to
 * `-P`, so `when` counts that thread's calls on that one file: another
 * thread's call on another file cannot take the fault first.
 */
export function injectionPoints(calls: readonly TracedCall[], paths: readonly string[]): InjectionPoint[] {
  const set = new Set(paths);
  const ordinals = new Map<string, number>();
  const points: InjectionPoint[] = [];
  for (const call of calls) {
    const matched = matchedPath(call, set);
    if (matched === undefined || !(FAULT_SYSCALLS as readonly string[]).includes(call.syscall)) continue;
    const syscall = call.syscall as FaultSyscall;
    const key = `${call.thread}:${syscall}:${matched}`;
    const when = (ordinals.get(key) ?? 0) + 1;
    ordinals.set(key, when);
    points.push({ syscall, errno: 'EIO', when, thread: call.thread, path: matched });
    if (SPACE_SYSCALLS.includes(syscall)) points.push({ syscall, errno: 'ENOSPC', when, thread: call.thread, path: matched });
  }
  return points;
}

export function describePoint(point: InjectionPoint): string {
  return `${point.syscall}#${point.when} (thread ${point.thread}) ${point.errno} on ${point.path}`;
}

/** walsync with the fixed-ids hook but no strace: the steps that bring a case to the state an injected run starts from. */
export function runWithFixedIds(args: readonly string[], idBase: number, env: NodeJS.ProcessEnv = process.env): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', fixedIdsPath, cliPath, ...args], {
    env: { ...env, FIXED_ID_BASE: String(idBase) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}
