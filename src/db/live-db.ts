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
 *
 * The connections are to one file, the one at the path when they opened
 * (`file`). Each sync first asks followPath whether that is still so: a
 * database renamed over, or deleted and made again, is let go of and the new
 * file opened in its place (a new generation); a database that is gone
 * leaves no connection open until a file is at the path again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { WalsyncError, messageOf } from '../errors.js';
import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import { walPathFor } from '../layout.js';
import type { DatabaseFile } from './database-file.js';
import { releaseDatabaseFile } from './database-file.js';
import type { FileIdentity } from './file-identity.js';
import { describeChange, identityAt, identityOf, sameFile, statAt } from './file-identity.js';
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

/** A rename racing the connections' opening is looked at again this many times. */
const OPEN_ATTEMPTS = 3;

export class LiveDb {
  readonly dbPath: string;
  readonly walPath: string;
  private pageSizeNow = 0;
  /** The file the connections have open, or had before it went missing. */
  private identity!: FileIdentity;
  /** The WAL they have open, as it was after the first pin. */
  private walIdentity: FileIdentity | undefined;
  /** Undefined while the database file is missing: no connection is open. */
  private checkpointerConnection: Database.Database | undefined;
  /** The pin connection in a read transaction, if any. */
  private activePin: Database.Database | undefined;
  /** Pin connections open and not in a transaction: the next move's, until rest(). */
  private sparePins: Database.Database[] = [];
  /** Opened by the first lockWrites, closed by rest(). */
  private lock: Database.Database | undefined;
  private locked = false;
  /** walsync's own writes and checkpoints, which data_version does not count, and each opening of a file. */
  private ownWalChangeCount = 0;
  private readonly options: OpenOptions;
  /** Why the file open now is not the one the shadow followed, until a sync has started its generation. */
  private unfollowedReason: string | undefined;

  private constructor(dbPath: string, options: OpenOptions) {
    this.dbPath = dbPath;
    this.walPath = walPathFor(dbPath);
    this.options = options;
  }

  static async open(dbPath: string, options: OpenOptions): Promise<LiveDb> {
    await assertDatabaseFile(dbPath);
    const db = new LiveDb(dbPath, options);
    db.connectAll();
    return db;
  }

  get pageSize(): number {
    return this.pageSizeNow;
  }

  /** The database file the connections have open. */
  get file(): DatabaseFile {
    return { dbPath: this.dbPath, identity: this.identity };
  }

  /**
   * Opens the checkpoint and pin connections and takes the pin, on the file
   * at the path when they opened: it was there before the first and still
   * after the last, so both opened it.
   */
  private connectAll(): void {
    const { busyTimeoutMs } = this.options;
    for (let attempt = 1; ; attempt++) {
      const before = identityAt(this.dbPath);
      if (!before) throw this.missing();
      const connections: Database.Database[] = [];
      let pageSize: number;
      try {
        const checkpointer = connect(this.dbPath, busyTimeoutMs, false);
        connections.push(checkpointer);
        ensureWalMode(this.dbPath, checkpointer, this.options);
        connections.push(connect(this.dbPath, busyTimeoutMs, true));
        pageSize = Number(checkpointer.pragma('page_size', { simple: true }));
      } catch (error) {
        for (const connection of connections.reverse()) connection.close();
        throw error;
      }
      const after = identityAt(this.dbPath);
      if (!after || !sameFile(before, after)) {
        for (const connection of connections.reverse()) connection.close();
        if (attempt < OPEN_ATTEMPTS) continue;
        throw this.replaced(before, after);
      }
      this.identity = before;
      this.checkpointerConnection = connections[0]!;
      this.sparePins = [connections[1]!];
      this.pageSizeNow = pageSize;
      // Stamps of the file before are never those of this one.
      this.ownWalChangeCount++;
      try {
        this.pinWal();
      } catch (error) {
        this.closeConnections();
        throw error;
      }
      this.walIdentity = identityAt(this.walPath);
      return;
    }
  }

  /**
   * Whether the files at the paths are still those the connections have
   * open (one stat each). For the safety poll; a sync asks followPath.
   */
  stillAtPath(): boolean {
    return this.checkpointerConnection !== undefined && this.whatChanged() === undefined;
  }

  /**
   * The first step of every sync: when another file is at the path (or the
   * WAL at its path is not the one the connections have open), closes every
   * connection to the old one, then the descriptor held on it, and opens the
   * new one; returns why the shadow cannot go on (a new generation), and
   * goes on returning it until followedNewFile. Throws DB_MISSING, with
   * nothing left open, while no database file is at the path.
   */
  followPath(): { readonly reason: string; readonly justNow: boolean } | undefined {
    const stats = statAt(this.dbPath);
    // An empty file is one an app is creating: left alone until it has written its header.
    if (!stats || stats.size === 0) {
      this.letGoOfFile();
      throw this.missing();
    }
    const atPath = identityOf(stats);
    const change = this.checkpointerConnection ? this.whatChanged(atPath) : this.whyBack(atPath);
    if (change === undefined) return this.unfollowedReason === undefined ? undefined : { reason: this.unfollowedReason, justNow: false };
    this.letGoOfFile();
    this.connectAll();
    this.unfollowedReason = change;
    return { reason: change, justNow: true };
  }

  /** A sync started the new file's generation. */
  followedNewFile(): void {
    this.unfollowedReason = undefined;
  }

  /** A file at the path after none was: even the same one may have been written to elsewhere meanwhile. */
  private whyBack(atPath: FileIdentity): string {
    if (sameFile(atPath, this.identity)) return 'database file back at its path after it was missing';
    return `database file replaced at its path (${describeChange(this.identity, atPath)})`;
  }

  /** Why the files at the paths are not those the connections have open; undefined when they are. */
  private whatChanged(atPath = identityAt(this.dbPath)): string | undefined {
    if (!atPath || !sameFile(atPath, this.identity)) return `database file replaced at its path (${describeChange(this.identity, atPath)})`;
    if (!this.walIdentity) return undefined;
    const walAtPath = identityAt(this.walPath);
    if (!walAtPath || !sameFile(walAtPath, this.walIdentity)) return `WAL file replaced at its path (${describeChange(this.walIdentity, walAtPath)})`;
    return undefined;
  }

  /**
   * Opens the WAL for reading, checked to be the one the connections have
   * open and beside the database file they have open (the caller closes it).
   */
  async openWal(): Promise<FileHandle> {
    if (!this.checkpointerConnection) throw this.missing();
    const wal = await fs.open(this.walPath, 'r');
    try {
      const opened = identityOf(await wal.stat());
      this.walIdentity ??= opened;
      const dbAtPath = identityAt(this.dbPath);
      if (!sameFile(opened, this.walIdentity)) throw new WalsyncError('DB_REPLACED', `${this.walPath}: the WAL file was replaced at its path (${describeChange(this.walIdentity, opened)})`);
      if (!dbAtPath || !sameFile(dbAtPath, this.identity)) throw this.replaced(this.identity, dbAtPath);
      return wal;
    } catch (error) {
      await wal.close();
      throw error;
    }
  }

  /** Closes every connection, then the descriptor held on the file: nothing of walsync's is left open on it. */
  private letGoOfFile(): void {
    if (!this.checkpointerConnection) return;
    this.closeConnections();
    releaseDatabaseFile(this.identity);
  }

  private missing(): WalsyncError {
    return new WalsyncError('DB_MISSING', `${this.dbPath}: database missing (the file was deleted or renamed away; a database created at the path is picked up)`);
  }

  private replaced(before: FileIdentity, after: FileIdentity | undefined): WalsyncError {
    return new WalsyncError('DB_REPLACED', `${this.dbPath}: the database file was replaced at its path (${describeChange(before, after)}); the next sync opens the new one`);
  }

  private get checkpointer(): Database.Database {
    if (!this.checkpointerConnection) throw this.missing();
    return this.checkpointerConnection;
  }

  /** A connection opened by path after the others, checked to have opened the same file. */
  private connectSameFile(readonly: boolean): Database.Database {
    if (!this.checkpointerConnection) throw this.missing();
    const connection = connect(this.dbPath, this.options.busyTimeoutMs, readonly);
    const atPath = identityAt(this.dbPath);
    if (!atPath || !sameFile(atPath, this.identity)) {
      connection.close();
      throw this.replaced(this.identity, atPath);
    }
    return connection;
  }

  /** Starts (or refreshes) the held read transaction at the newest commit. */
  pinWal(): void {
    const previous = this.activePin;
    const next = this.sparePins.pop() ?? this.connectSameFile(true);
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
      this.lock = this.connectSameFile(false);
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
      const deadline = Date.now() + this.options.busyTimeoutMs;
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
    await this.beginImmediate(writer, this.options.busyTimeoutMs);
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

  /**
   * Closes the connections; the descriptor held on the file too when the
   * file is no longer at the path (it would keep a deleted file's space):
   * one still there may hold an embedding app's locks, and walsync opened
   * again takes it up.
   */
  close(): void {
    if (!this.checkpointerConnection) return;
    const atPath = identityAt(this.dbPath);
    const stillThere = atPath !== undefined && sameFile(atPath, this.identity);
    this.closeConnections();
    if (!stillThere) releaseDatabaseFile(this.identity);
  }

  /** Closes the pin last: as a read-only connection it cannot checkpoint and delete the WAL on close. */
  private closeConnections(): void {
    this.locked = false;
    this.lock?.close();
    this.lock = undefined;
    this.checkpointerConnection?.close();
    this.checkpointerConnection = undefined;
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
