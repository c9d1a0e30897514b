/** `walsync sync --once --json` as a separate process, with the summary line it prints parsed; and the checkpoint settings tests sync with. */
import assert from 'node:assert/strict';
import { DEFAULT_CHECKPOINT_POLICY } from '../../src/config/defaults.js';
import type { CheckpointPolicy } from '../../src/shadow/checkpoint.js';
import { runCli } from './cli.js';

/** The JSON summary of one sync (src/cli/output.ts, syncSummaryJson). */
export interface SyncSummary {
  db: string;
  generation: string;
  index: number;
  offset: number;
  frames: number;
  transactions: number;
  bytes: number;
  newGeneration: boolean;
  reason: string | null;
  checkpoint: { mode: string; restarted: boolean } | null;
  cutBackBytes: number;
  replicas: { replica: string; snapshotIndex: number | null; segments: number; bytes: number; position: string }[];
}

/** Runs one sync of `dbPath` (to `replicas`, with `flags`), asserting it succeeded. */
export async function syncOnceJson(
  dbPath: string,
  options: { flags?: readonly string[]; replicas?: readonly string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<{ summary: SyncSummary; stderr: string }> {
  const result = await runCli(['sync', '--once', '--json', ...(options.flags ?? []), dbPath, ...(options.replicas ?? [])], { env: options.env });
  assert.equal(result.code, 0, result.stderr);
  return { summary: JSON.parse(result.stdout) as SyncSummary, stderr: result.stderr };
}

/** Checkpoint flags that keep walsync from checkpointing at all, so the WAL only grows. */
export const NO_CHECKPOINT_FLAGS = ['--checkpoint-min-pages', '1000000', '--checkpoint-truncate-pages', '1000000', '--checkpoint-idle-interval', '0'];

/** The default checkpoint policy with PASSIVE moved to `minPageCount` and no idle checkpoint: for in-process syncs. */
export function policyWithMinPages(minPageCount: number): CheckpointPolicy {
  return { ...DEFAULT_CHECKPOINT_POLICY, minPageCount, idleIntervalMs: 0 };
}
