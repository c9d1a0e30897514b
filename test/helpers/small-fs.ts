/**
 * A small filesystem that fills up, for the full-disk tests: a size-limited
 * tmpfs mounted (as root) on a directory of the test, grown again with a
 * remount once the test frees space, unmounted when the test ends.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export interface SmallFs {
  readonly dir: string;
  /** Gives the filesystem `kib` KiB: "space is freed". */
  resize(kib: number): void;
}

/** A `kib` KiB filesystem on a directory of its own (not inside a temp dir whose removal would meet the mount). */
export function mountSmallFs(t: TestContext, kib: number): SmallFs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'walsync-small-fs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0755`, 'tmpfs', dir]);
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    fs.rmdirSync(dir);
  });
  return {
    dir,
    resize: (size) => execFileSync('mount', ['-o', `remount,size=${size}k`, dir]),
  };
}
