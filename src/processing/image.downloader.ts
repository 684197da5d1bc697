import { setTimeout as sleep } from 'node:timers/promises';

import { ConnectionPool } from '../net/connection-pool.ts';
import type { Lookup } from '../net/safe-fetch.ts';
import { FetchError, safeFetch } from '../net/safe-fetch.ts';

/** What a DownloadError may carry besides its message. */
export interface DownloadErrorDetails {
  retryAfterMs?: number | undefined;
  staleConnection?: boolean;
  address?: string | undefined;
}

/**
 * An image that could not be downloaded. `message` is written for the catalogue manager who
 * listed the URL; `retryable` says whether another try later may succeed.
 */
export class DownloadError extends Error {
  /** How long the server asked us to wait before the next try (`Retry-After`). */
  readonly retryAfterMs: number | undefined;
  /** The next try should be made at once, on a new connection. */
  readonly staleConnection: boolean;
  /** The address refused or unreachable, for the log only (see `FetchError.address`). */
  readonly address: string | undefined;

  constructor(
    message: string,
    readonly retryable: boolean,
    details: DownloadErrorDetails = {},
  ) {
    super(message);
    this.name = 'DownloadError';
    this.retryAfterMs = details.retryAfterMs;
    this.staleConnection = details.staleConnection ?? false;
    this.address = details.address;
  }
}

export interface DownloaderOptions {
  /** Largest image accepted, in bytes. */
  maxBytes: number;
  /** Deadline of one try in milliseconds, from DNS to the last byte. */
  timeoutMs: number;
  maxRedirects: number;
  allowPrivateNetwork: boolean;
  /**
   * Tries per image, counting the first, for failures that may pass: time-outs, broken
   * connections, HTTP 5xx and 429. Every other failure is final at once.
   * @defaultValue 3
   */
  attempts?: number;
  /**
   * Pause before the second try in milliseconds, doubled before each further one. A
   * `Retry-After` header (seconds or an HTTP date) replaces it, up to 30 s.
   * @defaultValue 500
   */
  backoffMs?: number;
  lookup?: Lookup;
}

/** Downloads images, reusing connections to the same server from one download to the next. */
export interface Downloader {
  /**
   * Downloads one image.
   * @throws DownloadError once the image cannot be had
   */
  download(url: string): Promise<Buffer>;
  /** Closes the kept connections; call on shutdown, once no download runs any more. */
  close(): void;
}

/** The longest pause a `Retry-After` header may impose; a longer one is cut to this. */
const MAX_RETRY_AFTER_MS = 30_000;

/** A `Retry-After` value (delay-seconds or an HTTP date) in milliseconds, within bounds. */
export function retryAfterMs(
  header: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || value === '') return undefined;

  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), MAX_RETRY_AFTER_MS);
}

/** Turns an answer that is not a 2xx into a DownloadError. */
function statusError(status: number, retryAfter: string | string[] | undefined): DownloadError {
  const after = retryAfterMs(retryAfter);
  if (status === 404 || status === 410) {
    return new DownloadError(`The image was not found at its URL (HTTP ${status})`, false);
  }
  if (status === 401 || status === 403) {
    return new DownloadError(
      `The image server refused access to the image (HTTP ${status}); check that the URL is public`,
      false,
    );
  }
  if (status === 429) {
    return new DownloadError('The image server asked us to slow down (HTTP 429)', true, {
      retryAfterMs: after,
    });
  }
  if (status >= 500) {
    return new DownloadError(`The image server had an error (HTTP ${status})`, true, {
      retryAfterMs: after,
    });
  }
  return new DownloadError(`The image server answered HTTP ${status} instead of the image`, false);
}

/**
 * Returns a downloader that fetches one image within the fetch limits, retrying failures that
 * may pass with exponential backoff (honouring `Retry-After`). When the tries run out, the last
 * failure's message says how many tries were made. It keeps its own pool of keep-alive
 * connections, each pinned to an address some hop vetted; `close` ends them.
 *
 * A try that a kept connection lost before any response byte (the server closed it while idle)
 * is followed at once by one on a new connection. That retry counts as a try, so a server that
 * drops every request still sees each image asked for `attempts` times, no more.
 */
export function createDownloader(options: DownloaderOptions): Downloader {
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 500;
  const connections = new ConnectionPool();

  const once = async (url: string, pool: ConnectionPool | undefined): Promise<Buffer> => {
    try {
      const response = await safeFetch(url, { ...options, method: 'GET', connections: pool });
      if (response.status < 200 || response.status > 299) {
        throw statusError(response.status, response.headers['retry-after']);
      }
      return response.body;
    } catch (error: unknown) {
      if (error instanceof FetchError) {
        const { staleConnection, address } = error;
        throw new DownloadError(error.message, error.retryable, { staleConnection, address });
      }
      throw error;
    }
  };

  const download = async (url: string): Promise<Buffer> => {
    let fresh = false;
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(url, fresh ? undefined : connections);
      } catch (error: unknown) {
        if (!(error instanceof DownloadError) || !error.retryable) throw error;
        if (attempt >= attempts) {
          const tries = attempts === 1 ? 'tried once' : `tried ${attempts} times`;
          throw new DownloadError(`${error.message}; ${tries}`, false, {
            address: error.address,
          });
        }

        fresh = error.staleConnection;
        if (!fresh) await sleep(error.retryAfterMs ?? backoffMs * 2 ** (attempt - 1));
      }
    }
  };

  return {
    download,
    close: () => {
      connections.close();
    },
  };
}
