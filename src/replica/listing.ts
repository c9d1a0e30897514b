/** What `walsync generations|snapshots|wal` list, with Litestream's columns. */
import type { ReplicaClient, SnapshotInfo, WalSegmentInfo } from './client.js';

export interface GenerationSummary {
  readonly generationId: string;
  /** Time since the newest object was written. */
  readonly lagMs: number;
  readonly start: Date;
  readonly end: Date;
  readonly snapshotCount: number;
  readonly walSegmentCount: number;
}

export async function listGenerationSummaries(client: ReplicaClient, now = new Date()): Promise<GenerationSummary[]> {
  const summaries: GenerationSummary[] = [];
  for (const generationId of await client.listGenerations()) {
    const snapshots = await client.listSnapshots(generationId);
    const segments = await client.listWalSegments(generationId);
    const times = [...snapshots, ...segments].map((o) => o.createdAt.getTime());
    if (times.length === 0) continue;
    const end = Math.max(...times);
    summaries.push({
      generationId,
      lagMs: now.getTime() - end,
      start: new Date(Math.min(...times)),
      end: new Date(end),
      snapshotCount: snapshots.length,
      walSegmentCount: segments.length,
    });
  }
  return summaries;
}

export async function listAllSnapshots(client: ReplicaClient, generationId?: string): Promise<SnapshotInfo[]> {
  const generations = generationId ? [generationId] : await client.listGenerations();
  const all: SnapshotInfo[] = [];
  for (const id of generations) all.push(...(await client.listSnapshots(id)));
  return all;
}

export async function listAllWalSegments(client: ReplicaClient, generationId?: string): Promise<WalSegmentInfo[]> {
  const generations = generationId ? [generationId] : await client.listGenerations();
  const all: WalSegmentInfo[] = [];
  for (const id of generations) all.push(...(await client.listWalSegments(id)));
  return all;
}
