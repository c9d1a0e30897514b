/**
 * The job registry's shape, and how an entry point loads it. jobs/index.ts
 * fills it in; the runner, the CLI and the library take the loaded registry
 * as a parameter and run every job through it. It is loaded from its
 * directory at start (bree's way), so nothing in src/ imports jobs/ and the
 * registry is checked, every problem at once, before any job runs.
 */
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseDuration } from '../config/duration.js';
import { WalsyncError, messageOf } from '../errors.js';
import type { SyncJobResult } from '../replication/sync-to-replicas.js';
import type { RetentionResult } from '../replication/retention.js';
import type { TakenSnapshot } from '../replication/take-snapshot.js';
import type { ReplicaVerification } from '../restore/verify-replica.js';
import type { ShadowVerification } from '../shadow/verify.js';
import type { JobContext } from './context.js';

export interface SnapshotJobResult {
  readonly generationId: string;
  readonly snapshots: readonly TakenSnapshot[];
}

export interface Verification {
  readonly shadow: ShadowVerification;
  /** One per replica of the context: its latest position restored and compared with the live database. */
  readonly replicas: readonly ReplicaVerification[];
  readonly consistent: boolean;
}

/** What each job returns. */
export interface JobResults {
  readonly sync: SyncJobResult;
  readonly snapshot: SnapshotJobResult;
  readonly retention: readonly RetentionResult[];
  readonly verify: Verification;
}

export type JobName = keyof JobResults;

export const JOB_NAMES: readonly JobName[] = ['sync', 'snapshot', 'retention', 'verify'];

export interface Job<Result> {
  readonly run: (ctx: JobContext) => Promise<Result>;
  /** The interval a replica runs the job at when the config names none; undefined: only when the config asks for it. */
  readonly defaultSchedule: string | undefined;
}

export type JobRegistry = { readonly [Name in JobName]: Job<JobResults[Name]> };

/** Where the package's own jobs are: dist/jobs beside dist/src. */
export const PACKAGE_JOBS_DIR = fileURLToPath(new URL('../../jobs/', import.meta.url));

/** Imports `dir/index.js` and checks that its `jobs` export defines every job walsync runs, and nothing else. */
export async function loadJobRegistry(dir: string = PACKAGE_JOBS_DIR): Promise<JobRegistry> {
  const file = path.join(dir, 'index.js');
  let module: { jobs?: unknown };
  try {
    module = (await import(pathToFileURL(file).href)) as { jobs?: unknown };
  } catch (error) {
    throw new WalsyncError('JOBS_INVALID', `${file}: the job registry cannot be loaded: ${messageOf(error)}`, { cause: error });
  }
  const problems = registryProblems(module.jobs);
  if (problems.length > 0) throw new WalsyncError('JOBS_INVALID', `${file}: ${problems.join('; ')}`);
  return module.jobs as JobRegistry;
}

function registryProblems(jobs: unknown): string[] {
  if (typeof jobs !== 'object' || jobs === null) return ['exports no `jobs` object'];
  const entries = jobs as Record<string, unknown>;
  const problems: string[] = [];
  for (const name of JOB_NAMES) {
    const job = entries[name] as Partial<Job<unknown>> | undefined;
    if (job === undefined) {
      problems.push(`jobs.${name}: missing`);
      continue;
    }
    if (typeof job.run !== 'function') problems.push(`jobs.${name}.run: not a function`);
    const schedule = job.defaultSchedule;
    if (schedule !== undefined && !((parseDuration(String(schedule)) ?? 0) > 0)) {
      problems.push(`jobs.${name}.defaultSchedule: ${JSON.stringify(schedule)} is not a duration (e.g. 1s, 24h)`);
    }
  }
  for (const name of Object.keys(entries)) {
    if (!(JOB_NAMES as readonly string[]).includes(name)) problems.push(`jobs.${name}: not a job walsync runs (known: ${JOB_NAMES.join(', ')})`);
  }
  return problems;
}
