/**
 * Retention, as Litestream 0.3 does it: keep the snapshots newer than the
 * retention period (and always the newest snapshot of the current
 * generation); delete every other generation whole and, inside a kept
 * generation, the snapshots and WAL segments below its oldest kept snapshot.
 * When no snapshot would remain, a fresh one is taken first if the caller
 * can, else the newest one is kept. Deleting is idempotent: a killed run is
 * finished by the next.
 */
import type { ReplicaClient, SnapshotInfo } from '../replica/client.js';

export interface RetentionOptions {
  readonly retentionMs: number;
  readonly now?: Date;
  /** The generation being written now; defaults to the one with the newest snapshot. */
  readonly currentGenerationId?: string;
  /** Takes a snapshot of the live database, when there is one to take. */
  readonly takeSnapshot?: () => Promise<SnapshotInfo>;
}

export interface RetentionResult {
  readonly keptSnapshots: SnapshotInfo[];
  readonly deletedGenerations: string[];
  readonly deletedSnapshotCount: number;
  readonly deletedWalSegmentCount: number;
  readonly snapshotTaken: boolean;
  /**
   * Other generations with a snapshot taken after the current one began: a
   * second primary writing to this location (each writes only its own
   * generation, so they never mix, but a restore takes whichever wrote last).
   */
  readonly otherWriters: { readonly generationId: string; readonly snapshotAt: Date }[];
}

export async function enforceRetention(client: ReplicaClient, options: RetentionOptions): Promise<RetentionResult> {
  const cutoff = (options.now ?? new Date()).getTime() - options.retentionMs;
  const generations = await client.listGenerations();
  const snapshots: SnapshotInfo[] = [];
  for (const generationId of generations) snapshots.push(...(await client.listSnapshots(generationId)));
  snapshots.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.index - b.index);

  const kept = snapshots.filter((s) => s.createdAt.getTime() > cutoff);
  const currentGenerationId = options.currentGenerationId ?? snapshots.at(-1)?.generationId;
  const ofCurrent = snapshots.filter((s) => s.generationId === currentGenerationId);
  const newestOfCurrent = ofCurrent.at(-1);
  const currentBegan = ofCurrent[0]?.createdAt.getTime();
  const otherWriters = [...new Set(snapshots.filter((s) => s.generationId !== currentGenerationId && currentBegan !== undefined && s.createdAt.getTime() > currentBegan).map((s) => s.generationId))].map(
    (generationId) => ({ generationId, snapshotAt: snapshots.filter((s) => s.generationId === generationId).at(-1)!.createdAt }),
  );
  if (newestOfCurrent && !kept.includes(newestOfCurrent)) kept.push(newestOfCurrent);
  let snapshotTaken = false;
  if (kept.length === 0) {
    if (options.takeSnapshot) {
      kept.push(await options.takeSnapshot());
      snapshotTaken = true;
    } else if (snapshots.length > 0) {
      kept.push(snapshots.at(-1)!);
    }
  }
  if (kept.length === 0) {
    return { keptSnapshots: [], deletedGenerations: [], deletedSnapshotCount: 0, deletedWalSegmentCount: 0, snapshotTaken, otherWriters };
  }

  const lowestKeptIndex = new Map<string, number>();
  for (const s of kept) lowestKeptIndex.set(s.generationId, Math.min(s.index, lowestKeptIndex.get(s.generationId) ?? Infinity));
  const deletedGenerations: string[] = [];
  let deletedSnapshotCount = 0;
  let deletedWalSegmentCount = 0;
  for (const generationId of generations) {
    const floor = lowestKeptIndex.get(generationId);
    if (floor === undefined) {
      if (generationId === options.currentGenerationId) continue;
      await client.deleteGeneration(generationId);
      deletedGenerations.push(generationId);
      continue;
    }
    for (const s of snapshots) {
      if (s.generationId === generationId && s.index < floor) {
        await client.deleteSnapshot(generationId, s.index);
        deletedSnapshotCount++;
      }
    }
    const below = (await client.listWalSegments(generationId)).filter((segment) => segment.index < floor);
    await client.deleteWalSegments(generationId, below);
    deletedWalSegmentCount += below.length;
  }
  return { keptSnapshots: kept, deletedGenerations, deletedSnapshotCount, deletedWalSegmentCount, snapshotTaken, otherWriters };
}
