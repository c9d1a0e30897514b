/**
 * Which file a path names: device and inode, and the birth time where the
 * filesystem records one. A file renamed over the path, or deleted and made
 * again, is another file; the inode alone can say so only while something
 * keeps the old one open (a freed inode number is soon given out again), so
 * a comparison across processes also needs the birth time. Plain stat only,
 * no descriptor: closing one would drop this process's POSIX locks.
 */
import fs from 'node:fs';
import { isNotFound } from '../errors.js';

export interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
  /** 0 where the filesystem keeps no birth time. */
  readonly birthtimeMs: number;
}

export function identityOf(stats: fs.Stats): FileIdentity {
  return { dev: stats.dev, ino: stats.ino, birthtimeMs: stats.birthtimeMs };
}

/** What is at `filePath` now; undefined when nothing is. */
export function statAt(filePath: string): fs.Stats | undefined {
  try {
    return fs.statSync(filePath);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

export function identityAt(filePath: string): FileIdentity | undefined {
  const stats = statAt(filePath);
  return stats && identityOf(stats);
}

/**
 * The device number is compared only where there is no birth time: it can
 * change across a reboot or a container's restart (an overlay, a volume
 * mounted again) for the same file, which a record in the shadow outlives.
 */
export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  if (a.ino !== b.ino) return false;
  return a.birthtimeMs === 0 || b.birthtimeMs === 0 ? a.dev === b.dev : a.birthtimeMs === b.birthtimeMs;
}

/** For reasons and log lines: `inode 1234 -> 5678`, or `none` for a file that is gone. */
export function describeChange(before: FileIdentity, after: FileIdentity | undefined): string {
  if (!after) return `inode ${before.ino} -> none`;
  if (after.ino !== before.ino || after.dev !== before.dev) return `inode ${before.ino} -> ${after.ino}`;
  return `inode ${before.ino} made again, born ${new Date(before.birthtimeMs).toISOString()} -> ${new Date(after.birthtimeMs).toISOString()}`;
}

/** The key of one file on this machine, for what is held per file. */
export function fileKey(identity: FileIdentity): string {
  return `${identity.dev}:${identity.ino}`;
}
