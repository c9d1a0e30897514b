/**
 * SDK failures as one line naming the object and what S3 said: the S3 error
 * code (NoSuchBucket, InvalidAccessKeyId, SlowDown …) or the network error
 * (ECONNREFUSED, ENOTFOUND, a timeout), never the SDK's stack.
 */
import { WalsyncError, messageOf, systemErrorCode } from '../../errors.js';

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: unknown;
}

function asSdkError(error: unknown): SdkError {
  return typeof error === 'object' && error !== null ? (error as SdkError) : {};
}

export function isS3NotFound(error: unknown): boolean {
  const { name, $metadata } = asSdkError(error);
  return name === 'NoSuchKey' || (name === 'NotFound' && $metadata?.httpStatusCode === 404);
}

/** What went wrong, in a few words: `NoSuchBucket: The specified bucket does not exist`, `ECONNREFUSED`. */
export function describeS3Error(error: unknown): string {
  const sdk = asSdkError(error);
  const networkCode = systemErrorCode(error) ?? systemErrorCode((error as { cause?: unknown })?.cause);
  if (networkCode && !sdk.$metadata?.httpStatusCode) return `${networkCode} (${firstLine(messageOf(error))})`;
  const status = sdk.$metadata?.httpStatusCode;
  if (sdk.name && status) {
    const message = firstLine(sdk.message ?? '');
    // The SDK names unparseable error bodies "Unknown" with message "UnknownError": the HTTP status says more.
    if (sdk.name === 'Unknown' || message === 'UnknownError' || message === '') return `${sdk.name === 'Unknown' ? 'HTTP' : sdk.name} ${status}`;
    return `${sdk.name}: ${message} (HTTP ${status})`;
  }
  if (sdk.name === 'TimeoutError') return `timed out (${firstLine(messageOf(error))})`;
  return firstLine(messageOf(error));
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

export function s3Failure(objectName: string, error: unknown): WalsyncError {
  if (error instanceof WalsyncError) return error;
  if (isS3NotFound(error)) return new WalsyncError('REPLICA_NOT_FOUND', `${objectName}: no such object`, { cause: error });
  return new WalsyncError('REPLICA_IO', `${objectName}: ${describeS3Error(error)}`, { cause: error });
}
