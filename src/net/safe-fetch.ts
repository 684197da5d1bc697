import type { OutgoingHttpHeaders } from 'node:http';

import type { ConnectionPool } from './connection-pool.ts';
import { startDeadline } from './deadline.ts';
import { openExchange, readBody } from './exchange.ts';
import type { Exchange, OutgoingRequest } from './exchange.ts';
import { FetchError, describeUrl } from './fetch-error.ts';
import { parseUrl, vetTarget } from './target.ts';

export { FetchError } from './fetch-error.ts';
export type { FetchErrorCode } from './fetch-error.ts';

/** One answer of a name lookup. */
export type LookupAddress = { address: string; family: 4 | 6 };

/** Resolves a hostname to every address it has. */
export type Lookup = (hostname: string) => Promise<LookupAddress[]>;

/** Limits and switches of one `safeFetch` call. */
export interface SafeFetchOptions {
  /** @defaultValue `'GET'` */
  method?: 'GET' | 'POST';
  /** Request headers; Host, Content-Length, Connection and Transfer-Encoding are set by us. */
  headers?: Record<string, string>;
  /** Request body, sent with a Content-Length header. */
  body?: Buffer;
  /** Largest response body accepted, in bytes; more gives `TOO_LARGE`. */
  maxBytes: number;
  /**
   * Instead of failing with `TOO_LARGE`, keep the first `maxBytes` of a longer body and read the
   * rest to its end without keeping it (for callers that only need the status).
   * @defaultValue false
   */
  truncateBody?: boolean;
  /** Deadline for the whole call in milliseconds: DNS, connect, headers and the full body. */
  timeoutMs: number;
  /** Redirects followed at most; 0 returns a 3xx as the response instead of following it. */
  maxRedirects: number;
  /** Skip the address policy so loopback and private addresses are reachable (tests, demos). */
  allowPrivateNetwork: boolean;
  /** Ports a URL may use; `null` or absent allows any port. */
  allowedPorts?: readonly number[] | null;
  /** Name resolver. @defaultValue `dns.promises.lookup(host, { all: true, verbatim: true })` */
  lookup?: Lookup;
  /**
   * Replaces the address policy (`classifyAddress(ip) === null`) when `allowPrivateNetwork` is
   * false. Meant for tests that must let one loopback fixture through and nothing else.
   */
  isAllowedAddress?: (ip: string) => boolean;
  /** Cancels the call; it then rejects with `ABORTED`. */
  signal?: AbortSignal;
  /**
   * Keep-alive connections to send on and give back to. Absent, every hop opens a connection of
   * its own and closes it.
   */
  connections?: ConnectionPool;
}

/** A response read in full. */
export interface SafeResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** The URL that answered, after redirects. */
  url: string;
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
const MANAGED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'connection',
  'transfer-encoding',
]);
const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'proxy-authorization',
]);

/**
 * Fetches url within limits. Resolves with any HTTP status (the caller decides what a 404
 * means); rejects with FetchError on policy or transport failures.
 *
 * Every hop is checked before it is sent: only http and https, an allowed port, and, unless
 * `allowPrivateNetwork`, no address that `classifyAddress` refuses. The socket connects to the
 * address that was checked, and Host and TLS SNI keep the original name. Redirects are followed
 * by hand (301, 302 and 303 turn a POST into a GET; credentials are dropped across origins).
 * Nothing is left open once the promise settles, except, with `connections`, a connection
 * whose response was read to its end: it waits idle in that pool for the same address.
 *
 * @throws FetchError with code `INVALID_URL`, `BLOCKED_SCHEME`, `BLOCKED_PORT`,
 * `BLOCKED_ADDRESS`, `TOO_MANY_REDIRECTS`, `TOO_LARGE`, `TIMEOUT`, `NETWORK` or `ABORTED`
 */
export async function safeFetch(url: string, options: SafeFetchOptions): Promise<SafeResponse> {
  const start = parseUrl(url);
  const deadline = startDeadline(options.timeoutMs, options.signal);

  try {
    return await followHops(start, options, deadline.signal);
  } finally {
    deadline.dispose();
  }
}

async function followHops(
  start: URL,
  options: SafeFetchOptions,
  signal: AbortSignal,
): Promise<SafeResponse> {
  let url = start;
  let request: OutgoingRequest = {
    method: options.method ?? 'GET',
    headers: requestHeaders(options.headers),
    body: options.body,
  };

  for (let redirects = 0; ; redirects += 1) {
    const target = await vetTarget(url, options, signal);
    const exchange = await openExchange(target, request, signal, options.connections);

    try {
      const location = redirectLocation(exchange, options.maxRedirects);
      if (location === undefined) {
        return await finish(exchange, url, options, signal);
      }

      if (redirects >= options.maxRedirects) {
        throw tooManyRedirectsError(options.maxRedirects, url);
      }

      const next = parseUrl(location, url);
      request = redirectedRequest(request, exchange.response.statusCode ?? 0, url, next);
      url = next;
    } finally {
      exchange.close();
    }
  }
}

async function finish(
  exchange: Exchange,
  url: URL,
  options: SafeFetchOptions,
  signal: AbortSignal,
): Promise<SafeResponse> {
  const body = await readBody(exchange, options.maxBytes, signal, url, options.truncateBody);
  const { statusCode, headers } = exchange.response;
  return { status: statusCode ?? 0, headers, body, url: url.href };
}

function tooManyRedirectsError(maxRedirects: number, url: URL): FetchError {
  const times = maxRedirects === 1 ? 'once' : `${maxRedirects} times`;
  const message = `The server redirected more than ${times} (last at ${describeUrl(url)})`;
  return new FetchError('TOO_MANY_REDIRECTS', message);
}

/** The Location to follow, or undefined when this response is the final one. */
function redirectLocation(exchange: Exchange, maxRedirects: number): string | undefined {
  const { statusCode, headers } = exchange.response;
  if (maxRedirects === 0 || !REDIRECT_STATUSES.has(statusCode ?? 0)) {
    return undefined;
  }

  return headers.location;
}

function redirectedRequest(
  request: OutgoingRequest,
  status: number,
  from: URL,
  to: URL,
): OutgoingRequest {
  const crossOrigin = from.origin !== to.origin;
  const becomesGet = request.method === 'POST' && status !== 307 && status !== 308;
  const headers = Object.fromEntries(
    Object.entries(request.headers).filter(
      ([name]) =>
        !(crossOrigin && CREDENTIAL_HEADERS.has(name)) && !(becomesGet && name === 'content-type'),
    ),
  );

  return becomesGet ? { method: 'GET', headers } : { ...request, headers };
}

function requestHeaders(headers: Record<string, string> = {}): OutgoingHttpHeaders {
  const result: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!MANAGED_HEADERS.has(name.toLowerCase())) {
      result[name.toLowerCase()] = value;
    }
  }

  return result;
}
