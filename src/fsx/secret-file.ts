/** Files that hold secrets (an age identity, an SSH key) should be readable by their owner alone, as ssh insists for its own keys. */
import fs from 'node:fs';

/** A warning when other users can read or write `filePath`; undefined when its mode is 0600 or narrower, or it cannot be seen (its reader reports that). */
export function secretFileWarning(filePath: string): string | undefined {
  let mode: number;
  try {
    mode = fs.statSync(filePath).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o077) === 0) return undefined;
  return `${filePath} holds a secret but other users can reach it (mode ${mode.toString(8).padStart(4, '0')}): chmod 600 ${filePath}`;
}
