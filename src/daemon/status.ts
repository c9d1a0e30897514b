/**
 * What `walsync run` reports about its jobs, written to `<meta>/status.json`
 * (through a temp name, at most once a second) so `walsync status` can read it from
 * disk without asking the daemon.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { messageOf } from '../errors.js';
import { replaceReportFile } from '../fsx/file-io.js';
import type { Logger } from '../log.js';
import type { RequestCounts } from '../replica/request-counter.js';

export const STATUS_FILE_NAME = 'status.json';

export interface JobStatus {
  runs: number;
  failures: number;
  lastSuccess?: string;
  lastError?: { at: string; message: string };
  lastDurationMs?: number;
  nextRun?: string;
}

export interface StatusFile {
  pid: number;
  db: string;
  updatedAt: string;
  jobs: Record<string, JobStatus>;
  /** Requests each replica (by name) was sent since the daemon started. */
  requests?: Record<string, RequestCounts>;
}

export class JobStatusBook {
  private readonly jobs: Record<string, JobStatus> = {};
  private readonly requests: Record<string, RequestCounts> = {};
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  /** Set while writes fail, so a lasting problem is one warning, not one a second. */
  private failing = false;

  constructor(
    private readonly metaDir: string,
    private readonly dbPath: string,
    private readonly log: Logger,
  ) {}

  record(job: string, outcome: { ok: boolean; at: Date; durationMs: number; error?: string; nextRun?: Date }): void {
    const status = (this.jobs[job] ??= { runs: 0, failures: 0 });
    status.runs++;
    status.lastDurationMs = outcome.durationMs;
    status.nextRun = outcome.nextRun?.toISOString();
    if (outcome.ok) status.lastSuccess = outcome.at.toISOString();
    else {
      status.failures++;
      status.lastError = { at: outcome.at.toISOString(), message: outcome.error ?? '' };
    }
    this.timer ??= setTimeout(() => void this.flush(), 1000);
  }

  recordRequests(replica: string, counts: RequestCounts): void {
    this.requests[replica] = counts;
  }

  /** Never rejects: the status file is a report, and failing to write it must not stop the jobs it reports on. */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const file: StatusFile = { pid: process.pid, db: this.dbPath, updatedAt: new Date().toISOString(), jobs: this.jobs, requests: this.requests };
    const statusPath = path.join(this.metaDir, STATUS_FILE_NAME);
    this.writing = this.writing.then(async () => {
      try {
        // Not fsynced: rewritten every second, a crash may leave it a second old or missing, which
        // readStatusFile takes as no job history; the fsyncs cost an idle daemon more CPU than its syncs.
        await replaceReportFile(statusPath, JSON.stringify(file, null, 2), 0o600);
        this.failing = false;
      } catch (error) {
        if (!this.failing) this.log.warn('status file not written', { db: this.dbPath, file: statusPath, error: messageOf(error) });
        this.failing = true;
      }
    });
    await this.writing;
  }
}

export async function readStatusFile(metaDir: string): Promise<StatusFile | undefined> {
  try {
    return JSON.parse(await fs.readFile(path.join(metaDir, STATUS_FILE_NAME), 'utf8')) as StatusFile;
  } catch {
    // No daemon has written one yet (or it is being replaced): there is simply no job history to show.
    return undefined;
  }
}
