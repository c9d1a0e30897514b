/**
 * Where an S3-compatible replica lives and how to reach it, from an
 * `s3://bucket/prefix?endpoint=…&region=…&force-path-style=true` URL or from
 * the config keys of a `type: s3` replica. All defaults are applied in
 * resolveS3Settings, in one place.
 */
import { WalsyncError } from '../../errors.js';

export interface S3ReplicaSettings {
  readonly bucket: string;
  /** Key prefix inside the bucket, without leading or trailing slashes ('' = the bucket root). */
  readonly path: string;
  readonly region?: string;
  /** An S3-compatible service (MinIO, B2, R2, …); unset means AWS. */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  readonly accessKeyId?: string;
  readonly secretAccessKey?: string;
  /** Accept a TLS certificate that does not verify (a self-signed endpoint). */
  readonly skipVerify?: boolean;
}

export interface ResolvedS3Settings extends S3ReplicaSettings {
  readonly region: string;
  readonly forcePathStyle: boolean;
  readonly skipVerify: boolean;
  /** Unset: the SDK's default chain (AWS_* variables, profile, instance role). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
}

/** AWS's own default; also what S3-compatible services expect when they ignore regions. */
export const DEFAULT_S3_REGION = 'us-east-1';

const URL_PARAMS = ['endpoint', 'region', 'force-path-style', 'skip-verify'];
const BUCKET_NAME = /^[a-z0-9][a-z0-9.\-_]{0,254}$/i;

export function isS3Url(text: string): boolean {
  return /^s3:\/\//i.test(text);
}

/** The replica as messages name it: never the credentials or the endpoint's query. */
export function formatS3Url(settings: Pick<S3ReplicaSettings, 'bucket' | 'path'>): string {
  return `s3://${settings.bucket}${settings.path ? `/${settings.path}` : ''}`;
}

export function normalizeKeyPrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

/** Problems with settings, each as `key: what`, for the URL parser and the config reader alike. */
export function checkS3Settings(settings: S3ReplicaSettings): string[] {
  const problems: string[] = [];
  if (!BUCKET_NAME.test(settings.bucket)) problems.push(`bucket: ${JSON.stringify(settings.bucket)} is not a bucket name`);
  if (settings.endpoint !== undefined && !isHttpUrl(settings.endpoint)) {
    problems.push(`endpoint: ${JSON.stringify(settings.endpoint)} is not an http:// or https:// URL`);
  }
  if ((settings.accessKeyId === undefined) !== (settings.secretAccessKey === undefined)) {
    problems.push('access-key-id, secret-access-key: give both or neither');
  }
  return problems;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    // Not parseable as a URL at all: the caller reports it.
    return false;
  }
}

export function parseS3Url(text: string): S3ReplicaSettings {
  const fail = (why: string) => new WalsyncError('USAGE', `${text}: ${why} (use s3://bucket/prefix?endpoint=…&region=…&force-path-style=true)`);
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new WalsyncError('USAGE', `${text}: not a valid s3:// URL (use s3://bucket/prefix)`, { cause: error });
  }
  if (url.username || url.password) throw fail('credentials do not belong in the URL; use WALSYNC_ACCESS_KEY_ID/WALSYNC_SECRET_ACCESS_KEY');
  if (!url.hostname) throw fail('no bucket');
  if (url.port) throw fail('a port belongs in ?endpoint=, not after the bucket');
  for (const name of url.searchParams.keys()) {
    if (!URL_PARAMS.includes(name)) throw fail(`unknown parameter ${JSON.stringify(name)} (known: ${URL_PARAMS.join(', ')})`);
  }
  const settings: S3ReplicaSettings = {
    bucket: url.hostname,
    path: normalizeKeyPrefix(decodeURIComponent(url.pathname)),
    region: url.searchParams.get('region') ?? undefined,
    endpoint: url.searchParams.get('endpoint') ?? undefined,
    forcePathStyle: booleanParam(url, 'force-path-style', fail),
    skipVerify: booleanParam(url, 'skip-verify', fail),
  };
  const [problem] = checkS3Settings(settings);
  if (problem) throw fail(problem);
  return settings;
}

function booleanParam(url: URL, name: string, fail: (why: string) => Error): boolean | undefined {
  const value = url.searchParams.get(name);
  if (value === null) return undefined;
  if (value === 'true' || value === '') return true;
  if (value === 'false') return false;
  throw fail(`${name}=${value} is not true or false`);
}

/**
 * Applies the defaults: an endpoint implies path-style addressing and region
 * us-east-1 (what self-hosted stores expect) unless set; credentials come
 * from the settings, else WALSYNC_ACCESS_KEY_ID/WALSYNC_SECRET_ACCESS_KEY,
 * else the SDK's default chain.
 */
export function resolveS3Settings(settings: S3ReplicaSettings, env: NodeJS.ProcessEnv = process.env): ResolvedS3Settings {
  const accessKeyId = settings.accessKeyId ?? env.WALSYNC_ACCESS_KEY_ID;
  const secretAccessKey = settings.secretAccessKey ?? env.WALSYNC_SECRET_ACCESS_KEY;
  return {
    ...settings,
    path: normalizeKeyPrefix(settings.path),
    region: settings.region ?? (settings.endpoint ? DEFAULT_S3_REGION : env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? DEFAULT_S3_REGION),
    forcePathStyle: settings.forcePathStyle ?? settings.endpoint !== undefined,
    skipVerify: settings.skipVerify ?? false,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
  };
}
