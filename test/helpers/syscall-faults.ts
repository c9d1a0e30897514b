/**
 * One operation (a sync, a snapshot, a retention pass, a restore) run with
 * each of its file syscalls failing in turn: a traced run finds the calls on
 * the case's own files, then for each one a fresh case is prepared the same
 * way, the operation runs with that call failing, and the case must recover.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { App } from './app.js';
import { errorLines } from './cli.js';
import type { CliResult } from './cli.js';
import { tempDir } from './tmp.js';
import { describePoint, injectionPoints, pathsUnder, runUnderStrace } from './strace.js';
import type { InjectionPoint, TracedCall } from './strace.js';

export interface FaultCase {
  readonly dir: string;
  readonly dbPath: string;
  readonly replica: string;
  readonly app: App;
}

export interface FaultOperation {
  readonly name: string;
  /** Brings a fresh case to the state the operation starts from (with fixed ids, so each preparation names the same files). */
  prepare(dir: string): Promise<FaultCase>;
  /** The CLI arguments of the operation under test. */
  args(fault: FaultCase): string[];
  /** After the operation ran with one call failing: what must hold once the next clean runs are done. */
  recover(fault: FaultCase, injected: CliResult): Promise<void>;
}

export interface PointOutcome {
  readonly point: InjectionPoint;
  readonly landed: TracedCall[];
  readonly exitCode: number | null;
  readonly errorLine: string | undefined;
}

/** The operation's injection points, from one traced run of a prepared case. */
export async function enumeratePoints(operation: FaultOperation, dir: string): Promise<InjectionPoint[]> {
  const fault = await freshCase(operation, dir);
  try {
    const traced = await runUnderStrace(operation.args(fault), { traceFile: traceFileFor(dir), idBase: 2 });
    assert.equal(traced.result.code, 0, `the traced ${operation.name} failed: ${traced.result.stderr}`);
    return injectionPoints(traced.calls, pathsUnder(traced.calls, fault.dir));
  } finally {
    await fault.app.close();
  }
}

/** Runs the operation on a fresh case with `point` failing, then checks the failure and the recovery. */
export async function runPoint(operation: FaultOperation, dir: string, point: InjectionPoint): Promise<PointOutcome> {
  const fault = await freshCase(operation, dir);
  try {
    const injected = await runUnderStrace(operation.args(fault), { traceFile: traceFileFor(dir), idBase: 2, inject: point });
    const landed = injected.calls.filter((call) => call.injected);
    const what = describePoint(point);
    assert.ok(landed.length > 0, `${what}: the fault did not land (the run made fewer such calls than the traced one): ${injected.result.stderr}`);
    assert.ok(
      landed.some((call) => call.paths.includes(point.path)),
      `${what}: the fault landed elsewhere: ${landed.map((call) => call.line).join(' | ')}`,
    );
    const { stderr } = injected.result;
    assert.doesNotMatch(stderr, /^\s+at |Unhandled|node:internal|\bBUG\b/m, `${what}: ${stderr}`);
    // SQLite's own words for EIO and ENOSPC count as naming the error.
    const lines = errorLines(stderr);
    if (injected.result.code !== 0) {
      assert.equal(lines.length, 1, `${what}: want one error line, got: ${stderr}`);
      assert.match(lines[0]!, /^walsync: [A-Z_]+: /, what);
      assert.ok(lines[0]!.includes(fault.dir), `${what}: the error line names no file of the case: ${lines[0]}`);
      assert.match(lines[0]!, new RegExp(`${point.errno}|I/O error|no space|unable to open|readonly database|disk is full`, 'i'), `${what}: the error line names no error: ${lines[0]}`);
    }
    await operation.recover(fault, injected.result);
    assertNoTmpFiles(fault.dir);
    return { point, landed, exitCode: injected.result.code, errorLine: lines[0] };
  } finally {
    await fault.app.close();
  }
}

async function freshCase(operation: FaultOperation, dir: string): Promise<FaultCase> {
  fs.rmSync(caseDirOf(dir), { recursive: true, force: true });
  fs.mkdirSync(caseDirOf(dir), { recursive: true });
  return operation.prepare(caseDirOf(dir));
}

/** Cases live in one fixed directory, so every preparation gives the same paths. */
function caseDirOf(dir: string): string {
  return path.join(dir, 'case');
}

function traceFileFor(dir: string): string {
  return path.join(dir, 'strace.out');
}

export function assertNoTmpFiles(dir: string): void {
  const left = (fs.readdirSync(dir, { recursive: true }) as string[]).filter((name) => /\.tmp(-wal|-shm)?$/.test(name));
  assert.deepEqual(left, [], `temp files left under ${dir}`);
}

/** The lines a suite prints of its points, for the README's figures. */
export function summarize(name: string, outcomes: readonly PointOutcome[]): string {
  const failedRuns = outcomes.filter((o) => o.exitCode !== 0).length;
  const doubled = outcomes.filter((o) => o.landed.length > 1).length;
  const bySyscall = new Map<string, number>();
  for (const o of outcomes) bySyscall.set(`${o.point.syscall}/${o.point.errno}`, (bySyscall.get(`${o.point.syscall}/${o.point.errno}`) ?? 0) + 1);
  const counts = [...bySyscall].map(([k, v]) => `${k}=${v}`).join(' ');
  return `${name}: ${outcomes.length} injection points (${counts}); ${failedRuns} failed with one line, ${outcomes.length - failedRuns} completed despite the fault; ${doubled} landed in two threads; all recovered`;
}

/** A test that enumerates the operation's points and runs every one, printing the summary line. */
export function syscallFaultSuite(operation: FaultOperation): void {
  test(`every file syscall of ${operation.name} failing in turn`, { timeout: 40 * 60_000 }, async (t) => {
    const dir = tempDir(t, 'walsync-faults-');
    const points = await enumeratePoints(operation, dir);
    assert.ok(points.length > 0, 'the traced run made no calls on the case files');
    const outcomes: PointOutcome[] = [];
    for (const point of points) outcomes.push(await runPoint(operation, dir, point));
    t.diagnostic(summarize(operation.name, outcomes));
  });
}
