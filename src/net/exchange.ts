import http from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, RequestOptions } from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import type { LookupFunction } from 'node:net';

import { abortReason, whenAborted } from './deadline.ts';
import { networkError, tooLargeError } from './fetch-error.ts';
import type { LookupAddress } from './safe-fetch.ts';
import type { VettedTarget } from './target.ts';

/** What one hop sends. */
export interface OutgoingRequest {
  method: 'GET' | 'POST';
  headers: OutgoingHttpHeaders;
  body?: Buffer;
}

/** A response whose headers have arrived; `close` destroys its socket and is safe to repeat. */
export interface Exchange {
  response: IncomingMessage;
  close(): void;
}

/**
 * Sends one request to the vetted address and waits for the response headers. The socket is
 * never reused (`agent: false`) and is destroyed on every failure; on success the caller owns it
 * through `close`. Rejects with `NETWORK` or the deadline's reason.
 */
export function openExchange(
  target: VettedTarget,
  request: OutgoingRequest,
  signal: AbortSignal,
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const send = target.url.protocol === 'https:' ? https.request : http.request;
    const req = send(requestOptions(target, request));
    const close = (): void => {
      req.destroy();
    };

    const stopWatching = whenAborted(signal, () => {
      close();
      reject(abortReason(signal));
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
      if (!responded) {
        stopWatching();
        close();
        reject(
          signal.aborted
            ? abortReason(signal)
            : networkError(error, target.url, target.address.address),
        );
      }
    });

    req.end(request.body);
  });
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

function requestOptions(target: VettedTarget, request: OutgoingRequest): RequestOptions {
  const { url, hostname, port, address } = target;
  const isLiteral = isIP(hostname) !== 0;
  const headers = { ...request.headers };
  if (request.body !== undefined) {
    headers['content-length'] = request.body.length;
  }

  return {
    method: request.method,
    hostname,
    port,
    path: `${url.pathname}${url.search}`,
    headers,
    agent: false,
    lookup: pinnedLookup(address),
    // SNI carries the name the user gave (never an IP, never a trailing dot), as Host does.
    ...(url.protocol === 'https:' && !isLiteral ? { servername: hostname.replace(/\.$/, '') } : {}),
  };
}

/**
 * A resolver that answers with the already vetted address only, so the socket connects to what
 * was checked and no second DNS answer can swap in another address.
 */
function pinnedLookup(target: LookupAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all === true) {
      callback(null, [{ address: target.address, family: target.family }]);
      return;
    }

    callback(null, target.address, target.family);
  };
}
