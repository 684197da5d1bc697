import { setTimeout as sleep } from 'node:timers/promises';

import type { Lookup } from '../net/safe-fetch.ts';
import { FetchError, safeFetch } from '../net/safe-fetch.ts';

/**
 * An image that could not be downloaded. `message` is written for the catalogue manager who
 * listed the URL; `retryable` says whether another try later may succeed; `address` is the
 * address refused or unreachable, for the log only (see `FetchError.address`).
 */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly address?: string,
  ) {
    super(message);
    this.name = 'DownloadError';
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
    return new DownloadError('The image server asked us to slow down (HTTP 429)', true, after);
  }
  if (status >= 500) {
    return new DownloadError(`The image server had an error (HTTP ${status})`, true, after);
  }
  return new DownloadError(`The image server answered HTTP ${status} instead of the image`, false);
}

/**
 * Returns a function that downloads one image within the fetch limits, retrying failures that
 * may pass with exponential backoff (honouring `Retry-After`). When the tries run out, the last
 * failure's message says how many tries were made.
 *
 * @throws DownloadError once the image cannot be had
 */
export function createDownloader(options: DownloaderOptions): (url: string) => Promise<Buffer> {
  const attempts = options.attempts ?? 3;
  const backoffMs = options.backoffMs ?? 500;

  const once = async (url: string): Promise<Buffer> => {
    try {
      const response = await safeFetch(url, { ...options, method: 'GET' });
      if (response.status < 200 || response.status > 299) {
        throw statusError(response.status, response.headers['retry-after']);
      }
      return response.body;
    } catch (error: unknown) {
      if (error instanceof FetchError) {
        throw new DownloadError(error.message, error.retryable, undefined, error.address);
      }
      throw error;
    }
  };

  return async (url) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(url);
      } catch (error: unknown) {
        if (!(error instanceof DownloadError) || !error.retryable) throw error;
        if (attempt >= attempts) {
          const tries = attempts === 1 ? 'tried once' : `tried ${attempts} times`;
          throw new DownloadError(`${error.message}; ${tries}`, false, undefined, error.address);
        }
        await sleep(error.retryAfterMs ?? backoffMs * 2 ** (attempt - 1));
      }
    }
  };
}
