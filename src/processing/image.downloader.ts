import { setTimeout as sleep } from 'node:timers/promises';

import type { Lookup } from '../net/safe-fetch.ts';
import { FetchError, safeFetch } from '../net/safe-fetch.ts';

/** An image that could not be downloaded, with a message for the catalogue manager. */
export class DownloadError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloaderOptions {
  maxBytes: number;
  timeoutMs: number;
  maxRedirects: number;
  allowPrivateNetwork: boolean;
  /** Tries per image, counting the first, for failures that may pass (timeouts, 5xx, 429). */
  attempts?: number;
  /** First pause between tries; doubled after each. */
  backoffMs?: number;
  lookup?: Lookup;
}

const MAX_RETRY_AFTER_MS = 30_000;

/** Turns an answer that is not a 2xx into a DownloadError. */
function statusError(status: number, retryAfter: string | string[] | undefined): DownloadError {
  const seconds = Number(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  const retryAfterMs = Number.isFinite(seconds)
    ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS)
    : undefined;
  if (status === 404 || status === 410) {
    return new DownloadError(`The image was not found at its URL (HTTP ${status}).`, false);
  }
  if (status === 401 || status === 403) {
    return new DownloadError(
      `The image server refused access to the image (HTTP ${status}).`,
      false,
    );
  }
  if (status === 429) {
    return new DownloadError(
      'The image server asked us to slow down (HTTP 429).',
      true,
      retryAfterMs,
    );
  }
  if (status >= 500) {
    return new DownloadError(`The image server had an error (HTTP ${status}).`, true, retryAfterMs);
  }
  return new DownloadError(`The image server answered HTTP ${status} instead of the image.`, false);
}

/**
 * Returns a function that downloads one image within the fetch limits, retrying failures that
 * may pass with exponential backoff (honouring `Retry-After`).
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
      if (error instanceof FetchError) throw new DownloadError(error.message, error.retryable);
      throw error;
    }
  };

  return async (url) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await once(url);
      } catch (error: unknown) {
        if (!(error instanceof DownloadError) || !error.retryable || attempt >= attempts)
          throw error;
        await sleep(error.retryAfterMs ?? backoffMs * 2 ** (attempt - 1));
      }
    }
  };
}
