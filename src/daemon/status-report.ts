/** Gathers what `walsync status` shows about one database, from disk only. */
import fs from 'node:fs/promises';
import type { DbConfig, ReplicaConfig } from '../config/config.js';
import { unresolvedVariables } from '../config/config.js';
import { messageOf } from '../errors.js';
import { isAlive } from '../proc/processes.js';
import { shadowWalPath } from '../layout.js';
import { positionAfter } from '../replication/position.js';
import type { RequestCounts } from '../replica/request-counter.js';
import { openReplica } from '../replica/url.js';
import { listShadowIndexes, readGeneration } from '../shadow/generation.js';
import type { JobStatus } from './status.js';
import { readStatusFile } from './status.js';
import type { Pos } from '../wal/pos.js';
import { formatPos } from '../wal/pos.js';

export interface ReplicaReport {
  name: string;
  url: string;
  position?: string;
  lagBytes?: number;
  lagSeconds?: number;
  /** What the running daemon has sent this replica since it started. */
  requests?: RequestCounts;
  error?: string;
}

export interface DatabaseReport {
  db: string;
  running: boolean;
  pid?: number;
  generationId?: string;
  position?: string;
  replicas: ReplicaReport[];
  jobs: Record<string, JobStatus>;
}

export async function describeDatabase(db: DbConfig, metaDir: string): Promise<DatabaseReport> {
  const status = await readStatusFile(metaDir);
  const lookup = await readGeneration(metaDir);
  const generationId = lookup.kind === 'ok' ? lookup.generationId : undefined;
  const sizes = new Map<number, number>();
  if (generationId) {
    for (const index of await listShadowIndexes(metaDir, generationId)) {
      sizes.set(index, (await fs.stat(shadowWalPath(metaDir, generationId, index)).catch(() => ({ size: 0 }))).size);
    }
  }
  const lastIndex = Math.max(...sizes.keys());
  const end: Pos | undefined = generationId && sizes.size > 0 ? { generationId, index: lastIndex, offset: sizes.get(lastIndex)! } : undefined;
  const replicas: ReplicaReport[] = [];
  for (const replica of db.replicas) replicas.push({ ...(await describeReplica(replica, end, sizes)), requests: status?.requests?.[replica.name] });
  return {
    db: db.path,
    running: status !== undefined && isAlive(status.pid),
    pid: status?.pid,
    generationId,
    position: end && formatPos(end),
    replicas,
    jobs: status?.jobs ?? {},
  };
}

async function describeReplica({ name, url, location, age }: ReplicaConfig, end: Pos | undefined, sizes: Map<number, number>): Promise<ReplicaReport> {
  if (!end) return { name, url };
  const unset = unresolvedVariables({ location, age });
  if (unset.length > 0) return { name, url, error: `not looked at: ${unset.join(', ')} not set in this environment` };
  try {
    const client = openReplica(location, undefined, process.env, age);
    const { snapshots, walSegments } = await client.listGeneration(end.generationId);
    const position = await positionAfter(client, end.generationId, walSegments);
    const objects = [...snapshots, ...walSegments];
    const newest = Math.max(...objects.map((o) => o.createdAt.getTime()));
    let lagBytes = 0;
    for (const [index, size] of sizes) {
      if (!position || index > position.index) lagBytes += size;
      else if (index === position.index) lagBytes += Math.max(0, size - position.offset);
    }
    return {
      name,
      url,
      position: position && formatPos(position),
      lagBytes,
      lagSeconds: Number.isFinite(newest) ? Math.round((Date.now() - newest) / 1000) : undefined,
    };
  } catch (error) {
    return { name, url, error: messageOf(error) };
  }
}
