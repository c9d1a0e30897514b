/**
 * Which databases' WALs changed, learned from the kernel: fs.watch
 * (inotify) on each database's directory, one watch shared by the databases
 * in it, so a database nobody writes costs nothing per tick. The events only
 * decide when to look; a sync still proves from PRAGMA data_version whether
 * anything was committed. Where the kernel cannot tell (fs.watch refuses the
 * directory), the database is reported unwatched and syncs on every tick.
 */
import type { FSWatcher } from 'node:fs';
import { watch } from 'node:fs';
import path from 'node:path';

interface WatchedDir {
  readonly watcher?: FSWatcher;
  /** By database file name. */
  readonly listeners: Map<string, () => void>;
}

export class WalChangeFeed {
  private readonly dirs = new Map<string, WatchedDir>();

  /** Calls `onChange` whenever the database or its WAL changes; `watched` is false where the kernel will not say. */
  watch(dbPath: string, onChange: () => void): { readonly watched: boolean; unwatch(): void } {
    const dir = path.dirname(dbPath);
    const name = path.basename(dbPath);
    let watched = this.dirs.get(dir);
    if (!watched) {
      watched = { watcher: this.watchDir(dir), listeners: new Map() };
      this.dirs.set(dir, watched);
    }
    watched.listeners.set(name, onChange);
    const entry = watched;
    return {
      watched: entry.watcher !== undefined,
      unwatch: () => {
        entry.listeners.delete(name);
        if (entry.listeners.size > 0) return;
        entry.watcher?.close();
        this.dirs.delete(dir);
      },
    };
  }

  private watchDir(dir: string): FSWatcher | undefined {
    try {
      const watcher = watch(dir, { persistent: false }, (_event, changed) => {
        const listeners = this.dirs.get(dir)?.listeners;
        if (!listeners) return;
        if (changed === null) {
          for (const listener of listeners.values()) listener();
          return;
        }
        listeners.get(changed.endsWith('-wal') ? changed.slice(0, -'-wal'.length) : changed)?.();
      });
      // A watch the kernel ends (the directory went away) tells nothing more: the rescans and the safety poll take over.
      watcher.on('error', () => watcher.close());
      return watcher;
    } catch {
      return undefined;
    }
  }
}
