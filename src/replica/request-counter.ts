/**
 * Requests a replica made, by the classes object stores bill by, and the
 * bytes sent and received: what `status` and the metrics show, and what the
 * cost tests assert (a sync with nothing new must make none).
 */

export type RequestOperation = 'GET' | 'PUT' | 'LIST' | 'DELETE';

export const REQUEST_OPERATIONS: readonly RequestOperation[] = ['GET', 'PUT', 'LIST', 'DELETE'];

export interface RequestCounts {
  readonly GET: number;
  readonly PUT: number;
  readonly LIST: number;
  readonly DELETE: number;
  readonly uploadedSize: number;
  readonly downloadedSize: number;
}

export class RequestCounter {
  private counts = { GET: 0, PUT: 0, LIST: 0, DELETE: 0, uploadedSize: 0, downloadedSize: 0 };

  add(operation: RequestOperation, bytes: { uploaded?: number; downloaded?: number } = {}): void {
    this.counts[operation]++;
    this.counts.uploadedSize += bytes.uploaded ?? 0;
    this.counts.downloadedSize += bytes.downloaded ?? 0;
  }

  addDownloaded(bytes: number): void {
    this.counts.downloadedSize += bytes;
  }

  snapshot(): RequestCounts {
    return { ...this.counts };
  }
}

export function totalRequestCount(counts: RequestCounts): number {
  return REQUEST_OPERATIONS.reduce((sum, operation) => sum + counts[operation], 0);
}

export function formatRequestCounts(counts: RequestCounts): string {
  return `${REQUEST_OPERATIONS.map((operation) => `${operation}=${counts[operation]}`).join(' ')} up=${counts.uploadedSize}B down=${counts.downloadedSize}B`;
}
