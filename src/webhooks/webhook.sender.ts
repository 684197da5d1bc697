import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import { Webhook } from 'standardwebhooks';

import type { Lookup } from '../net/safe-fetch.ts';
import { FetchError, safeFetch } from '../net/safe-fetch.ts';
import type { FetchErrorCode } from '../net/safe-fetch.ts';

/** A new Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export function makeWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface SendOptions {
  /** Deadline for the whole exchange: connect, headers and body. */
  timeoutMs: number;
  allowPrivateNetwork: boolean;
  lookup?: Lookup;
}

export interface SendResult {
  delivered: boolean;
  /** True when trying again cannot help: the URL or its address is refused. */
  permanent: boolean;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
  /** The address refused or unreachable, for the log only: `error` never names it. */
  address?: string;
}

/** Refusals by the address and URL rules: the same on every attempt. */
const POLICY_REFUSALS = new Set<FetchErrorCode>([
  'INVALID_URL',
  'BLOCKED_SCHEME',
  'BLOCKED_ADDRESS',
  'BLOCKED_PORT',
]);

/** Bytes of the receiver's answer read at most; the answer's body is not used. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs one delivery, signed per the Standard Webhooks spec over the exact bytes sent:
 * `webhook-id` (the delivery's id, the same on every attempt), `webhook-timestamp` and
 * `webhook-signature`. Redirects are not followed; only a 2xx answer counts as delivered.
 * Never throws: every failure comes back as the result's `error`.
 */
export async function sendWebhook(
  delivery: { id: string; url: string; body: string },
  secret: string,
  options: SendOptions,
): Promise<SendResult> {
  const body = Buffer.from(delivery.body, 'utf8');
  const now = new Date();
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'image-pipeline-webhooks/1',
    'webhook-id': delivery.id,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(delivery.id, now, body),
  };

  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    // No kept connections: receivers are many hosts called minutes apart, so a pooled
    // connection would seldom be reused and would only hold a socket open.
    const response = await safeFetch(delivery.url, {
      method: 'POST',
      headers,
      body,
      maxBytes: MAX_ANSWER_BYTES,
      truncateBody: true,
      timeoutMs: options.timeoutMs,
      maxRedirects: 0,
      allowPrivateNetwork: options.allowPrivateNetwork,
      ...(options.lookup && { lookup: options.lookup }),
    });
    const { status } = response;
    const delivered = status >= 200 && status < 300;
    const error = delivered
      ? null
      : status >= 300 && status < 400
        ? `The receiver answered with a redirect (HTTP ${status}); redirects are not followed.`
        : `The receiver answered HTTP ${status}.`;
    return { delivered, permanent: false, statusCode: status, error, durationMs: elapsed() };
  } catch (error: unknown) {
    if (!(error instanceof FetchError)) throw error;
    const permanent = POLICY_REFUSALS.has(error.code);
    return {
      delivered: false,
      permanent,
      statusCode: null,
      error: error.message,
      durationMs: elapsed(),
      ...(error.address && { address: error.address }),
    };
  }
}
