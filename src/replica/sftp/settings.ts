/**
 * Where an SFTP replica lives and how to log in, from an
 * `sftp://user@host:port/path?key-path=…&host-key-path=…` URL or from the
 * config keys of a `type: sftp` replica (Litestream's `host`, `user`,
 * `password`, `key-path`, `path`, and `host-key` as Litestream 0.5 added
 * it). Secrets are never part of the URL messages name.
 */
import fs from 'node:fs';
import { WalsyncError, messageOf } from '../../errors.js';
import type { PinnedHostKey } from './host-key.js';
import { parseHostKeys } from './host-key.js';

export interface SftpReplicaSettings {
  readonly host: string;
  readonly port?: number;
  readonly user: string;
  /** The replica's directory on the server: absolute, or relative to the login directory. */
  readonly path: string;
  readonly password?: string;
  /** A private key file (OpenSSH or PEM format, unencrypted). */
  readonly keyPath?: string;
  /** The server's public key or its SHA256 fingerprint, one per line. */
  readonly hostKey?: string;
  /** A file of such lines (a `.pub` file, known_hosts lines). */
  readonly hostKeyPath?: string;
}

export interface ResolvedSftpSettings extends SftpReplicaSettings {
  readonly port: number;
  readonly hostKeys: readonly PinnedHostKey[];
}

export const DEFAULT_SFTP_PORT = 22;
const URL_PARAMS = ['key-path', 'host-key', 'host-key-path'];

export function isSftpUrl(text: string): boolean {
  return /^sftp:\/\//i.test(text);
}

export function formatSftpUrl(settings: Pick<SftpReplicaSettings, 'user' | 'host' | 'port' | 'path'>): string {
  const host = settings.host.includes(':') ? `[${settings.host}]` : settings.host;
  const port = settings.port !== undefined && settings.port !== DEFAULT_SFTP_PORT ? `:${settings.port}` : '';
  const remote = settings.path.startsWith('/') ? settings.path : `/~/${settings.path}`;
  return `sftp://${settings.user}@${host}${port}${remote === '/~/' ? '' : remote}`;
}

/** `host` or `host:port` (`[v6]:port`), as Litestream's `host` key takes it. */
export function splitHostPort(text: string): { host: string; port?: number } | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(text);
  if (!match) return undefined;
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  return { host: (match[1] ?? match[2])!, port };
}

export function normalizeRemotePath(text: string): string {
  return text === '/' ? '/' : text.replace(/\/+$/, '');
}

/** Problems with settings, each as `key: what`, for the URL parser and the config reader alike. */
export function checkSftpSettings(settings: SftpReplicaSettings): string[] {
  const problems: string[] = [];
  if (!settings.host) problems.push('host: is missing');
  if (!settings.user) problems.push('user: is missing');
  if (settings.password !== undefined && settings.keyPath !== undefined) problems.push('password, key-path: give one way to log in, not both');
  if (settings.hostKey !== undefined && settings.hostKeyPath !== undefined) problems.push('host-key, host-key-path: give one, not both');
  if (settings.hostKey !== undefined) for (const problem of parseHostKeys(settings.hostKey).problems) problems.push(`host-key: ${problem}`);
  return problems;
}

/** Litestream's URL form; a password in it is refused where the URL shows in process listings (the command line). */
export function parseSftpUrl(text: string, { passwordAllowed }: { passwordAllowed: boolean }): SftpReplicaSettings {
  const fail = (why: string) => new WalsyncError('USAGE', `${text.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@')}: ${why} (use sftp://user@host:port/path?key-path=…&host-key-path=…)`);
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new WalsyncError('USAGE', `${text.replace(/:[^@/]*@/, ':***@')}: not a valid sftp:// URL (use sftp://user@host:port/path)`, { cause: error });
  }
  if (url.password && !passwordAllowed) throw fail('a password here shows in process listings; use $WALSYNC_SFTP_PASSWORD or key-path');
  if (!url.hostname) throw fail('no host');
  if (!url.username) throw fail('no user');
  for (const name of url.searchParams.keys()) {
    if (!URL_PARAMS.includes(name)) throw fail(`unknown parameter ${JSON.stringify(name)} (known: ${URL_PARAMS.join(', ')})`);
  }
  const remote = decodeURIComponent(url.pathname);
  const settings: SftpReplicaSettings = {
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port ? Number(url.port) : undefined,
    user: decodeURIComponent(url.username),
    // `/~/dir` is the login directory's `dir`, as sftp(1) spells it.
    path: normalizeRemotePath(remote.startsWith('/~/') ? remote.slice(3) : remote === '/~' ? '' : remote),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    keyPath: url.searchParams.get('key-path') ?? undefined,
    // As printed (`SHA256:ab+cd…`): a query's `+` is not a space here, as URLSearchParams would have it.
    hostKey: rawQueryValue(url, 'host-key'),
    hostKeyPath: url.searchParams.get('host-key-path') ?? undefined,
  };
  const [problem] = checkSftpSettings(settings);
  if (problem) throw fail(problem);
  return settings;
}

/**
 * Applies the defaults and reads the pinned host keys: the password comes
 * from the settings, else $WALSYNC_SFTP_PASSWORD; a host-key-path that
 * cannot be read or holds no key is a USAGE error naming it.
 */
export function resolveSftpSettings(settings: SftpReplicaSettings, env: NodeJS.ProcessEnv = process.env): ResolvedSftpSettings {
  const password = settings.password ?? (settings.keyPath === undefined ? env.WALSYNC_SFTP_PASSWORD || undefined : undefined);
  let hostKeys: PinnedHostKey[] = [];
  if (settings.hostKey !== undefined) hostKeys = parseHostKeys(settings.hostKey).pins;
  if (settings.hostKeyPath !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(settings.hostKeyPath, 'utf8');
    } catch (error) {
      throw new WalsyncError('USAGE', `${settings.hostKeyPath}: cannot read the host key file: ${messageOf(error)}`, { cause: error });
    }
    const { pins, problems } = parseHostKeys(text);
    if (problems.length > 0) throw new WalsyncError('USAGE', `${settings.hostKeyPath}: ${problems[0]}`);
    hostKeys = pins;
  }
  return { ...settings, port: settings.port ?? DEFAULT_SFTP_PORT, password, hostKeys };
}

/** A query parameter percent-decoded only: `+` stays `+`, which fingerprints and base64 keys hold. */
function rawQueryValue(url: URL, name: string): string | undefined {
  for (const pair of url.search.slice(1).split('&')) {
    const at = pair.indexOf('=');
    const key = at < 0 ? pair : pair.slice(0, at);
    if (decodeURIComponent(key) === name) return at < 0 ? '' : decodeURIComponent(pair.slice(at + 1));
  }
  return undefined;
}
