/** The shadow directory, made if missing, and usable by this process. */
import fs from 'node:fs/promises';
import { WalsyncError, messageOf, systemErrorCode, unwrapFileError } from '../errors.js';
import { makeDirDurable } from '../fsx/durable.js';
import type { ShadowModes } from './permissions.js';

export async function prepareMetaDir(metaDir: string, modes: ShadowModes): Promise<void> {
  try {
    await makeDirDurable(metaDir, modes.dirMode);
    if (!(await fs.stat(metaDir)).isDirectory()) {
      throw new WalsyncError('META_UNWRITABLE', `${metaDir}: cannot write the shadow directory: it is not a directory`);
    }
    await fs.access(metaDir, fs.constants.W_OK | fs.constants.X_OK);
  } catch (thrown) {
    const error = unwrapFileError(thrown);
    if (error instanceof WalsyncError) throw error;
    throw new WalsyncError('META_UNWRITABLE', `${metaDir}: cannot write the shadow directory: ${systemErrorCode(error) ?? messageOf(error)}`, {
      cause: error,
    });
  }
}
