/** SFTP requests as promises, with the few shapes the replica needs (exact reads, pipelined writes, listings with sizes and times). */
import type { SFTPWrapper } from 'ssh2';

/** SSH_FX_NO_SUCH_FILE: the status a server answers for a missing file or directory. */
const NO_SUCH_FILE = 2;
/** Writes are cut into requests of this size, all sent before the first answer, so one buffer's round trips overlap. */
const WRITE_SIZE = 64 * 1024;

export interface RemoteEntry {
  readonly name: string;
  readonly size: number;
  readonly modifiedAt: Date;
  readonly isFile: boolean;
  readonly isDirectory: boolean;
}

/** The SFTP status code of a failed request; undefined when the failure is the connection's, not the server's answer. */
export function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNoSuchFile(error: unknown): boolean {
  return statusOf(error) === NO_SUCH_FILE;
}

/** A request that ends in a callback; a synchronous throw (a request the server lacks) rejects too. */
function request<T>(send: (callback: (error: Error | undefined | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => send((error, value) => (error ? reject(error) : resolve(value))));
}

export async function readDirectory(sftp: SFTPWrapper, dir: string): Promise<RemoteEntry[]> {
  const list = await request<{ filename: string; attrs: { size: number; mtime: number; isFile(): boolean; isDirectory(): boolean } }[]>((done) => sftp.readdir(dir, done));
  return list.map(({ filename, attrs }) => ({
    name: filename,
    size: attrs.size,
    modifiedAt: new Date(attrs.mtime * 1000),
    isFile: attrs.isFile(),
    isDirectory: attrs.isDirectory(),
  }));
}

export function makeDirectory(sftp: SFTPWrapper, dir: string, mode: number): Promise<void> {
  return request<void>((done) => sftp.mkdir(dir, { mode }, (error) => done(error, undefined)));
}

export function removeDirectory(sftp: SFTPWrapper, dir: string): Promise<void> {
  return request<void>((done) => sftp.rmdir(dir, (error) => done(error, undefined)));
}

export function removeFile(sftp: SFTPWrapper, filePath: string): Promise<void> {
  return request<void>((done) => sftp.unlink(filePath, (error) => done(error, undefined)));
}

export function openFile(sftp: SFTPWrapper, filePath: string, flags: 'r' | 'w', mode?: number): Promise<Buffer> {
  return request<Buffer>((done) => sftp.open(filePath, flags, mode === undefined ? {} : { mode }, done));
}

export function closeHandle(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
  return request<void>((done) => sftp.close(handle, (error) => done(error, undefined)));
}

export async function fstatSize(sftp: SFTPWrapper, handle: Buffer): Promise<number> {
  return (await request<{ size: number }>((done) => sftp.fstat(handle, done))).size;
}

/** Flushes the file to the server's disk, where the server offers fsync@openssh.com (OpenSSH does). */
export async function syncHandle(sftp: SFTPWrapper, handle: Buffer): Promise<void> {
  if (!hasExtension(sftp, 'fsync@openssh.com')) return;
  await request<void>((done) => sftp.ext_openssh_fsync(handle, (error) => done(error, undefined)));
}

/**
 * Renames over an existing name in one step (posix-rename@openssh.com);
 * a server without it gets SFTP's own rename, which refuses an existing
 * target, so the target goes first.
 */
export async function renameOver(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  if (hasExtension(sftp, 'posix-rename@openssh.com')) {
    await request<void>((done) => sftp.ext_openssh_rename(from, to, (error) => done(error, undefined)));
    return;
  }
  await removeFile(sftp, to).catch((error: unknown) => {
    if (!isNoSuchFile(error)) throw error;
  });
  await request<void>((done) => sftp.rename(from, to, (error) => done(error, undefined)));
}

/** ssh2 keeps the extensions the server announced in a field of its own, and has no public way to ask. */
function hasExtension(sftp: SFTPWrapper, name: string): boolean {
  return (sftp as unknown as { _extensions?: Record<string, string> })._extensions?.[name] === '1';
}

export async function writeAt(sftp: SFTPWrapper, handle: Buffer, bytes: Uint8Array, position: number): Promise<void> {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const writes: Promise<void>[] = [];
  for (let offset = 0; offset < buffer.byteLength; offset += WRITE_SIZE) {
    const length = Math.min(WRITE_SIZE, buffer.byteLength - offset);
    writes.push(request<void>((done) => sftp.write(handle, buffer, offset, length, position + offset, (error) => done(error, undefined))));
  }
  await Promise.all(writes);
}

/** `length` bytes at `position`, or fewer only at the end of the file. */
export async function readAt(sftp: SFTPWrapper, handle: Buffer, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let done = 0;
  while (done < length) {
    const bytesRead = await request<number>((callback) =>
      sftp.read(handle, buffer, done, length - done, position + done, (error, count) => callback(error, count)),
    );
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return buffer.subarray(0, done);
}
