/** The commands the test app processes (app-child.ts, app.py) understand. */

export interface AppOptions {
  dbPath: string;
  /** wal_autocheckpoint; undefined leaves SQLite's default (1000). */
  autocheckpoint?: number;
  cacheSize?: number;
  pageSize?: number;
}

export type AppCommand =
  | { op: 'exec'; sql: string }
  | { op: 'insert'; count: number; size?: number; perTx?: number }
  | { op: 'beginHold'; rows?: number; size?: number }
  | { op: 'commitHold' }
  | { op: 'rollbackHold' }
  | { op: 'checkpoint'; mode: 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE' }
  | { op: 'query'; sql: string }
  | { op: 'close' };
