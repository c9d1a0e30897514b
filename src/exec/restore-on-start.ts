/**
 * `restore-if-db-not-exists`: before `walsync run` opens its databases (and
 * before `--exec` starts the app), a database that is missing is restored
 * from the first of its replicas that has a backup. No backup anywhere is a
 * fresh start; a replica that fails to restore stops everything, so the app
 * never starts on an empty database while a backup it should have had exists.
 */
import type { DbConfig } from '../config/config.js';
import { WalsyncError, messageOf } from '../errors.js';
import { pathExists } from '../fsx/file-io.js';
import type { Logger } from '../log.js';
import { openReplica } from '../replica/url.js';
import { restore } from '../restore/restore.js';

export async function restoreMissingDatabases(dbs: readonly DbConfig[], always: boolean, log: Logger): Promise<void> {
  for (const db of dbs) {
    if ((always || db.restoreIfDbNotExists) && !(await pathExists(db.path))) await restoreFromFirstBackup(db, log);
  }
}

async function restoreFromFirstBackup(db: DbConfig, log: Logger): Promise<void> {
  for (const replica of db.replicas) {
    let result;
    try {
      result = await restore({ client: openReplica(replica.location, undefined, process.env, replica.age), outputPath: db.path, ifReplicaExists: true });
    } catch (error) {
      throw new WalsyncError(error instanceof WalsyncError ? error.code : 'IO', `${db.path}: restore from replica ${replica.name} failed, so nothing was started: ${messageOf(error)}`, { cause: error });
    }
    if (result.restored) {
      log.info('database restored before start', { db: db.path, replica: replica.name, generation: result.plan.generationId, bytes: result.byteCount });
      return;
    }
  }
  log.info('database does not exist and no replica has a backup; starting fresh', { db: db.path });
}
