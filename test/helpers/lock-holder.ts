/**
 * A separate process holding a database's walsync lock, as another walsync
 * process would: prints "held", releases on a "release" line, and can be
 * killed instead. Arguments: metaDir dbPath role what.
 */
import readline from 'node:readline';
import { acquireDbLock } from '../../src/db/db-lock.js';
import type { LockRole } from '../../src/db/db-lock.js';
import { silentLogger } from '../../src/log.js';

const [metaDir, dbPath, role, what] = process.argv.slice(2) as [string, string, LockRole, string];
const lock = await acquireDbLock(metaDir, dbPath, role, what, silentLogger);
process.stdout.write('held\n');
for await (const line of readline.createInterface({ input: process.stdin })) {
  if (line === 'release') break;
}
await lock.release();
process.exit(0);
