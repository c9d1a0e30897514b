/**
 * The job registry (jobs/index.ts) is the one way any job runs: every job the
 * runner, the CLI and the library dispatch is in it, each runs one-shot
 * against a live database, a broken registry is refused with all its
 * problems at once, and nothing in src/ imports jobs/.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS } from '../../src/config/defaults.js';
import { WalsyncError } from '../../src/errors.js';
import type { JobContext } from '../../src/job/context.js';
import { openJobContext } from '../../src/job/context.js';
import type { JobName, JobResults } from '../../src/job/registry.js';
import { JOB_NAMES, loadJobRegistry } from '../../src/job/registry.js';
import { silentLogger } from '../../src/log.js';
import { startAppInTempDir } from '../helpers/app.js';
import { policyWithMinPages } from '../helpers/sync-once.js';
import { tempDir } from '../helpers/tmp.js';

const sourceRoot = fileURLToPath(new URL('../../../', import.meta.url));

/** What each job, run once in the order of JOB_NAMES, must have done. */
const expectations: { readonly [Name in JobName]: (result: JobResults[Name], ctx: JobContext) => void } = {
  sync: (result) => {
    assert.ok(result.transactionCount > 0, 'the sync copied the commits');
    assert.equal(result.replicas.length, 1);
  },
  snapshot: (result, ctx) => {
    assert.equal(result.snapshots.length, 1);
    assert.equal(result.generationId, ctx.state.shadow?.cursor.generationId);
  },
  retention: (result) => {
    assert.equal(result.length, 1);
    assert.equal(result[0]!.keptSnapshots.length, 1, 'past a 1 ms retention only the newest snapshot of the generation stays');
  },
  verify: (result) => {
    assert.equal(result.consistent, true, JSON.stringify(result));
    assert.equal(result.replicas.length, 1);
    assert.equal(result.shadow.problems.length, 0);
  },
};

describe('job registry', () => {
  it('holds every job, with its default schedule from the table of defaults', async () => {
    const jobs = await loadJobRegistry();
    assert.deepEqual(Object.keys(jobs).sort(), [...JOB_NAMES].sort());
    assert.equal(jobs.sync.defaultSchedule, DEFAULTS.replica.syncInterval);
    assert.equal(jobs.snapshot.defaultSchedule, DEFAULTS.replica.snapshotInterval);
    assert.equal(jobs.retention.defaultSchedule, DEFAULTS.replica.retentionCheckInterval);
    assert.equal(jobs.verify.defaultSchedule, undefined, 'verify runs on a schedule only where the config names one');
  });

  it('runs each job one-shot against a live database and a file replica', async (t) => {
    const { dir, dbPath, app } = await startAppInTempDir(t, { autocheckpoint: 0 });
    await app.insert(200, { size: 500, perTx: 20 });
    const opened = await openJobContext(dbPath, {
      policy: policyWithMinPages(1000),
      busyTimeoutMs: 5000,
      log: silentLogger,
      switchToWal: true,
      replicas: [{ location: path.join(dir, 'replica') }],
      lock: { role: 'one-shot', what: 'test' },
    });
    t.after(() => opened.close());
    const ctx: JobContext = { ...opened, replicas: [{ ...opened.replicas[0]!, retentionMs: 1 }] };
    const jobs = await loadJobRegistry();
    for (const name of JOB_NAMES) {
      const result = await jobs[name].run(ctx);
      (expectations[name] as (result: unknown, ctx: JobContext) => void)(result, ctx);
      await app.insert(5);
    }
  });

  it('refuses a registry with problems, naming each one', async (t) => {
    const dir = tempDir(t);
    await fs.writeFile(
      path.join(dir, 'index.js'),
      "export const jobs = { sync: { run: 1, defaultSchedule: 'soon' }, snapshot: { run: async () => ({}), defaultSchedule: '1h' }, backup: { run: async () => 0 } };\n",
    );
    await assert.rejects(loadJobRegistry(dir), (error: unknown) => {
      assert.ok(error instanceof WalsyncError);
      assert.equal(error.code, 'JOBS_INVALID');
      assert.equal(
        error.message,
        `${path.join(dir, 'index.js')}: jobs.sync.run: not a function; jobs.sync.defaultSchedule: "soon" is not a duration (e.g. 1s, 24h); ` +
          'jobs.retention: missing; jobs.verify: missing; jobs.backup: not a job walsync runs (known: sync, snapshot, retention, verify)',
      );
      return true;
    });
    await assert.rejects(loadJobRegistry(path.join(dir, 'absent')), /JOBS_INVALID|the job registry cannot be loaded/);
  });

  it('is not imported by anything in src/: the entry points load it', async () => {
    const importers: string[] = [];
    for (const file of await sourceFiles(path.join(sourceRoot, 'src'))) {
      const text = await fs.readFile(file, 'utf8');
      if (/from '(\.\.\/)+jobs\//.test(text) || /import\('(\.\.\/)+jobs\//.test(text)) importers.push(path.relative(sourceRoot, file));
    }
    assert.deepEqual(importers, []);
  });
});

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sourceFiles(full)));
    else if (entry.name.endsWith('.ts')) files.push(full);
  }
  return files;
}
