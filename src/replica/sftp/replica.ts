/**
 * A replica in a directory on an SSH server (a backup host, a NAS), in the
 * same Litestream 0.3 layout as the file replica. Every object is written
 * as `<name>.tmp`, flushed with fsync@openssh.com where the server has it,
 * and renamed over its real name with posix-rename@openssh.com, so a killed
 * upload leaves no half object under a real name. SFTP cannot flush a
 * directory; the server's own file system orders the rename.
 */
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { WalsyncError, messageOf } from '../../errors.js';
import { writeChunksBehind } from '../../fsx/file-io.js';
import { TMP_SUFFIX } from '../../layout.js';
import type { Body } from '../client.js';
import type { StoredObject } from '../keyed-client.js';
import { KeyedReplicaClient } from '../keyed-client.js';
import { generationKey, snapshotsKey, walSegmentsKey } from '../layout.js';
import { RequestCounter } from '../request-counter.js';
import type { SftpConnection } from './connection.js';
import { sharedSftpConnection } from './connection.js';
import type { RemoteEntry } from './requests.js';
import { closeHandle, fstatSize, isNoSuchFile, makeDirectory, openFile, readAt, readDirectory, removeDirectory, removeFile, renameOver, statusOf, syncHandle, writeAt } from './requests.js';
import type { ResolvedSftpSettings } from './settings.js';
import { formatSftpUrl } from './settings.js';

const GENERATION_ID = /^[0-9a-f]{16}$/;
/** Reads of this size (under the 255 KiB OpenSSH serves in one answer), this many in flight: the round trips of one download overlap (4 MiB ahead). */
const READ_SIZE = 252 * 1024;
const READS_AHEAD = 16;
/** Deletes in flight at once over the one session. */
const DELETES_AHEAD = 64;
const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

export class SftpReplicaClient extends KeyedReplicaClient {
  readonly url: string;
  readonly requests = new RequestCounter();
  private readonly connection: SftpConnection;
  private readonly root: string;
  /** Directories known to exist, so an upload costs no mkdir round trips after the first. */
  private readonly madeDirs = new Set<string>();

  constructor(settings: ResolvedSftpSettings) {
    super();
    this.url = formatSftpUrl(settings);
    this.root = settings.path;
    this.connection = sharedSftpConnection(settings, formatSftpUrl({ ...settings, path: '' }));
  }

  async listGenerations(): Promise<string[]> {
    const entries = await this.list('generations');
    return entries.filter((entry) => entry.isDirectory && GENERATION_ID.test(entry.name)).map((entry) => entry.name).sort();
  }

  async deleteGeneration(generationId: string): Promise<void> {
    const key = generationKey(generationId);
    await this.io(key, () => this.connection.run((sftp) => this.removeTree(sftp, this.remotePath(key))));
    for (const dir of this.madeDirs) if (dir.startsWith(this.remotePath(key))) this.madeDirs.delete(dir);
  }

  async removeDebris(): Promise<void> {
    for (const generationId of await this.listGenerations()) {
      for (const folder of [snapshotsKey(generationId), walSegmentsKey(generationId)]) {
        const debris = (await this.listFolder(folder)).filter((object) => object.name.endsWith(TMP_SUFFIX));
        await this.deleteObjects(debris.map((object) => `${folder}/${object.name}`));
      }
    }
  }

  private remotePath(key: string): string {
    return this.root === '' ? key : posix.join(this.root, key);
  }

  private async list(key: string): Promise<RemoteEntry[]> {
    this.requests.add('LIST');
    return this.io(key, () =>
      this.connection.run(async (sftp) => {
        try {
          return await readDirectory(sftp, this.remotePath(key));
        } catch (error) {
          if (isNoSuchFile(error)) return [];
          throw error;
        }
      }),
    );
  }

  protected async listFolder(key: string): Promise<StoredObject[]> {
    return (await this.list(key)).filter((entry) => entry.isFile).map((entry) => ({ name: entry.name, size: entry.size, createdAt: entry.modifiedAt }));
  }

  protected async putObject(key: string, body: Body): Promise<{ size: number; createdAt: Date }> {
    const target = this.remotePath(key);
    const tmpPath = `${target}${TMP_SUFFIX}`;
    return this.io(key, () =>
      this.connection.run(async (sftp) => {
        const handle = await this.createFile(sftp, tmpPath);
        let size: number;
        try {
          size = await writeChunksBehind((bytes, at) => writeAt(sftp, handle, bytes, at), body);
          await syncHandle(sftp, handle);
          await closeHandle(sftp, handle);
        } catch (error) {
          await closeHandle(sftp, handle).catch(() => undefined);
          await removeFile(sftp, tmpPath).catch(() => undefined);
          throw error;
        }
        await renameOver(sftp, tmpPath, target);
        this.requests.add('PUT', { uploaded: size });
        return { size, createdAt: new Date() };
      }),
    );
  }

  /** Opens `filePath` for writing, making its directories first; a directory removed behind our back is made again. */
  private async createFile(sftp: SFTPWrapper, filePath: string): Promise<Buffer> {
    await this.makeDirs(sftp, posix.dirname(filePath));
    try {
      return await openFile(sftp, filePath, 'w', FILE_MODE);
    } catch (error) {
      if (!isNoSuchFile(error)) throw error;
      this.madeDirs.clear();
      await this.makeDirs(sftp, posix.dirname(filePath));
      return openFile(sftp, filePath, 'w', FILE_MODE);
    }
  }

  private async makeDirs(sftp: SFTPWrapper, dir: string): Promise<void> {
    if (dir === '.' || dir === '/' || dir === '' || this.madeDirs.has(dir)) return;
    try {
      await makeDirectory(sftp, dir, DIR_MODE);
    } catch (error) {
      if (isNoSuchFile(error)) {
        await this.makeDirs(sftp, posix.dirname(dir));
        await makeDirectory(sftp, dir, DIR_MODE).catch((again: unknown) => existsAlready(sftp, dir, again));
      } else {
        await existsAlready(sftp, dir, error);
      }
    }
    this.madeDirs.add(dir);
  }

  protected async *getObject(key: string): Body {
    this.requests.add('GET');
    this.connection.hold();
    try {
      const { sftp, guard } = await this.io(key, () => this.connection.session());
      const handle = await this.io(key, () => guard(openFile(sftp, this.remotePath(key), 'r')));
      try {
        const size = await this.io(key, () => guard(fstatSize(sftp, handle)));
        const ahead: Promise<Buffer>[] = [];
        let next = 0;
        const readAhead = () => {
          for (; ahead.length < READS_AHEAD && next < size; next += READ_SIZE) {
            const read = readAt(sftp, handle, next, Math.min(READ_SIZE, size - next));
            // Awaited in turn below; until then its failure must not count as unhandled.
            read.catch(() => undefined);
            ahead.push(read);
          }
        };
        readAhead();
        while (ahead.length > 0) {
          const chunk = await this.io(key, () => guard(ahead.shift()!));
          readAhead();
          this.requests.addDownloaded(chunk.byteLength);
          yield chunk;
          // A short read is the end of a file that shrank since the fstat: the reader above finds the object cut.
          if (chunk.byteLength === 0) return;
        }
      } finally {
        await guard(closeHandle(sftp, handle)).catch(() => undefined);
      }
    } finally {
      this.connection.release();
    }
  }

  protected async deleteObjects(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETES_AHEAD) {
      const batch = keys.slice(start, start + DELETES_AHEAD);
      for (const _ of batch) this.requests.add('DELETE');
      await Promise.all(
        batch.map((key) =>
          this.io(key, () =>
            this.connection.run((sftp) =>
              removeFile(sftp, this.remotePath(key)).catch((error: unknown) => {
                if (!isNoSuchFile(error)) throw error;
              }),
            ),
          ),
        ),
      );
    }
  }

  private async removeTree(sftp: SFTPWrapper, dir: string): Promise<void> {
    let entries: RemoteEntry[];
    try {
      entries = await readDirectory(sftp, dir);
    } catch (error) {
      if (isNoSuchFile(error)) return;
      throw error;
    }
    this.requests.add('LIST');
    for (const entry of entries) {
      const child = posix.join(dir, entry.name);
      if (entry.isDirectory) await this.removeTree(sftp, child);
      else {
        this.requests.add('DELETE');
        await removeFile(sftp, child).catch((error: unknown) => {
          if (!isNoSuchFile(error)) throw error;
        });
      }
    }
    await removeDirectory(sftp, dir).catch((error: unknown) => {
      if (!isNoSuchFile(error)) throw error;
    });
  }

  private async io<T>(key: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      if (error instanceof WalsyncError) throw error;
      if (isNoSuchFile(error)) throw new WalsyncError('REPLICA_NOT_FOUND', `${this.url}/${key}: no such object`, { cause: error });
      const status = statusOf(error);
      // A status is the server's answer about this object; anything else is the connection failing under it.
      const reason = status === undefined ? `connection to the server lost: ${messageOf(error)}` : messageOf(error);
      throw new WalsyncError('REPLICA_IO', `${this.url}/${key}: ${reason}`, { cause: error });
    }
  }
}

async function existsAlready(sftp: SFTPWrapper, dir: string, error: unknown): Promise<void> {
  const isDirectory = await new Promise<boolean>((resolve) => sftp.stat(dir, (statError, stats) => resolve(!statError && stats.isDirectory())));
  if (!isDirectory) throw error;
}
