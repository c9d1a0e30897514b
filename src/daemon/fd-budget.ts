/**
 * File descriptors are what a fleet runs out of first: each database holds
 * its SQLite connections' files open. Node raises its soft limit to the
 * hard one at start, so the hard limit is the one that counts. Read from
 * /proc (Linux); elsewhere nothing is said.
 */
import fs from 'node:fs/promises';

/** The soft limit on open files (`ulimit -n`). */
export async function openFileLimit(): Promise<number | undefined> {
  const limits = await fs.readFile('/proc/self/limits', 'utf8').catch(() => undefined);
  const soft = limits && /^Max open files\s+(\d+)/m.exec(limits)?.[1];
  return soft ? Number(soft) : undefined;
}

export async function openFileCount(): Promise<number | undefined> {
  return (await fs.readdir('/proc/self/fd').catch(() => undefined))?.length;
}

/**
 * What a sync opens on top of a database just started (src/db/live-db.ts):
 * the lock connection and the second pin, a database file and a WAL each.
 * Their database descriptors stay after they close (SQLite keeps them while
 * the pin holds its lock), so a database that synced once holds two more
 * for good, and four more while it syncs.
 */
export const SYNC_DESCRIPTORS = 4;

/** How many databases fit in the limit, at what the ones started cost each and what their syncs will open. */
export function databasesAllowed(limit: number, openBefore: number, openAfter: number, started: number): { perDatabase: number; allowed: number } | undefined {
  if (started === 0 || openAfter <= openBefore) return undefined;
  const perDatabase = (openAfter - openBefore) / started + SYNC_DESCRIPTORS;
  return { perDatabase, allowed: Math.floor((limit - openBefore) / perDatabase) };
}
