/**
 * A replica in a directory (a backup disk, an NFS mount). Every object is
 * written as `<name>.tmp`, fsynced, renamed and its directory fsynced, so a
 * killed upload leaves no half object under a real name.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { WalsyncError, isNotFound, messageOf, systemErrorCode, unwrapFileError } from '../errors.js';
import { makeDirDurable, removeTmpFiles, writeFileAtomic } from '../fsx/durable.js';
import { readFileChunks, writeAll, writeChunksBehind } from '../fsx/file-io.js';
import type { Body } from './client.js';
import type { StoredObject } from './keyed-client.js';
import { KeyedReplicaClient } from './keyed-client.js';
import { RequestCounter } from './request-counter.js';
import { generationKey } from './layout.js';

const GENERATION_ID = /^[0-9a-f]{16}$/;

export interface FileReplicaOptions {
  readonly fileMode: number;
  readonly dirMode: number;
}

export class FileReplicaClient extends KeyedReplicaClient {
  readonly url: string;
  /** File operations counted as the object-store requests they stand for, so both backends report alike. */
  readonly requests = new RequestCounter();

  constructor(
    readonly root: string,
    private readonly options: FileReplicaOptions = { fileMode: 0o600, dirMode: 0o700 },
  ) {
    super();
    this.url = `file://${root}`;
  }

  async listGenerations(): Promise<string[]> {
    return (await this.readDir('generations')).filter((name) => GENERATION_ID.test(name)).sort();
  }

  async deleteGeneration(generationId: string): Promise<void> {
    this.requests.add('DELETE');
    await this.io(generationKey(generationId), () => fs.rm(this.pathOf(generationKey(generationId)), { recursive: true, force: true }));
  }

  async removeDebris(): Promise<void> {
    await this.io('generations', () => removeTmpFiles(this.pathOf('generations')));
  }

  private pathOf(key: string): string {
    return path.join(this.root, ...key.split('/'));
  }

  private async readDir(key: string): Promise<string[]> {
    this.requests.add('LIST');
    try {
      return await fs.readdir(this.pathOf(key));
    } catch (error) {
      if (isNotFound(error)) return [];
      throw this.fail(key, error);
    }
  }

  protected async listFolder(key: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    for (const name of await this.readDir(key)) {
      const stats = await this.statObject(`${key}/${name}`);
      if (stats?.isFile()) objects.push({ name, size: stats.size, createdAt: stats.mtime });
    }
    return objects;
  }

  private async statObject(key: string) {
    try {
      return await fs.stat(this.pathOf(key));
    } catch (error) {
      // Deleted between the listing and the stat (retention running elsewhere).
      if (isNotFound(error)) return undefined;
      throw this.fail(key, error);
    }
  }

  protected async putObject(key: string, body: Body): Promise<{ size: number; createdAt: Date }> {
    const target = this.pathOf(key);
    return this.io(key, async () => {
      await makeDirDurable(path.dirname(target), this.options.dirMode);
      await writeFileAtomic(target, this.options.fileMode, (handle) => writeChunksBehind((bytes, at) => writeAll(handle, bytes, at), body));
      const stats = await fs.stat(target);
      this.requests.add('PUT', { uploaded: stats.size });
      return { size: stats.size, createdAt: stats.mtime };
    });
  }

  protected async *getObject(key: string): Body {
    this.requests.add('GET');
    try {
      for await (const chunk of readFileChunks(this.pathOf(key))) {
        this.requests.addDownloaded(chunk.byteLength);
        yield chunk;
      }
    } catch (error) {
      if (isNotFound(error)) throw new WalsyncError('REPLICA_NOT_FOUND', `${this.url}/${key}: no such object`, { cause: error });
      throw this.fail(key, error);
    }
  }

  protected async deleteObjects(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      this.requests.add('DELETE');
      await this.io(key, () => fs.rm(this.pathOf(key), { force: true }));
    }
  }

  private async io<T>(key: string, action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (thrown) {
      // The durable-write helpers name the local path (IO); a replica's error names the object.
      const error = unwrapFileError(thrown);
      if (error instanceof WalsyncError) throw error;
      throw this.fail(key, error);
    }
  }

  private fail(key: string, error: unknown): WalsyncError {
    return new WalsyncError('REPLICA_IO', `${this.url}/${key}: ${systemErrorCode(error) ?? messageOf(error)}`, { cause: error });
  }
}
