/**
 * One SSH connection with its SFTP session, shared by every replica of the
 * process that logs in to the same server as the same user (a thousand
 * databases backed up to one host use one connection), opened on first use
 * and opened again after a drop. The socket only keeps the process alive
 * while a request is in flight: a one-shot command exits when its work is
 * done without closing anything, and the daemon keeps the session between
 * syncs. ssh2 is loaded on first use (~45 ms, ~12 MiB).
 */
import fs from 'node:fs';
import net from 'node:net';
import type { ConnectConfig, SFTPWrapper } from 'ssh2';
import { WalsyncError, messageOf } from '../../errors.js';
import { formatHostKey, hostKeyAlgorithms, hostKeyFingerprint, hostKeyType, isPinned } from './host-key.js';
import type { ResolvedSftpSettings } from './settings.js';

const READY_TIMEOUT_MS = 20_000;
/** A request with no traffic on the socket for this long means the server or the path to it is gone. */
const STALLED_MS = 60_000;
const TCP_KEEPALIVE_MS = 15_000;

/** The SFTP session of one connection. */
export interface SftpSession {
  readonly sftp: SFTPWrapper;
  /**
   * `request`, or the connection's failure if it drops first: ssh2 leaves
   * requests in flight on a connection that died unanswered.
   */
  guard<T>(request: Promise<T>): Promise<T>;
}

export class SftpConnection {
  private current: Promise<SftpSession> | undefined;
  private socket: net.Socket | undefined;
  private inFlight = 0;

  /** `server` names the connection in messages: `sftp://user@host:port`. */
  constructor(
    private readonly settings: ResolvedSftpSettings,
    readonly server: string,
  ) {}

  /** Runs `action` on the session, connecting first if there is none. */
  async run<T>(action: (sftp: SFTPWrapper) => Promise<T>): Promise<T> {
    this.hold();
    try {
      const session = await this.session();
      return await session.guard(action(session.sftp));
    } finally {
      this.release();
    }
  }

  /** Keeps the process alive (and the stall timer armed) until the matching release(): for a download that spans many requests. */
  hold(): void {
    if (this.inFlight++ === 0) this.arm(this.socket);
  }

  release(): void {
    if (--this.inFlight === 0) this.disarm(this.socket);
  }

  session(): Promise<SftpSession> {
    this.current ??= this.connect().catch((error: unknown) => {
      this.current = undefined;
      throw error;
    });
    return this.current;
  }

  private arm(socket: net.Socket | undefined): void {
    socket?.ref();
    socket?.setTimeout(STALLED_MS);
  }

  private disarm(socket: net.Socket | undefined): void {
    socket?.unref();
    socket?.setTimeout(0);
  }

  private async connect(): Promise<SftpSession> {
    const { Client } = await import('ssh2');
    const { host, port, user } = this.settings;
    const socket = net.connect({ host, port });
    socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
    // Small requests (each read is ~40 bytes) must not wait for the previous answer's ACK, as Nagle would have them.
    // (Not net.connect's noDelay option: with it, the reconnect after a refused connection hung on Node 20.20.)
    socket.setNoDelay(true);
    socket.on('timeout', () => socket.destroy(new Error(`no answer from the server for ${STALLED_MS / 1000} s`)));
    this.socket = socket;
    if (this.inFlight > 0) this.arm(socket);
    else this.disarm(socket);
    const client = new Client();
    let offeredKey: Buffer | undefined;
    const pins = this.settings.hostKeys;
    const serverHostKey = pins.length > 0 ? hostKeyAlgorithms(pins) : undefined;
    const config: ConnectConfig = {
      sock: socket,
      username: user,
      password: this.settings.password,
      privateKey: this.settings.keyPath === undefined ? undefined : readPrivateKey(this.settings.keyPath),
      readyTimeout: READY_TIMEOUT_MS,
      hostVerifier: (key: Buffer) => {
        offeredKey = key;
        return pins.length > 0 && isPinned(key, pins);
      },
      ...(serverHostKey ? { algorithms: { serverHostKey: serverHostKey as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] } } : {}),
    };
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('ready', resolve);
        client.once('error', reject);
        client.connect(config);
      });
    } catch (error) {
      socket.destroy();
      throw this.connectFailure(error, offeredKey);
    }
    let lastError: unknown;
    let dropped: (error: Error) => void = () => undefined;
    const closed = new Promise<never>((_, reject) => (dropped = reject));
    // Awaited only in a race with a request.
    closed.catch(() => undefined);
    const drop = () => {
      if (this.socket === socket) {
        this.current = undefined;
        this.socket = undefined;
      }
      dropped(new Error(`the connection dropped${lastError ? ` (${messageOf(lastError)})` : ''}`));
      socket.destroy();
    };
    // After the handshake an error is reported by the requests it fails; the drop makes the next request reconnect.
    client.on('error', (error: unknown) => (lastError = error));
    client.once('close', drop);
    let sftp: SFTPWrapper;
    try {
      sftp = await new Promise<SFTPWrapper>((resolve, reject) => client.sftp((error, opened) => (error ? reject(error) : resolve(opened))));
    } catch (error) {
      client.end();
      throw new WalsyncError('REPLICA_IO', `${this.server}: the server refused an SFTP session: ${messageOf(error)}`, { cause: error });
    }
    sftp.on('error', (error: unknown) => {
      lastError = error;
      drop();
    });
    sftp.once('close', drop);
    return { sftp, guard: (request) => Promise.race([request, closed]) };
  }

  private connectFailure(error: unknown, offeredKey: Buffer | undefined): WalsyncError {
    const level = (error as { level?: string }).level;
    if (level === 'client-authentication') {
      const method = this.settings.keyPath !== undefined ? `the key ${this.settings.keyPath}` : this.settings.password !== undefined ? 'the password' : 'no password or key-path';
      return new WalsyncError('REPLICA_IO', `${this.server}: the server refused to log in ${this.settings.user} with ${method}`, { cause: error });
    }
    const pins = this.settings.hostKeys;
    if (offeredKey && !isPinned(offeredKey, pins)) {
      const offered = `${hostKeyType(offeredKey) ?? 'a key'} ${hostKeyFingerprint(offeredKey)}`;
      if (pins.length === 0) {
        return new WalsyncError(
          'HOST_KEY',
          `${this.server}: the server's host key is not pinned; it offers ${offered}: compare that with ssh-keygen -lf on the server's key, then set host-key: "${formatHostKey(offeredKey)}"`,
          { cause: error },
        );
      }
      return new WalsyncError(
        'HOST_KEY',
        `${this.server}: the server's host key ${offered} is not the pinned one (${pins.map((pin) => pin.fingerprint).join(', ')}); if it was changed on purpose, pin the new key, else something stands between walsync and the server`,
        { cause: error },
      );
    }
    const reason = (error as { code?: unknown }).code ?? messageOf(error);
    return new WalsyncError('REPLICA_IO', `${this.server}: cannot connect to ${this.settings.host}:${this.settings.port}: ${String(reason)}`, { cause: error });
  }
}

function readPrivateKey(keyPath: string): Buffer {
  try {
    return fs.readFileSync(keyPath);
  } catch (error) {
    throw new WalsyncError('USAGE', `${keyPath}: cannot read the SSH key: ${messageOf(error)}`, { cause: error });
  }
}

const connections = new Map<string, SftpConnection>();

/** The connection every replica with these login settings shares. */
export function sharedSftpConnection(settings: ResolvedSftpSettings, server: string): SftpConnection {
  const key = JSON.stringify([settings.host, settings.port, settings.user, settings.password, settings.keyPath, settings.hostKeys.map((pin) => pin.fingerprint)]);
  let connection = connections.get(key);
  if (!connection) connections.set(key, (connection = new SftpConnection(settings, server)));
  return connection;
}
