/** The job registry: every job walsync can run, one-shot or on a schedule. */
import type { JobContext } from '../src/job/context.js';
import * as sync from './sync.js';
import * as verify from './verify.js';

export interface JobDefinition {
  readonly run: (ctx: JobContext) => Promise<unknown>;
  /** Interval or cron expression used when the configuration names none. */
  readonly defaultSchedule: string;
}

export const jobs = {
  sync: { run: sync.run, defaultSchedule: '1s' },
  verify: { run: verify.run, defaultSchedule: '24h' },
} satisfies Record<string, JobDefinition>;

export type JobName = keyof typeof jobs;
