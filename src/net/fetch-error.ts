import type { AddressRefusal } from './address-policy.ts';

/** Why a fetch failed; part of the public contract (stored as an image's error code). */
export type FetchErrorCode =
  | 'INVALID_URL'
  | 'BLOCKED_SCHEME'
  | 'BLOCKED_ADDRESS'
  | 'BLOCKED_PORT'
  | 'TOO_MANY_REDIRECTS'
  | 'TOO_LARGE'
  | 'TIMEOUT'
  | 'NETWORK'
  | 'ABORTED';

const RETRYABLE: ReadonlySet<FetchErrorCode> = new Set(['TIMEOUT', 'NETWORK']);

/**
 * A policy or transport failure of `safeFetch`. The message is written for the person who
 * supplied the URL and never contains a query string, nor an address a name resolved to;
 * `retryable` says whether trying the same URL again later can help (true only for `TIMEOUT`
 * and `NETWORK`).
 */
export class FetchError extends Error {
  readonly code: FetchErrorCode;
  readonly retryable: boolean;
  /**
   * A `NETWORK` failure of a kept-alive connection before any response byte: the server most
   * likely closed it while idle. Trying again at once on a new connection is likely to succeed.
   */
  readonly staleConnection: boolean;
  /**
   * The address that was refused or could not be reached, for the server's log only: shown to
   * whoever typed the URL, it would map the internal network one name at a time.
   */
  readonly address: string | undefined;

  constructor(
    code: FetchErrorCode,
    message: string,
    options?: { cause?: unknown; staleConnection?: boolean; address?: string },
  ) {
    const { staleConnection = false, address, ...errorOptions } = options ?? {};
    super(message, errorOptions);
    this.name = 'FetchError';
    this.code = code;
    this.retryable = RETRYABLE.has(code);
    this.staleConnection = staleConnection;
    this.address = address;
  }
}

const REFUSAL_PHRASES: Readonly<Record<AddressRefusal, string>> = {
  loopback: 'a loopback address',
  private: 'a private network address',
  'link-local': 'a link-local address',
  'carrier-grade-nat': 'a carrier-grade NAT address',
  multicast: 'a multicast address',
  unspecified: 'an unspecified address',
  reserved: 'a reserved address',
  'unique-local': 'a private network address',
  'site-local': 'a private network address',
  metadata: 'a cloud metadata service address',
  broadcast: 'a broadcast address',
  invalid: 'an invalid address',
};

/** The URL as safe to show: origin and path, never the query string or fragment. */
export function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** A byte count in words, e.g. `20 MB`, `512 KB`, `900 bytes` (binary units). */
export function formatBytes(bytes: number): string {
  const units: readonly [number, string][] = [
    [1024 * 1024 * 1024, 'GB'],
    [1024 * 1024, 'MB'],
    [1024, 'KB'],
  ];
  const unit = units.find(([size]) => bytes >= size);
  return unit === undefined ? `${bytes} bytes` : `${round(bytes / unit[0])} ${unit[1]}`;
}

/** A duration in words, e.g. `10 seconds`, `300 milliseconds`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) {
    return `${ms} milliseconds`;
  }

  const seconds = round(ms / 1000);
  return seconds === 1 ? '1 second' : `${seconds} seconds`;
}

/**
 * Refusal of an address that is not a public unicast address. The message names the kind of
 * address, and the address itself only when the user typed it as the host: what a name resolves
 * to stays in `address`, for the log.
 */
export function blockedAddressError(
  hostname: string,
  address: string,
  refusal: AddressRefusal | null,
): FetchError {
  const what = refusal === null ? 'an address that is not allowed' : REFUSAL_PHRASES[refusal];
  const subject =
    hostname === address ? `The address ${address} is` : `The host ${hostname} resolves to`;
  return new FetchError('BLOCKED_ADDRESS', `${subject} ${what}, which is not allowed`, {
    address,
  });
}

/** Refusal of a body larger than the cap, by its declared or received size. */
export function tooLargeError(maxBytes: number): FetchError {
  return new FetchError('TOO_LARGE', `The file is larger than the ${formatBytes(maxBytes)} limit`);
}

/** The deadline for the whole fetch, DNS to last body byte, has passed. */
export function timeoutError(timeoutMs: number): FetchError {
  return new FetchError('TIMEOUT', `The server did not answer within ${formatDuration(timeoutMs)}`);
}

/** The caller cancelled the fetch. */
export function abortedError(): FetchError {
  return new FetchError('ABORTED', 'The download was cancelled');
}

/**
 * A transport failure (refused, reset, DNS, TLS) turned into a plain-English `NETWORK` error.
 * Only the system's error code is repeated, never its message, which names the address
 * connected to.
 */
export function networkError(
  error: unknown,
  url: URL,
  options: { staleConnection?: boolean; address?: string } = {},
): FetchError {
  const code = errorCode(error);
  const where = describeUrl(url);
  const messages: Readonly<Record<string, string>> = {
    ECONNREFUSED: `The server at ${where} refused the connection`,
    ECONNRESET: `The server at ${where} closed the connection unexpectedly`,
    EPIPE: `The server at ${where} closed the connection unexpectedly`,
    ENOTFOUND: `The host ${url.hostname} could not be found`,
    EAI_AGAIN: `The host ${url.hostname} could not be looked up right now`,
    EHOSTUNREACH: `The server at ${where} cannot be reached`,
    ENETUNREACH: `The server at ${where} cannot be reached`,
  };
  const message = messages[code] ?? `Could not connect to ${where} (${code})`;
  return new FetchError('NETWORK', message, { cause: error, ...options });
}

function errorCode(error: unknown): string {
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') {
    return error.code;
  }

  return 'unknown error';
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
