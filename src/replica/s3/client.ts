/**
 * The AWS SDK client an S3 replica talks through, set up for S3-compatible
 * stores: checksums only where an operation requires one (recent SDKs add
 * checksum trailers by default, which B2 and R2 reject), Content-MD5 on
 * DeleteObjects (stores that predate S3's CRC checksums require it),
 * jittered retries of network errors, timeouts, 5xx and throttling, and a
 * count of every request actually sent (retries included).
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import type { RequestCounter, RequestOperation } from '../request-counter.js';
import type { ResolvedS3Settings } from './settings.js';

/** Attempts per request; the SDK backs off exponentially with full jitter (base 100 ms) between them. */
export const S3_MAX_ATTEMPTS = 5;
const CONNECTION_TIMEOUT_MS = 5_000;
/** Socket idle time after which a request counts as timed out (and is retried). */
const REQUEST_TIMEOUT_MS = 60_000;

const OPERATION_OF_COMMAND: Record<string, RequestOperation> = {
  GetObjectCommand: 'GET',
  HeadObjectCommand: 'GET',
  HeadBucketCommand: 'GET',
  PutObjectCommand: 'PUT',
  CreateMultipartUploadCommand: 'PUT',
  UploadPartCommand: 'PUT',
  CompleteMultipartUploadCommand: 'PUT',
  ListObjectsV2Command: 'LIST',
  ListMultipartUploadsCommand: 'LIST',
  DeleteObjectCommand: 'DELETE',
  DeleteObjectsCommand: 'DELETE',
  AbortMultipartUploadCommand: 'DELETE',
};

interface RawHttpMessage {
  headers: Record<string, string | undefined>;
  body?: unknown;
}

export function createS3Client(settings: ResolvedS3Settings, counter: RequestCounter): S3Client {
  const client = new S3Client({
    region: settings.region,
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    credentials: settings.credentials,
    maxAttempts: S3_MAX_ATTEMPTS,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      httpsAgent: settings.skipVerify ? new https.Agent({ rejectUnauthorized: false, keepAlive: true }) : undefined,
    },
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'DeleteObjectsCommand') addContentMd5(args.request as RawHttpMessage);
      return next(args);
    },
    { step: 'build', name: 'walsyncDeleteObjectsMd5' },
  );
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = OPERATION_OF_COMMAND[context.commandName ?? ''] ?? 'GET';
      const uploaded = Number((args.request as RawHttpMessage).headers['content-length'] ?? 0) || 0;
      try {
        const result = await next(args);
        // A HEAD's Content-Length is the object's size, not bytes received.
        const hasBody = operation === 'GET' && !context.commandName?.startsWith('Head');
        const downloaded = hasBody ? Number((result.response as RawHttpMessage).headers['content-length'] ?? 0) || 0 : 0;
        counter.add(operation, { uploaded, downloaded });
        return result;
      } catch (error) {
        counter.add(operation, { uploaded });
        throw error;
      }
    },
    // Below the retry middleware (priority high in the same step), so every attempt is counted.
    { step: 'finalizeRequest', priority: 'low', name: 'walsyncRequestCounter' },
  );
  return client;
}

function addContentMd5(request: RawHttpMessage): void {
  if (typeof request.body !== 'string' && !(request.body instanceof Uint8Array)) return;
  request.headers['content-md5'] = createHash('md5').update(request.body).digest('base64');
}
