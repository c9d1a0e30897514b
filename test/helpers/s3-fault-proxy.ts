/**
 * A flaky object store: an HTTP proxy between walsync and the local S3
 * server that, on a schedule, answers 500 or 503 SlowDown, resets the
 * connection half-way through a body, answers late, cuts a GET body short,
 * or says 200 to a PUT whose body it threw away. Everything else passes
 * through unchanged (signatures stay valid: the Host header is kept).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export type ProxyFault = 'status-500' | 'slow-down-503' | 'reset-mid-body' | 'late-30s' | 'truncated-get' | 'lost-put';

export interface FaultProxy {
  readonly endpoint: string;
  /** Faults injected so far, by kind. */
  readonly injected: Map<ProxyFault, number>;
  /** From now on, every `every`-th request of `methods` gets `fault` (`every` 0: none). */
  schedule(fault: ProxyFault | undefined, every?: number, methods?: readonly string[]): void;
  close(): Promise<void>;
}

const S3_ERRORS: Record<'status-500' | 'slow-down-503', { status: number; code: string; message: string }> = {
  'status-500': { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.' },
  'slow-down-503': { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.' },
};

export async function startFaultProxy(upstream: string, onCleanup: (close: () => Promise<void>) => void): Promise<FaultProxy> {
  const target = new URL(upstream);
  const injected = new Map<ProxyFault, number>();
  let fault: ProxyFault | undefined;
  let every = 0;
  let methods: readonly string[] = [];
  let seen = 0;

  const server = http.createServer((request, response) => {
    // A request the proxy cannot forward (the store is down) is a cut connection to walsync.
    void handle(request, response).catch(() => request.socket.destroy());
  });

  async function handle(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    const chosen = fault && methods.includes(request.method ?? '') && every > 0 && ++seen % every === 0 ? fault : undefined;
    if (chosen) injected.set(chosen, (injected.get(chosen) ?? 0) + 1);
    if (chosen === 'status-500' || chosen === 'slow-down-503') {
      await drain(request);
      const { status, code, message } = S3_ERRORS[chosen];
      response.writeHead(status, { 'content-type': 'application/xml' });
      response.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`);
      return;
    }
    if (chosen === 'reset-mid-body' && request.method !== 'GET') {
      // Half-way through the upload: take the first chunk, then cut the connection.
      await new Promise((resolve) => request.once('data', resolve).once('end', resolve));
      request.socket.destroy();
      return;
    }
    if (chosen === 'lost-put') {
      const body = await drain(request);
      response.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"`, 'content-length': '0' });
      response.end();
      return;
    }
    if (chosen === 'late-30s') await sleep(30_000);
    const cutBody = chosen === 'truncated-get' || (chosen === 'reset-mid-body' && request.method === 'GET');
    await forward(request, response, cutBody);
  }

  function forward(request: http.IncomingMessage, response: http.ServerResponse, cutBody: boolean): Promise<void> {
    return new Promise((resolve, reject) => {
      const outgoing = http.request(
        { host: target.hostname, port: target.port, method: request.method, path: request.url, headers: request.headers },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          if (!cutBody) {
            answer.pipe(response);
            answer.on('end', resolve);
            return;
          }
          // The full Content-Length was promised; send about half, then close the connection.
          const length = Number(answer.headers['content-length'] ?? 0);
          let sent = 0;
          answer.on('data', (chunk: Buffer) => {
            if (sent >= length / 2) return;
            const part = chunk.subarray(0, Math.max(1, Math.floor(length / 2) - sent));
            sent += part.byteLength;
            response.write(part);
            if (sent >= length / 2) {
              response.socket?.destroy();
              answer.destroy();
              resolve();
            }
          });
          answer.on('end', () => {
            response.socket?.destroy();
            resolve();
          });
        },
      );
      outgoing.on('error', reject);
      request.pipe(outgoing);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  onCleanup(close);
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    injected,
    schedule(next, nextEvery = 3, nextMethods = ['PUT', 'GET', 'POST', 'DELETE', 'HEAD']) {
      fault = next;
      every = next ? nextEvery : 0;
      methods = nextMethods;
      seen = 0;
    },
    close,
  };
}

function drain(request: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('error', reject);
  });
}
