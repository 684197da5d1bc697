import http from 'node:http';
import type {
  ClientRequest,
  IncomingMessage,
  OutgoingHttpHeaders,
  RequestOptions,
} from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';

import type { ConnectionPool } from './connection-pool.ts';
import { abortReason, whenAborted } from './deadline.ts';
import { networkError, tooLargeError } from './fetch-error.ts';
import type { VettedTarget } from './target.ts';

/** What one hop sends. */
export interface OutgoingRequest {
  method: 'GET' | 'POST';
  headers: OutgoingHttpHeaders;
  body?: Buffer;
}

/**
 * A response whose headers have arrived. `close` destroys its connection unless the body was
 * read to its end (the connection is then back in the pool) and is safe to repeat.
 */
export interface Exchange {
  response: IncomingMessage;
  close(): void;
}

/**
 * Sends one request to the vetted address and waits for the response headers. Without a pool
 * the connection is the request's own (`agent: false`); with one, an idle connection to the same
 * address, port and TLS name may carry it.
 *
 * The connection is destroyed on every failure; on success the caller owns it through `close`,
 * which is a no-op once the body was read to its end and the connection went back to the pool.
 * Rejects with `NETWORK` (with `staleConnection` when a reused connection failed before any
 * response byte) or the deadline's reason.
 */
export function openExchange(
  target: VettedTarget,
  request: OutgoingRequest,
  signal: AbortSignal,
  pool?: ConnectionPool,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const send = target.url.protocol === 'https:' ? https.request : http.request;
    const agent = pool?.agentFor(target.url.protocol) ?? false;
    const req = send({ ...requestOptions(target, request), agent });
    const close = (): void => {
      req.destroy();
    };

    const stopWatching = whenAborted(signal, () => {
      close();
      reject(abortReason(signal));
    });
    let bytesBefore = 0;
    req.once('socket', (socket) => {
      bytesBefore = socket.bytesRead;
    });
    let responded = false;
    req.once('response', (response) => {
      responded = true;
      stopWatching();
      resolve({ response, close });
    });
    // Stays attached for the socket's life. Once headers are in, the body reader owns failures:
    // a parse error then means bytes past a declared Content-Length, which are never read, and
    // destroying here would discard a body that already arrived in full.
    req.on('error', (error) => {
      if (responded) {
        return;
      }

      stopWatching();
      close();
      if (signal.aborted) {
        reject(abortReason(signal));
      } else {
        const staleConnection = isStale(req, error, bytesBefore);
        reject(
          networkError(error, target.url, { staleConnection, address: target.address.address }),
        );
      }
    });

    req.end(request.body);
  });
}

/**
 * Whether a reused connection broke before a byte of the response came back: most likely the
 * server closed it while idle just as the request went out, and the request never reached it.
 * (A server that drops the request on purpose looks the same from here.)
 */
function isStale(req: ClientRequest, error: Error, bytesBefore: number): boolean {
  const code = 'code' in error ? error.code : undefined;
  const silent = (req.socket?.bytesRead ?? bytesBefore) === bytesBefore;
  return req.reusedSocket && silent && (code === 'ECONNRESET' || code === 'EPIPE');
}

/**
 * Reads the whole body, at most `maxBytes` of it. A declared Content-Length above the cap is
 * refused before a byte is read; otherwise the read stops as soon as the received bytes pass the
 * cap, so at most one chunk beyond it is ever held. Rejects with `TOO_LARGE`, `NETWORK` (the
 * connection broke mid-body) or the deadline's reason; the caller still closes the exchange.
 */
export function readBody(
  exchange: Exchange,
  maxBytes: number,
  signal: AbortSignal,
  url: URL,
  truncate = false,
): Promise<Buffer> {
  const { response } = exchange;
  const declared = Number(response.headers['content-length'] ?? Number.NaN);
  if (declared > maxBytes && !truncate) {
    return Promise.reject(tooLargeError(maxBytes));
  }

  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    let settled = false;

    const fail = (error: Error): void => {
      if (!settled) {
        settled = true;
        stopWatching();
        exchange.close();
        reject(error);
      }
    };
    const stopWatching = whenAborted(signal, () => {
      fail(abortReason(signal));
    });

    response.on('data', (chunk: Buffer) => {
      if (settled) {
        return;
      }

      if (received + chunk.length > maxBytes) {
        if (!truncate) {
          fail(tooLargeError(maxBytes));
          return;
        }
        // Read on to the end (within the deadline) but keep nothing past the cap.
        chunk = chunk.subarray(0, Math.max(0, maxBytes - received));
      }
      received += chunk.length;
      chunks.push(chunk);
    });
    response.once('end', () => {
      if (!settled) {
        settled = true;
        stopWatching();
        resolve(Buffer.concat(chunks, received));
      }
    });
    response.once('error', (error) => {
      fail(signal.aborted ? abortReason(signal) : networkError(error, url));
    });
    response.once('close', () => {
      if (!response.complete) {
        fail(networkError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }), url));
      }
    });
  });
}

/**
 * Connects to the vetted IP address itself, so no name is resolved again and the pool's key is
 * that address; Host and TLS SNI carry the name the user gave (SNI never an IP, never with a
 * trailing dot), and the certificate is checked against that name.
 */
function requestOptions(target: VettedTarget, request: OutgoingRequest): RequestOptions {
  const { url, hostname, port, address } = target;
  const isLiteral = isIP(hostname) !== 0;
  const headers = { ...request.headers, host: url.host };
  if (request.body !== undefined) {
    headers['content-length'] = request.body.length;
  }

  return {
    method: request.method,
    host: address.address,
    family: address.family,
    port,
    path: `${url.pathname}${url.search}`,
    headers,
    ...(url.protocol === 'https:' && !isLiteral ? { servername: hostname.replace(/\.$/, '') } : {}),
  };
}
