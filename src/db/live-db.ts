/**
 * The live database as walsync touches it, through the same SQLite locks the
 * app uses (docs/formats.md, "Locking"):
 * - a pin connection holds a read transaction between syncs, so the app's
 *   writers append to the WAL instead of restarting it over frames walsync has
 *   not copied yet. Moving the pin to a newer snapshot takes a second one,
 *   which starts before the old one ends, so there is no instant unpinned.
 *   They are read-only and closed last: SQLite's last connection checkpoints
 *   and deletes the WAL on close, which a read-only one cannot, so a one-shot
 *   run leaves the WAL as it found it;
 * - the lock connection holds `BEGIN IMMEDIATE` (the WAL write lock) while
 *   WAL bytes are copied, so no commit lands halfway through a copy. It (and
 *   walsync's own writes) wait for the lock between attempts on the event
 *   loop, not in SQLite's busy handler, which sleeps the whole thread: a
 *   `walsync run` kept waiting by one app's long transaction still runs its
 *   other databases' jobs, serves /metrics and answers SIGTERM;
 * - the checkpoint connection runs checkpoints and walsync's own writes, and
 *   reads data_version (which counts only other connections' commits), so it
 *   stays open as long as the database does: its data_version is the proof
 *   that nothing was committed since the last sync.
 * An idle database holds the pin and the checkpoint connection only. The
 * lock connection and the second pin are opened by the sync that needs them
 * and closed by rest() once the database has gone quiet: a fleet of
 * thousands of databases nobody writes holds two connections each.
 * Every connection keeps no page cache (cache_size 0): walsync reads pages
 * through SQLite only to compare rows in verify, and a cache's first page
 * brings a bulk allocation of twenty pages, per connection.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { WalsyncError, messageOf } from '../errors.js';
import { walPathFor } from '../layout.js';
import { assertDatabaseFile } from './validate.js';

export type CheckpointMode = 'PASSIVE' | 'TRUNCATE';

export interface CheckpointResult {
  /** True when SQLite could not finish the mode's work (readers or a writer in the way). */
  readonly busy: boolean;
  /** Frames in the WAL, and how many of them are now in the database file. */
  readonly logFrameCount: number;
  readonly checkpointedFrameCount: number;
}

export interface OpenOptions {
  readonly busyTimeoutMs: number;
  /** Switch a rollback-journal database to WAL mode (as Litestream does) instead of refusing it. */
  readonly switchToWal: boolean;
  readonly onSwitchedToWal?: () => void;
}

export const SEQ_TABLE = '_walsync_seq';

/**
 * Attempts at the write lock come 1 ms apart at first: a busy app holds it
 * for moments, one transaction at a time, and a few attempts find it free.
 * SQLite's own busy handler spacing (growing to 100 ms) let whole streaks of
 * the app's transactions through, up to 2.6 s of them measured under load,
 * and walsync copied every byte of those under the lock, keeping the app
 * waiting in turn. Past the fast attempts the app is in one long
 * transaction, and the waits grow as SQLite's do; the last one repeats.
 */
const FAST_LOCK_ATTEMPTS = 200;
const LOCK_RETRY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

function lockRetryDelayMs(attempt: number): number {
  if (attempt < FAST_LOCK_ATTEMPTS) return 1;
  return LOCK_RETRY_DELAYS_MS[Math.min(attempt - FAST_LOCK_ATTEMPTS, LOCK_RETRY_DELAYS_MS.length - 1)]!;
}

export class LiveDb {
  readonly dbPath: string;
  readonly walPath: string;
  readonly pageSize: number;
  private readonly checkpointer: Database.Database;
  /** The pin connection in a read transaction, if any. */
  private activePin: Database.Database | undefined;
  /** Pin connections open and not in a transaction: the next move's, until rest(). */
  private readonly sparePins: Database.Database[];
  /** Opened by the first lockWrites, closed by rest(). */
  private lock: Database.Database | undefined;
  private locked = false;
  /** walsync's own writes and checkpoints, which data_version does not count. */
  private ownWalChangeCount = 0;
  private readonly busyTimeoutMs: number;

  private constructor(dbPath: string, connections: { pin: Database.Database; checkpointer: Database.Database }, pageSize: number, busyTimeoutMs: number) {
    this.dbPath = dbPath;
    this.walPath = walPathFor(dbPath);
    this.sparePins = [connections.pin];
    this.checkpointer = connections.checkpointer;
    this.pageSize = pageSize;
    this.busyTimeoutMs = busyTimeoutMs;
  }

  static async open(dbPath: string, options: OpenOptions): Promise<LiveDb> {
    await assertDatabaseFile(dbPath);
    const connections: Database.Database[] = [];
    try {
      const checkpointer = connect(dbPath, options.busyTimeoutMs, false);
      connections.push(checkpointer);
      ensureWalMode(dbPath, checkpointer, options);
      const pin = connect(dbPath, options.busyTimeoutMs, true);
      connections.push(pin);
      const pageSize = Number(checkpointer.pragma('page_size', { simple: true }));
      const db = new LiveDb(dbPath, { pin, checkpointer }, pageSize, options.busyTimeoutMs);
      db.pinWal();
      return db;
    } catch (error) {
      for (const connection of connections.reverse()) connection.close();
      throw error;
    }
  }

  /** Starts (or refreshes) the held read transaction at the newest commit. */
  pinWal(): void {
    const previous = this.activePin;
    const next = this.sparePins.pop() ?? connect(this.dbPath, this.busyTimeoutMs, true);
    try {
      this.run(next, 'BEGIN');
      this.run(next, 'SELECT count(*) FROM sqlite_master');
    } catch (error) {
      if (next.inTransaction) next.exec('ROLLBACK');
      this.sparePins.push(next);
      throw error;
    }
    this.activePin = next;
    if (previous) this.endPin(previous);
  }

  unpinWal(): void {
    const previous = this.activePin;
    if (!previous) return;
    this.activePin = undefined;
    this.endPin(previous);
  }

  private endPin(pin: Database.Database): void {
    try {
      this.run(pin, 'ROLLBACK');
    } catch (error) {
      pin.close();
      throw error;
    }
    this.sparePins.push(pin);
  }

  /**
   * Closes what only a sync needs (the lock connection, the pin connection
   * not holding the pin), for a database that went quiet; the next sync
   * opens them again.
   */
  rest(): void {
    if (!this.locked && this.lock) {
      this.lock.close();
      this.lock = undefined;
    }
    // Unpinned, one pin connection stays for the next pinWal.
    const keep = this.activePin ? 0 : 1;
    while (this.sparePins.length > keep) this.sparePins.shift()!.close();
  }

  get isWalPinned(): boolean {
    return this.activePin !== undefined;
  }

  /** Rows of a query at the pinned position, one at a time. */
  iteratePinned(sql: string): IterableIterator<unknown[]> {
    if (!this.activePin) throw new Error('query without a pinned snapshot');
    return this.activePin.prepare(sql).raw().iterate() as IterableIterator<unknown[]>;
  }

  /** Takes the WAL write lock, waiting up to the busy timeout for the app to release it. */
  async lockWrites(): Promise<void> {
    if (this.locked) return;
    if (!this.lock) {
      this.lock = connect(this.dbPath, this.busyTimeoutMs, false);
      // The lock connection only takes the write lock, and beginImmediate waits for it itself.
      this.lock.pragma('busy_timeout = 0');
    }
    await this.beginImmediate(this.lock, 0);
    this.locked = true;
  }

  /**
   * `BEGIN IMMEDIATE` on `connection`, attempted again on the event loop
   * while another connection writes, until the busy timeout. The
   * connection's own busy handler (`ownTimeoutMs`, restored after) is off
   * meanwhile: it would sleep the whole thread.
   */
  private async beginImmediate(connection: Database.Database, ownTimeoutMs: number): Promise<void> {
    if (ownTimeoutMs !== 0) connection.pragma('busy_timeout = 0');
    try {
      const deadline = Date.now() + this.busyTimeoutMs;
      for (let attempt = 0; ; attempt++) {
        try {
          connection.exec('BEGIN IMMEDIATE');
          return;
        } catch (error) {
          if (!sqliteCode(error)?.startsWith('SQLITE_BUSY')) throw this.wrap(error);
          const left = deadline - Date.now();
          if (left <= 0) {
            throw new WalsyncError(
              'DB_BUSY',
              `${this.dbPath}: database stayed busy (another connection held the write lock past the busy timeout); the next run catches up`,
              { cause: error },
            );
          }
          await sleep(Math.min(lockRetryDelayMs(attempt), left));
        }
      }
    } finally {
      if (ownTimeoutMs !== 0) connection.pragma(`busy_timeout = ${ownTimeoutMs}`);
    }
  }

  unlockWrites(): void {
    if (!this.locked || !this.lock) return;
    this.locked = false;
    this.run(this.lock, 'ROLLBACK');
  }

  /** Changes whenever another connection commits (sqlite.org/pragma.html#pragma_data_version). */
  dataVersion(): number {
    return Number(this.checkpointer.pragma('data_version', { simple: true }));
  }

  /**
   * Equal at two moments only when nobody changed the WAL in between:
   * data_version counts other connections' commits, and walsync's own
   * writes and checkpoints are counted here.
   */
  walStamp(): string {
    return `${this.dataVersion()}.${this.ownWalChangeCount}`;
  }

  /** Runs a checkpoint. It backfills only up to the pin's snapshot, if one is held. */
  checkpoint(mode: CheckpointMode): CheckpointResult {
    this.ownWalChangeCount++;
    const [row] = this.checkpointer.pragma(`wal_checkpoint(${mode})`) as { busy: number; log: number; checkpointed: number }[];
    return {
      busy: row!.busy !== 0,
      logFrameCount: row!.log,
      checkpointedFrameCount: row!.checkpointed,
    };
  }

  /**
   * Commits one write to walsync's own table. Run
   * right after a complete checkpoint, it makes SQLite restart the WAL
   * (when no reader still uses it). With `ifDataVersion`, the write happens
   * only when no other connection committed since that data_version was read;
   * returns whether it wrote.
   */
  async writeSeq(ifDataVersion?: number): Promise<boolean> {
    const writer = this.checkpointer;
    await this.beginImmediate(writer, this.busyTimeoutMs);
    this.ownWalChangeCount++;
    try {
      if (ifDataVersion !== undefined && this.dataVersion() !== ifDataVersion) {
        this.run(writer, 'ROLLBACK');
        return false;
      }
      this.run(writer, `CREATE TABLE IF NOT EXISTS ${SEQ_TABLE} (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)`);
      this.run(writer, `INSERT INTO ${SEQ_TABLE} (id, seq) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1`);
      this.run(writer, 'COMMIT');
      return true;
    } catch (error) {
      if (writer.inTransaction) writer.exec('ROLLBACK');
      throw error;
    }
  }

  /** Closes the pin last: as a read-only connection it cannot checkpoint and delete the WAL on close. */
  close(): void {
    this.locked = false;
    this.lock?.close();
    this.lock = undefined;
    this.checkpointer.close();
    const pins = [...this.sparePins.splice(0), ...(this.activePin ? [this.activePin] : [])];
    this.activePin = undefined;
    for (const pin of pins) pin.close();
  }

  private run(connection: Database.Database, sql: string): void {
    try {
      if (/^\s*SELECT/i.test(sql)) connection.prepare(sql).get();
      else connection.exec(sql);
    } catch (error) {
      throw this.wrap(error);
    }
  }

  private wrap(error: unknown): WalsyncError {
    if (sqliteCode(error)?.startsWith('SQLITE_BUSY')) {
      return new WalsyncError('DB_BUSY', `${this.dbPath}: database is busy: ${messageOf(error)}`, { cause: error });
    }
    return new WalsyncError('IO', `${this.dbPath}: ${messageOf(error)}`, { cause: error });
  }
}

function connect(dbPath: string, busyTimeoutMs: number, readonly: boolean): Database.Database {
  let connection: Database.Database;
  try {
    connection = new Database(dbPath, { fileMustExist: true, timeout: busyTimeoutMs, readonly });
  } catch (error) {
    throw new WalsyncError('DB_INVALID', `${dbPath}: cannot open: ${messageOf(error)}`, { cause: error });
  }
  try {
    connection.pragma('cache_size = 0');
  } catch (error) {
    connection.close();
    // The pragma is the first read of the file.
    const what = sqliteCode(error) === 'SQLITE_NOTADB' ? 'not a SQLite database' : 'cannot open';
    throw new WalsyncError('DB_INVALID', `${dbPath}: ${what}: ${messageOf(error)}`, { cause: error });
  }
  return connection;
}

function ensureWalMode(dbPath: string, connection: Database.Database, options: OpenOptions): void {
  let mode: string;
  try {
    mode = String(connection.pragma('journal_mode', { simple: true }));
  } catch (error) {
    throw new WalsyncError('DB_INVALID', `${dbPath}: cannot read its journal mode: ${messageOf(error)}`, { cause: error });
  }
  if (mode.toLowerCase() === 'wal') return;
  if (!options.switchToWal) {
    throw new WalsyncError('DB_INVALID', `${dbPath}: not in WAL mode (journal_mode=${mode})`);
  }
  const switched = String(connection.pragma('journal_mode = WAL', { simple: true }));
  if (switched.toLowerCase() !== 'wal') {
    throw new WalsyncError('DB_INVALID', `${dbPath}: cannot switch to WAL mode (journal_mode stays ${switched})`);
  }
  options.onSwitchedToWal?.();
}

function sqliteCode(error: unknown): string | undefined {
  if (error instanceof Database.SqliteError) return error.code;
  return undefined;
}
