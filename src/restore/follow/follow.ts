/**
 * `walsync restore --follow`: restore, then keep the restored database
 * current with the replica — a warm standby seconds behind the primary.
 *
 * The database (OUT) is kept in rollback-journal mode while it is followed,
 * as Litestream 0.5's follow does: readers then take SQLite's file locks and
 * check the change counter on every read, so the follower can shut them out
 * with SQLite's own EXCLUSIVE lock (taken by a connection of its own), lay
 * the new pages in, and let them back in to a whole newer commit. A WAL
 * beside OUT would not do: SQLite readers trust the WAL index in `-shm`,
 * which only SQLite's writers maintain, so frames written by anyone else
 * stay invisible. Each apply is journaled (journaled-apply.ts), so a
 * follower killed part-way leaves nothing a reader can see half of.
 *
 * The position reached is written beside OUT after every apply
 * (follow-state.ts); a restarted follower goes on from there. Applying a
 * position again is harmless: the same newest pages, the same size.
 */
import fs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { watch } from 'node:fs';
import Database from 'better-sqlite3';
import { WalsyncError, messageOf, onFile } from '../../errors.js';
import { fsyncPath } from '../../fsx/durable.js';
import { pathExists, writeAll, writeChunksBehind } from '../../fsx/file-io.js';
import type { Logger } from '../../log.js';
import type { ReplicaClient, WalSegmentInfo } from '../../replica/client.js';
import { walSegmentKey } from '../../replica/layout.js';
import { indexWal } from '../apply-wal.js';
import { Prefetcher } from '../prefetch.js';
import type { DbLock } from '../../db/db-lock.js';
import { acquireDbLock } from '../../db/db-lock.js';
import { defaultMetaDir } from '../../layout.js';
import type { IntegrityCheck, ReplayPosition } from '../restore.js';
import { DEFAULT_PARALLELISM, RESTORE_WRITE_SIZE, brokenChain, decodeObject, readStoredSegment, removeDatabaseFiles, restore } from '../restore.js';
import { selectRestorePlan } from '../plan.js';
import { applyJournaled } from './journaled-apply.js';
import { followStatePath, readFollowState, replayPathOf, writeFollowState } from './follow-state.js';

/** How long an apply waits for readers to finish their read transactions before it tries again later. */
const READERS_TIMEOUT_MS = 10_000;
const PREFETCH_BUDGET_BYTES = 8 * 1024 * 1024;

export interface FollowOptions {
  readonly client: ReplicaClient;
  readonly outputPath: string;
  /** Between looks at the replica when nothing new came. */
  readonly intervalMs: number;
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** A directory on this machine holding the replica: its changes mean "look now" (the interval stays as the fallback). */
  readonly watchDir?: string;
  readonly parallelism?: number;
  readonly integrityCheck?: IntegrityCheck;
  /** After each apply (and the first restore): the position OUT now holds. */
  readonly onApplied?: (applied: Applied) => void;
}

export interface Applied {
  readonly position: ReplayPosition;
  readonly segmentCount: number;
  /** Why OUT was restored afresh, when it was. */
  readonly restored?: string;
}

export async function follow(options: FollowOptions): Promise<void> {
  const outputPath = path.resolve(options.outputPath);
  const follower = new Follower({ ...options, outputPath });
  try {
    await follower.start();
    await follower.loop();
  } finally {
    await follower.close();
  }
}

class Follower {
  private position!: ReplayPosition;
  private db: FileHandle | undefined;
  private lock: Database.Database | undefined;
  private replay: FileHandle | undefined;
  private knownGenerations = new Set<string>();
  /** walsync's lock on OUT, as any walsync process working on a database holds: a `walsync run` or a second follower is refused. */
  private dbLock: DbLock | undefined;

  constructor(private readonly options: FollowOptions & { outputPath: string }) {}

  private get out(): string {
    return this.options.outputPath;
  }

  private get replayPath(): string {
    return replayPathOf(this.out);
  }

  /** Where a fresh restore is made before it is renamed over OUT. */
  private get freshPath(): string {
    return `${this.out}.walsync-new`;
  }

  async start(): Promise<void> {
    const { client } = this.options;
    const outExists = await pathExists(this.out);
    if (outExists) await this.takeDbLock();
    const state = outExists ? await readFollowState(this.out) : undefined;
    if (outExists && !state) {
      throw new WalsyncError('OUTPUT_EXISTS', `${this.out}: already exists and was not followed from a replica (no ${path.basename(followStatePath(this.out))} beside it); follow into a new path`);
    }
    if (state && state.replica !== client.url) {
      throw new WalsyncError('USAGE', `${followStatePath(this.out)}: ${this.out} follows ${state.replica}, not ${client.url}`);
    }
    this.knownGenerations = new Set(await client.listGenerations());
    if (!state) {
      // The state goes first: killed before the rename, OUT is missing and the next start restores afresh.
      const fresh = await this.restoreAfresh('first restore');
      this.position = fresh;
      await writeFollowState(this.out, { replica: client.url, position: fresh });
      await onFile(this.out, () => fs.rename(this.freshPath, this.out));
      await fsyncPath(path.dirname(this.out));
      await this.takeDbLock();
      this.options.onApplied?.({ position: fresh, segmentCount: 0, restored: 'first restore' });
    } else {
      this.position = state.position;
      const newest = (await selectRestorePlan(client, {}))?.generationId;
      if (newest && newest !== state.position.generationId) {
        await this.swapIn(newest, `generation ${newest} is newer than ${state.position.generationId}, which ${this.out} held`);
      }
    }
    await this.openOut();
    // A follower killed in the middle of an apply left a hot journal: SQLite rolls it back as it takes the lock.
    await this.withLock(async () => undefined);
  }

  async loop(): Promise<void> {
    const { signal, intervalMs, log } = this.options;
    const changes = this.watchReplica();
    try {
      while (!signal.aborted) {
        try {
          if (await this.applyNext()) continue;
          if (signal.aborted) break;
          if (await this.followNewGeneration()) continue;
        } catch (error) {
          // A store that is down, or readers that held OUT too long, pass; anything else is for the operator.
          if (!(error instanceof WalsyncError) || (error.code !== 'REPLICA_IO' && error.code !== 'DB_BUSY')) throw error;
          log.error('follow failed', { db: this.out, generation: this.position.generationId, code: error.code, error: error.message, retryInMs: intervalMs });
        }
        await changes.next(intervalMs);
      }
    } finally {
      changes.close();
    }
  }

  async close(): Promise<void> {
    this.closeOut();
    await this.dbLock?.release();
    this.dbLock = undefined;
  }

  private async takeDbLock(): Promise<void> {
    this.dbLock = await acquireDbLock(defaultMetaDir(this.out), this.out, 'daemon', 'restore --follow', this.options.log);
  }

  private closeOut(): void {
    this.lock?.close();
    this.lock = undefined;
    // The descriptor goes after SQLite's connection: closing any descriptor of a file drops every POSIX lock the process holds on it.
    void this.db?.close();
    void this.replay?.close();
  }

  /** The segments that continue the position, applied; false when there were none. */
  private async applyNext(): Promise<boolean> {
    const { client } = this.options;
    const { generationId, index, offset } = this.position;
    const listed = await client.listWalSegmentsFrom(generationId, { index, offset });
    const run = contiguous(listed, index, offset);
    if (run.length > 0) {
      await this.apply(run);
      return true;
    }
    if (listed.length === 0) return false;
    // The replica goes on past this index: the primary restarted its WAL, or retention removed what OUT still needs.
    const next = contiguous(listed, index + 1, 0);
    if (next.length > 0 && ((await this.indexStillStored(index)) || (offset === 0 && !(await this.hasSnapshotAfter(index))))) {
      await this.apply(next);
      return true;
    }
    const missing = walSegmentKey(generationId, index, offset);
    if (await this.hasSnapshotAfter(index)) {
      await this.swapIn(generationId, `${client.url}/${missing} and what follows it are gone from the replica (retention removed them while ${this.out} was behind); restoring from the newest snapshot`);
      return true;
    }
    throw new WalsyncError('RESTORE_GAP', `${client.url}/${missing}: missing (the replica goes on at ${walSegmentKey(generationId, listed[0]!.index, listed[0]!.offset)})`);
  }

  /** Whether the replica still holds the start of `index`: retention removed none of what OUT applied from it. */
  private async indexStillStored(index: number): Promise<boolean> {
    const listed = await this.options.client.listWalSegmentsFrom(this.position.generationId, { index, offset: 0 });
    return listed[0]?.index === index && listed[0].offset === 0;
  }

  private async hasSnapshotAfter(index: number): Promise<boolean> {
    return (await this.options.client.listSnapshots(this.position.generationId)).some((snapshot) => snapshot.index > index);
  }

  private async apply(run: WalSegmentInfo[]): Promise<void> {
    const { client } = this.options;
    const first = run[0]!;
    const continuation = first.offset === 0 ? undefined : this.position.continuation;
    const replay = this.replay!;
    // Only this apply's segments are read back, each at its own offset in the index (a sparse file).
    await onFile(this.replayPath, () => replay.truncate(0));
    const bodies = new Prefetcher(run, {
      open: (segment) => readStoredSegment(client, segment),
      sizeOf: (segment) => segment.size,
      parallelism: this.options.parallelism ?? DEFAULT_PARALLELISM,
      budgetBytes: PREFETCH_BUDGET_BYTES,
    });
    let end = first.offset;
    try {
      bodies.start();
      for (const segment of run) {
        if (segment.offset !== end) {
          throw new WalsyncError('RESTORE_GAP', `${client.url}/${walSegmentKey(segment.generationId, segment.index, end)}: missing (the next segment starts at offset ${segment.offset})`);
        }
        end += await onFile(this.replayPath, () => writeChunksBehind((bytes, at) => writeAll(replay, bytes, at), decodeObject(client, segment, bodies.next()), segment.offset, RESTORE_WRITE_SIZE));
      }
    } finally {
      bodies.close();
    }
    const indexed = await indexWal(replay, end, continuation);
    if (!indexed.ok) throw brokenChain(client, run, indexed);
    await this.withLock(() => applyJournaled(this.out, this.db!, replay, indexed));
    this.position = { generationId: first.generationId, index: first.index, offset: end, continuation: { header: indexed.header, from: indexed.walk.commitEnd } };
    await writeFollowState(this.out, { replica: client.url, position: this.position });
    this.options.log.info('follow applied', { db: this.out, generation: first.generationId, index: first.index, offset: end, segments: run.length });
    this.options.onApplied?.({ position: this.position, segmentCount: run.length });
  }

  /** A generation the replica did not have before, with a snapshot: the primary began a new history, and OUT is restored afresh from it. */
  private async followNewGeneration(): Promise<boolean> {
    const { client } = this.options;
    const generations = await client.listGenerations();
    for (const generationId of generations) {
      if (this.knownGenerations.has(generationId)) continue;
      if ((await client.listSnapshots(generationId)).length === 0) continue;
      this.knownGenerations.add(generationId);
      await this.swapIn(generationId, `the replica has a new generation ${generationId} (the primary started a new history; ${this.out} held ${this.position.generationId})`);
      return true;
    }
    return false;
  }

  /** Restores `generationId` into a temp file beside OUT and renames it over OUT: readers keep the old file until they open again. */
  private async swapIn(generationId: string, reason: string): Promise<void> {
    this.options.log.info('follow restoring afresh', { db: this.out, generation: generationId, previous: this.position.generationId, reason });
    const fresh = await this.restoreAfresh(reason, generationId);
    this.closeOut();
    // The rename goes first: killed before the state names the new generation, the next start finds it newer than the state's and restores it again.
    await onFile(this.out, () => fs.rename(this.freshPath, this.out));
    await fsyncPath(path.dirname(this.out));
    this.position = fresh;
    await writeFollowState(this.out, { replica: this.options.client.url, position: fresh });
    await this.openOut();
    this.options.onApplied?.({ position: fresh, segmentCount: 0, restored: reason });
  }

  /** Restores the newest generation (or the one named) into the fresh path, and says so. */
  private async restoreAfresh(reason: string, generationId?: string): Promise<ReplayPosition> {
    const { client } = this.options;
    await removeDatabaseFiles(this.freshPath);
    const result = await restore({
      client,
      outputPath: this.freshPath,
      generationId,
      rollbackJournal: true,
      parallelism: this.options.parallelism,
      integrityCheck: this.options.integrityCheck,
    });
    if (!result.restored) throw new WalsyncError('NO_BACKUPS', `${client.url}: ${result.reason}`);
    const { reached } = result;
    this.knownGenerations.add(reached.generationId);
    this.options.log.info('follow restored', { db: this.out, generation: reached.generationId, index: reached.index, offset: reached.offset, reason });
    return reached;
  }

  private async openOut(): Promise<void> {
    this.db = await onFile(this.out, () => fs.open(this.out, 'r+'));
    this.replay = await onFile(this.replayPath, () => fs.open(this.replayPath, 'w+', 0o600));
    try {
      this.lock = new Database(this.out, { timeout: READERS_TIMEOUT_MS });
    } catch (error) {
      throw new WalsyncError('IO', `${this.out}: cannot open the followed database: ${messageOf(error)}`, { cause: error });
    }
  }

  /** Runs `action` with readers shut out by SQLite's EXCLUSIVE lock on OUT (it waits for those inside a read to finish). */
  private async withLock(action: () => Promise<void>): Promise<void> {
    try {
      this.lock!.exec('BEGIN EXCLUSIVE');
    } catch (error) {
      throw new WalsyncError('DB_BUSY', `${this.out}: readers held it for ${READERS_TIMEOUT_MS / 1000} s; the apply waits for the next look (${messageOf(error)})`, { cause: error });
    }
    try {
      await action();
    } finally {
      this.lock!.exec('COMMIT');
    }
  }

  /** Resolves early when the watched replica directory changes. */
  private watchReplica(): { next(timeoutMs: number): Promise<void>; close(): void } {
    const { watchDir, signal } = this.options;
    let wake: (() => void) | undefined;
    let changed = false;
    let watcher: ReturnType<typeof watch> | undefined;
    if (watchDir) {
      try {
        watcher = watch(watchDir, { recursive: true }, () => {
          changed = true;
          wake?.();
        });
        watcher.on('error', () => watcher?.close());
      } catch (error) {
        this.options.log.warn('follow watch unavailable', { db: this.out, dir: watchDir, error: messageOf(error), fallback: 'polling' });
      }
    }
    return {
      async next(timeoutMs) {
        if (changed) {
          changed = false;
          return;
        }
        const controller = new AbortController();
        const stop = () => controller.abort();
        signal.addEventListener('abort', stop, { once: true });
        wake = stop;
        try {
          await sleep(timeoutMs, undefined, { signal: controller.signal }).catch(() => undefined);
        } finally {
          wake = undefined;
          changed = false;
          signal.removeEventListener('abort', stop);
        }
      },
      close() {
        watcher?.close();
      },
    };
  }
}

/** The segments of `index` that follow on from `offset` without a hole (a later hole is found when they are applied). */
function contiguous(listed: readonly WalSegmentInfo[], index: number, offset: number): WalSegmentInfo[] {
  const run = listed.filter((segment) => segment.index === index);
  return run.length > 0 && run[0]!.offset === offset ? run : [];
}
