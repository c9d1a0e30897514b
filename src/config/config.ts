/**
 * The configuration file (YAML, keys close to Litestream's). Every default
 * lives in DEFAULTS; validation runs before anything starts and reports every
 * problem at once, each naming the file and the key path.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ConfigError, isNotFound, messageOf } from '../errors.js';
import { defaultMetaDir } from '../layout.js';
import type { LogFormat, LogLevel } from '../log.js';
import type { CheckpointPolicy } from '../shadow/checkpoint.js';
import { DEFAULTS } from './defaults.js';
import type { Raw } from './reader.js';
import { Reader } from './reader.js';
import type { AgeKeys } from '../replica/age/keys.js';
import { isAgeIdentity, isAgeRecipient, readIdentityFile } from '../replica/age/keys.js';
import type { ReplicaLocation } from '../replica/url.js';
import type { S3ReplicaSettings } from '../replica/s3/settings.js';
import { checkS3Settings, formatS3Url, isS3Url, normalizeKeyPrefix, parseS3Url } from '../replica/s3/settings.js';
import type { SftpReplicaSettings } from '../replica/sftp/settings.js';
import { checkSftpSettings, formatSftpUrl, isSftpUrl, normalizeRemotePath, parseSftpUrl, splitHostPort } from '../replica/sftp/settings.js';

export type ReplicaType = 'file' | 's3' | 'sftp';

/** When a job runs: every so long, or on a cron pattern (croner syntax, seconds allowed). */
export type Schedule = { readonly kind: 'interval'; readonly ms: number; readonly text: string } | { readonly kind: 'cron'; readonly pattern: string };

export interface ReplicaConfig {
  readonly type: ReplicaType;
  readonly name: string;
  /** The replica as messages name it: a directory or file:// URL, or `s3://bucket/prefix`. */
  readonly url: string;
  /** Where the replica lives, as `openReplica` takes it. */
  readonly location: ReplicaLocation;
  readonly syncInterval: Schedule;
  readonly snapshotInterval: Schedule;
  readonly retentionMs: number;
  readonly retentionCheckInterval: Schedule;
  /** Undefined: never verified on a schedule. */
  readonly verifyInterval?: Schedule;
  /** Client-side encryption of every object (Litestream 0.3's `age`). */
  readonly age?: AgeKeys;
}

export interface DbConfig {
  readonly path: string;
  readonly metaPath?: string;
  /** Restore a missing database from its first replica that has one before `run --exec` starts the app. */
  readonly restoreIfDbNotExists: boolean;
  readonly busyTimeoutMs: number;
  readonly checkpoint: CheckpointPolicy;
  readonly replicas: readonly ReplicaConfig[];
}

/**
 * A `dir:` entry (Litestream 0.5's keys): every SQLite database under `dir`
 * whose file name matches `pattern` is backed up as `template` says, its
 * replicas' locations extended by its path relative to `dir`.
 */
export interface DirConfig {
  /** Where the entry is in the file, for messages: `dbs[3]`. */
  readonly key: string;
  readonly dir: string;
  readonly pattern: string;
  readonly recursive: boolean;
  /** Pick up databases created under `dir` while running, and let go of those removed. */
  readonly watch: boolean;
  readonly template: Omit<DbConfig, 'path' | 'metaPath' | 'restoreIfDbNotExists'>;
}

export interface Config {
  readonly file: string;
  readonly logging: { readonly level: LogLevel; readonly format: LogFormat };
  readonly addr?: string;
  readonly health: HealthConfig;
  /** The app `walsync run` starts as its child once every database is open (Litestream's -exec). */
  readonly exec?: string;
  readonly dbs: readonly DbConfig[];
  readonly dirs: readonly DirConfig[];
  /** Jobs run at once over every database (`max-concurrent-jobs`). */
  readonly maxConcurrentJobs: number;
  readonly metrics: { readonly perDb: boolean };
  /** Allowed but unwise (a key file others can read), for whoever runs the config to print. */
  readonly warnings: readonly string[];
}

export interface HealthConfig {
  readonly maxLagMs: number;
  readonly heartbeatUrl?: string;
  readonly heartbeatIntervalMs: number;
}


const TOP_KEYS = ['dbs', 'logging', 'addr', 'health', 'heartbeat-url', 'heartbeat-interval', 'exec', 'max-concurrent-jobs', 'metrics'];
const METRICS_KEYS = ['per-db'];
const HEALTH_KEYS = ['max-lag'];
const LOGGING_KEYS = ['level', 'format'];
const DB_KEYS = ['path', 'meta-path', 'busy-timeout', 'checkpoint', 'replicas', 'restore-if-db-not-exists', 'dir', 'pattern', 'recursive', 'watch'];
const DIR_ONLY_KEYS = ['pattern', 'recursive', 'watch'];
const PATH_ONLY_KEYS = ['meta-path', 'restore-if-db-not-exists'];
const CHECKPOINT_KEYS = ['min-pages', 'truncate-pages', 'idle-interval'];
const S3_KEYS = ['bucket', 'region', 'endpoint', 'force-path-style', 'access-key-id', 'secret-access-key', 'skip-verify'];
const SFTP_KEYS = ['host', 'user', 'password', 'key-path', 'host-key', 'host-key-path'];
const AGE_KEYS = ['recipients', 'identities', 'identity-files'];
const REPLICA_KEYS = ['type', 'path', 'url', 'name', 'sync-interval', 'snapshot-interval', 'retention', 'retention-check-interval', 'verify-interval', 'age', ...S3_KEYS, ...SFTP_KEYS];
/** Keys that belong to one replica type: any other type refuses them. */
const TYPE_KEYS: Record<ReplicaType, readonly string[]> = { file: [], s3: S3_KEYS, sftp: SFTP_KEYS };

/** The config file to read: --config, else $WALSYNC_CONFIG, else ./walsync.yml. */
export function configPathFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return path.resolve(flag || env.WALSYNC_CONFIG || 'walsync.yml');
}

/**
 * `unsetVariables: 'kept'` is for commands that only look (status, restore
 * from one of the entries): a `${VAR}` this environment lacks (a secret the
 * daemon's unit sets) stays as written, and is no problem; such a value is
 * found with unresolvedVariables before it is used.
 */
export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, options: { unsetVariables?: 'problem' | 'kept' } = {}): Promise<Config> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError([`${file}: ${isNotFound(error) ? 'no such config file' : messageOf(error)}`]);
  }
  return parseConfig(text, file, env, options);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env, options: { unsetVariables?: 'problem' | 'kept' } = {}): Config {
  const document = parseDocument(text);
  const reader = new Reader(file, env, options.unsetVariables);
  if (document.errors.length > 0) {
    throw new ConfigError(document.errors.map((e) => `${path.basename(file)}: line ${e.linePos?.[0]?.line ?? '?'}: ${e.message.split('\n')[0]}`));
  }
  const top = reader.object(document.toJS(), '', TOP_KEYS) ?? {};
  const logging = readLogging(reader, top.logging);
  const addr = reader.string(top.addr, 'addr');
  const health = readHealth(reader, top);
  const exec = reader.string(top.exec, 'exec');
  if (exec !== undefined && exec.trim() === '') reader.problem('exec', 'is empty');
  const maxConcurrentJobs = reader.positiveInteger(top['max-concurrent-jobs'], 'max-concurrent-jobs', DEFAULTS.maxConcurrentJobs);
  const rawMetrics = reader.object(top.metrics, 'metrics', METRICS_KEYS) ?? {};
  const metrics = { perDb: reader.boolean(rawMetrics['per-db'], 'metrics.per-db') ?? DEFAULTS.metrics.perDb };
  const { dbs, dirs } = readDbs(reader, top.dbs, path.dirname(file));
  checkNothingShared(reader, dbs);
  if (reader.problems.length > 0) throw new ConfigError(reader.problems);
  return { file, logging, addr, health, exec, dbs, dirs, maxConcurrentJobs, metrics, warnings: reader.warnings };
}

/** The `${VAR}`s a value read with `unsetVariables: 'kept'` still holds, as written. */
export function unresolvedVariables(value: unknown): string[] {
  return [...new Set(JSON.stringify(value ?? null).match(/\$\{[A-Za-z_][A-Za-z0-9_]*\}/g) ?? [])];
}

function readHealth(reader: Reader, top: Raw): HealthConfig {
  const raw = reader.object(top.health, 'health', HEALTH_KEYS) ?? {};
  const maxLagMs = reader.duration(raw['max-lag'], 'health.max-lag', DEFAULTS.health.maxLag) ?? 0;
  if (maxLagMs <= 0) reader.problem('health.max-lag', 'must be longer than 0');
  const heartbeatUrl = reader.string(top['heartbeat-url'], 'heartbeat-url');
  if (heartbeatUrl !== undefined && !/^https?:\/\/[^/]/.test(heartbeatUrl)) reader.problem('heartbeat-url', 'is not an http:// or https:// URL');
  const heartbeatIntervalMs = reader.duration(top['heartbeat-interval'], 'heartbeat-interval', DEFAULTS.health.heartbeatInterval) ?? 0;
  if (heartbeatIntervalMs <= 0) reader.problem('heartbeat-interval', 'must be longer than 0');
  return { maxLagMs, heartbeatUrl, heartbeatIntervalMs };
}

/**
 * Two databases in one shadow directory or one replica location would mix
 * their generations (a restore could pick the other database's), and one
 * replica listed twice gets two sync jobs racing each other.
 */
function checkNothingShared(reader: Reader, dbs: readonly DbConfig[]): void {
  const shadowOwners = new Map<string, string>();
  const replicaOwners = new Map<string, string>();
  dbs.forEach((db, i) => {
    if (!db.path) return;
    const shadowDir = db.metaPath ?? defaultMetaDir(db.path);
    const shadowOwner = shadowOwners.get(shadowDir);
    if (shadowOwner) reader.problem(`dbs[${i}].meta-path`, `${shadowDir} is already the shadow directory of ${shadowOwner}; each database needs its own`);
    else shadowOwners.set(shadowDir, `dbs[${i}]`);
    db.replicas.forEach((replica, j) => {
      const where = replicaIdentity(replica);
      if (!where) return;
      const key = `dbs[${i}].replicas[${j}]`;
      const replicaOwner = replicaOwners.get(where);
      if (replicaOwner) reader.problem(key, `${where} is already the replica at ${replicaOwner}; a replica location holds one database, listed once`);
      else replicaOwners.set(where, key);
    });
  });
}

/** A file replica's directory or an S3 or SFTP replica's URL; undefined when its location was already reported as broken. */
function replicaIdentity(replica: ReplicaConfig): string | undefined {
  if (replica.type === 's3') return typeof replica.location !== 'string' && 'bucket' in replica.location && replica.location.bucket ? replica.url : undefined;
  if (replica.type === 'sftp') return typeof replica.location !== 'string' && 'host' in replica.location && replica.location.host ? replica.url : undefined;
  if (!replica.url) return undefined;
  try {
    return replica.url.startsWith('file://') ? fileURLToPath(replica.url) : replica.url;
  } catch {
    return replica.url;
  }
}

function readLogging(reader: Reader, value: unknown): Config['logging'] {
  const raw = reader.object(value, 'logging', LOGGING_KEYS) ?? {};
  const level = reader.string(raw.level, 'logging.level') ?? DEFAULTS.logging.level;
  const format = reader.string(raw.format, 'logging.format') ?? DEFAULTS.logging.format;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) reader.problem('logging.level', `${JSON.stringify(level)} is not one of debug, info, warn, error`);
  if (!['text', 'json'].includes(format)) reader.problem('logging.format', `${JSON.stringify(format)} is not one of text, json`);
  return { level: level as LogLevel, format: format as LogFormat };
}

function readDbs(reader: Reader, value: unknown, baseDir: string): { dbs: DbConfig[]; dirs: DirConfig[] } {
  const dbs: DbConfig[] = [];
  const dirs: DirConfig[] = [];
  if (!Array.isArray(value) || value.length === 0) {
    reader.problem('dbs', 'must list at least one database');
    return { dbs, dirs };
  }
  const seen = new Set<string>();
  value.forEach((item, i) => {
    const key = `dbs[${i}]`;
    const raw = reader.object(item, key, DB_KEYS);
    if (!raw) {
      if (item === undefined || item === null) reader.problem(key, 'is empty');
      return;
    }
    if (raw.dir !== undefined) {
      if (raw.path !== undefined) reader.problem(`${key}.dir`, 'give either path (one database) or dir (every database in a directory), not both');
      for (const name of PATH_ONLY_KEYS) if (raw[name] !== undefined) reader.problem(`${key}.${name}`, 'only applies to an entry with path, not dir');
      const dir = readDirEntry(reader, raw, key, baseDir);
      if (dir && seen.has(dir.dir)) reader.problem(`${key}.dir`, `${dir.dir} is listed twice`);
      if (dir) dirs.push(dir);
      seen.add(dir?.dir ?? '');
      return;
    }
    for (const name of DIR_ONLY_KEYS) if (raw[name] !== undefined) reader.problem(`${key}.${name}`, 'only applies to an entry with dir');
    const dbPath = reader.string(raw.path, `${key}.path`);
    if (!dbPath) reader.problem(`${key}.path`, 'is missing');
    const absolute = dbPath ? path.resolve(baseDir, dbPath) : '';
    if (absolute && seen.has(absolute)) reader.problem(`${key}.path`, `${absolute} is listed twice`);
    seen.add(absolute);
    const metaPath = reader.string(raw['meta-path'], `${key}.meta-path`);
    dbs.push({
      path: absolute,
      metaPath: metaPath ? path.resolve(baseDir, metaPath) : undefined,
      restoreIfDbNotExists: reader.boolean(raw['restore-if-db-not-exists'], `${key}.restore-if-db-not-exists`) ?? false,
      ...readDbSettings(reader, raw, key, baseDir),
    });
  });
  return { dbs, dirs };
}

function readDirEntry(reader: Reader, raw: Raw, key: string, baseDir: string): DirConfig | undefined {
  const dir = reader.string(raw.dir, `${key}.dir`);
  const pattern = reader.string(raw.pattern, `${key}.pattern`);
  if (pattern === undefined) reader.problem(`${key}.pattern`, 'is missing: which file names under dir are databases (e.g. "*.db")');
  else if (pattern.includes('/')) reader.problem(`${key}.pattern`, `${JSON.stringify(pattern)} matches file names, so it cannot hold a /`);
  const recursive = reader.boolean(raw.recursive, `${key}.recursive`) ?? false;
  const watch = reader.boolean(raw.watch, `${key}.watch`) ?? false;
  const template = readDbSettings(reader, raw, key, baseDir);
  if (!dir || pattern === undefined) return undefined;
  return { key, dir: path.resolve(baseDir, dir), pattern, recursive, watch, template };
}

/** What a database entry and a directory entry share. */
function readDbSettings(reader: Reader, raw: Raw, key: string, baseDir: string): DirConfig['template'] {
  const checkpoint = reader.object(raw.checkpoint, `${key}.checkpoint`, CHECKPOINT_KEYS) ?? {};
  return {
    busyTimeoutMs: reader.duration(raw['busy-timeout'], `${key}.busy-timeout`, DEFAULTS.busyTimeout) ?? 0,
    checkpoint: {
      minPageCount: reader.pageCount(checkpoint['min-pages'], `${key}.checkpoint.min-pages`, DEFAULTS.checkpoint.minPages),
      truncatePageCount: reader.pageCount(checkpoint['truncate-pages'], `${key}.checkpoint.truncate-pages`, DEFAULTS.checkpoint.truncatePages),
      idleIntervalMs: reader.duration(checkpoint['idle-interval'], `${key}.checkpoint.idle-interval`, DEFAULTS.checkpoint.idleInterval) ?? 0,
    },
    replicas: readReplicas(reader, raw.replicas, key, baseDir),
  };
}

function readReplicas(reader: Reader, value: unknown, dbKey: string, baseDir: string): ReplicaConfig[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    reader.problem(`${dbKey}.replicas`, 'must be a list');
    return [];
  }
  const names = new Set<string>();
  return value.flatMap((item, i) => {
    const key = `${dbKey}.replicas[${i}]`;
    const raw = reader.object(item, key, REPLICA_KEYS);
    if (!raw) return [];
    const type = readReplicaType(reader, raw, key);
    for (const other of Object.keys(TYPE_KEYS) as ReplicaType[]) {
      if (other === type) continue;
      for (const name of TYPE_KEYS[other]) if (raw[name] !== undefined) reader.problem(`${key}.${name}`, `only applies to type: ${other}`);
    }
    const { url, location } =
      type === 's3' ? readS3Location(reader, raw, key) : type === 'sftp' ? readSftpLocation(reader, raw, key, baseDir) : readFileLocation(reader, raw, key, baseDir);
    const name = reader.string(raw.name, `${key}.name`) ?? type;
    if (names.has(name)) reader.problem(`${key}.name`, `${JSON.stringify(name)} is already the name of another replica of this database`);
    names.add(name);
    return [
      {
        type,
        name,
        url,
        location,
        syncInterval: reader.schedule(raw['sync-interval'], `${key}.sync-interval`, DEFAULTS.replica.syncInterval)!,
        snapshotInterval: reader.schedule(raw['snapshot-interval'], `${key}.snapshot-interval`, DEFAULTS.replica.snapshotInterval)!,
        retentionMs: reader.duration(raw.retention, `${key}.retention`, DEFAULTS.replica.retention) ?? 0,
        retentionCheckInterval: reader.schedule(raw['retention-check-interval'], `${key}.retention-check-interval`, DEFAULTS.replica.retentionCheckInterval)!,
        verifyInterval: reader.schedule(raw['verify-interval'], `${key}.verify-interval`, undefined),
        age: readAge(reader, raw.age, `${key}.age`, baseDir),
      },
    ];
  });
}

/**
 * `age:` as Litestream 0.3 takes it (`recipients`, and `identities` as the
 * key text, usually `${VAR}`), plus `identity-files`. walsync writes, so it
 * needs recipients; identities let it read back (verify, restore). Keys are
 * never echoed in a problem: an identity is a secret.
 */
function readAge(reader: Reader, value: unknown, key: string, baseDir: string): AgeKeys | undefined {
  const raw = reader.object(value, key, AGE_KEYS);
  if (!raw) return undefined;
  const list = (name: string): { text: string; key: string }[] => {
    const items = raw[name];
    if (items === undefined) return [];
    if (!Array.isArray(items)) {
      reader.problem(`${key}.${name}`, 'must be a list');
      return [];
    }
    return items.flatMap((item, i) => {
      const text = reader.string(item, `${key}.${name}[${i}]`);
      return text === undefined ? [] : [{ text: text.trim(), key: `${key}.${name}[${i}]` }];
    });
  };
  const recipients = list('recipients');
  for (const r of recipients) if (!isAgeRecipient(r.text)) reader.problem(r.key, 'is not an age recipient (age1…, as age-keygen prints it)');
  if (recipients.length === 0) reader.problem(`${key}.recipients`, 'is missing: walsync encrypts every object it writes to these (age1…)');
  const identities = list('identities');
  for (const identity of identities) if (!isAgeIdentity(identity.text)) reader.problem(identity.key, 'is not an age identity (AGE-SECRET-KEY-1…)');
  const fromFiles = list('identity-files').flatMap((file) => {
    const filePath = path.resolve(baseDir, file.text);
    try {
      const identities = readIdentityFile(filePath);
      reader.secretFile(file.key, filePath);
      return identities;
    } catch (error) {
      reader.problem(file.key, messageOf(error));
      return [];
    }
  });
  return { recipients: recipients.map((r) => r.text), identities: [...identities.map((identity) => identity.text), ...fromFiles] };
}

/** `type`, else what the URL's scheme or a bucket says (as Litestream infers it), else file. */
function readReplicaType(reader: Reader, raw: Raw, key: string): ReplicaType {
  const type = reader.string(raw.type, `${key}.type`);
  if (type === undefined) {
    if (raw.bucket !== undefined || (typeof raw.url === 'string' && isS3Url(raw.url))) return 's3';
    return typeof raw.url === 'string' && isSftpUrl(raw.url) ? 'sftp' : 'file';
  }
  if (type === 'file' || type === 's3' || type === 'sftp') return type;
  reader.problem(`${key}.type`, `${JSON.stringify(type)} is not a replica type this version has (file, s3, sftp)`);
  return 'file';
}

function readFileLocation(reader: Reader, raw: Raw, key: string, baseDir: string): { url: string; location: string } {
  const given = reader.string(raw.path, `${key}.path`) ?? reader.string(raw.url, `${key}.url`);
  if (!given) reader.problem(`${key}.path`, 'is missing (a directory, or url: file:///dir)');
  if (given && isS3Url(given)) reader.problem(`${key}.type`, `is file, but ${given} is an S3 URL (use type: s3)`);
  if (given && isSftpUrl(given)) reader.problem(`${key}.type`, 'is file, but the url is an sftp:// URL (use type: sftp)');
  const url = given && !given.includes('://') ? path.resolve(baseDir, given) : (given ?? '');
  return { url, location: url };
}

/** An S3 replica from `url: s3://…` or from `bucket` and `path`; the other keys add to either. */
function readS3Location(reader: Reader, raw: Raw, key: string): { url: string; location: S3ReplicaSettings } {
  const url = reader.string(raw.url, `${key}.url`);
  const bucket = reader.string(raw.bucket, `${key}.bucket`);
  let base: S3ReplicaSettings | undefined;
  if (url !== undefined) {
    if (bucket !== undefined || raw.path !== undefined) reader.problem(`${key}.url`, 'give either url or bucket and path, not both');
    try {
      base = parseS3Url(url);
    } catch (error) {
      reader.problem(`${key}.url`, messageOf(error));
    }
  } else if (bucket === undefined) {
    reader.problem(`${key}.bucket`, 'is missing (or url: s3://bucket/prefix)');
  } else {
    base = { bucket, path: normalizeKeyPrefix(reader.string(raw.path, `${key}.path`) ?? '') };
  }
  const settings: S3ReplicaSettings = {
    bucket: base?.bucket ?? '',
    path: base?.path ?? '',
    region: reader.string(raw.region, `${key}.region`) ?? base?.region,
    endpoint: reader.string(raw.endpoint, `${key}.endpoint`) ?? base?.endpoint,
    forcePathStyle: reader.boolean(raw['force-path-style'], `${key}.force-path-style`) ?? base?.forcePathStyle,
    skipVerify: reader.boolean(raw['skip-verify'], `${key}.skip-verify`) ?? base?.skipVerify,
    accessKeyId: reader.string(raw['access-key-id'], `${key}.access-key-id`),
    secretAccessKey: reader.string(raw['secret-access-key'], `${key}.secret-access-key`),
  };
  for (const problem of checkS3Settings(settings)) {
    const [at, what] = [problem.slice(0, problem.indexOf(':')), problem.slice(problem.indexOf(':') + 2)];
    // A missing or unparseable bucket was reported above.
    if (at !== 'bucket' || base) reader.problem(`${key}.${at}`, what);
  }
  return { url: formatS3Url(settings), location: settings };
}

/**
 * An SFTP replica from `url: sftp://user@host:port/path` or from `host`
 * (with an optional `:port`), `user` and `path`, as Litestream takes them;
 * the other keys add to either. Passwords and keys are never echoed.
 */
function readSftpLocation(reader: Reader, raw: Raw, key: string, baseDir: string): { url: string; location: SftpReplicaSettings } {
  const url = reader.string(raw.url, `${key}.url`);
  let base: SftpReplicaSettings | undefined;
  if (url !== undefined) {
    if (raw.host !== undefined || raw.path !== undefined) reader.problem(`${key}.url`, 'give either url or host and path, not both');
    try {
      // The config is not on the command line: a password in its url stays out of process listings.
      base = parseSftpUrl(url, { passwordAllowed: true });
    } catch (error) {
      reader.problem(`${key}.url`, messageOf(error));
    }
  } else {
    const hostText = reader.string(raw.host, `${key}.host`);
    const hostPort = hostText === undefined ? undefined : splitHostPort(hostText);
    if (hostText === undefined) reader.problem(`${key}.host`, 'is missing (host or host:port, or url: sftp://user@host:port/path)');
    else if (!hostPort) reader.problem(`${key}.host`, `${JSON.stringify(hostText)} is not a host or host:port`);
    base = { host: hostPort?.host ?? '', port: hostPort?.port, user: '', path: normalizeRemotePath(reader.string(raw.path, `${key}.path`) ?? '') };
  }
  const localPath = (name: string) => {
    const value = reader.string(raw[name], `${key}.${name}`);
    return value === undefined ? undefined : path.resolve(baseDir, value);
  };
  const settings: SftpReplicaSettings = {
    host: base?.host ?? '',
    port: base?.port,
    user: reader.string(raw.user, `${key}.user`) ?? base?.user ?? '',
    path: base?.path ?? '',
    password: reader.string(raw.password, `${key}.password`) ?? base?.password,
    keyPath: localPath('key-path') ?? (base?.keyPath && path.resolve(baseDir, base.keyPath)),
    hostKey: reader.string(raw['host-key'], `${key}.host-key`) ?? base?.hostKey,
    hostKeyPath: localPath('host-key-path') ?? (base?.hostKeyPath && path.resolve(baseDir, base.hostKeyPath)),
  };
  for (const problem of checkSftpSettings(settings)) {
    const [at, what] = [problem.slice(0, problem.indexOf(':')), problem.slice(problem.indexOf(':') + 2)];
    // A missing or unparseable host was reported above.
    if (at !== 'host') reader.problem(`${key}.${at}`, what);
  }
  if (settings.keyPath !== undefined) reader.secretFile(`${key}.key-path`, settings.keyPath);
  return { url: formatSftpUrl(settings), location: settings };
}
