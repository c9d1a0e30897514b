/**
 * The CPU priority a long-running walsync should not be below. Each sync
 * holds the app's write lock for a few milliseconds; a walsync that other
 * processes can push off the CPU holds it until they let it back on, and the
 * app's writers wait all that time (measured in docs/running.md).
 */
import os from 'node:os';
import type { Logger } from '../log.js';

export function warnIfBelowNormalPriority(log: Logger): void {
  const nice = os.getPriority();
  if (nice <= 0) return;
  log.warn('walsync runs below normal CPU priority; busy processes can then stall the app behind the write lock walsync holds while it copies; run it at nice 0', {
    nice,
  });
}
