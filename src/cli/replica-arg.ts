/** A replica named on the command line: an SSH key file it points at that others can read is a warning line, as ssh gives for its own keys. */
import { secretFileWarning } from '../fsx/secret-file.js';
import type { Logger } from '../log.js';
import type { AgeKeys } from '../replica/age/keys.js';
import type { ReplicaClient } from '../replica/client.js';
import { isSftpUrl } from '../replica/sftp/settings.js';
import { openReplica } from '../replica/url.js';

export function openReplicaArg(url: string, log: Logger, age?: AgeKeys): ReplicaClient {
  warnOfLooseKeyFile(url, log);
  return openReplica(url, undefined, process.env, age);
}

export function warnOfLooseKeyFile(url: string, log: Logger): void {
  if (!isSftpUrl(url)) return;
  let keyPath: string | null;
  try {
    keyPath = new URL(url).searchParams.get('key-path');
  } catch {
    // Not a URL at all: opening the replica says so.
    return;
  }
  const warning = keyPath === null ? undefined : secretFileWarning(keyPath);
  if (warning) log.warn('SSH key file readable by others', { warning });
}
