import type { Request, RequestHandler, Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';

import type { TokenVerifier } from '../auth/jwt.ts';
import { authenticateRequest } from '../graphql/context.ts';
import type { Logger } from '../observability/logger.ts';
import type { RateLimitStores } from './rate-limit.store.ts';

export interface RateLimitOptions {
  /** Length of one counting window, in milliseconds. */
  windowMs: number;
  /** Uploads (GraphQL or REST) per subject, or per address without a token, per window. */
  uploads: number;
  /** GraphQL operations and REST calls per subject, or per address, per window. */
  requests: number;
}

/** The caller to count: the token's subject, or the client address when there is no valid token. */
function callerKey(verifyToken: TokenVerifier) {
  return (req: Request): string => {
    try {
      return `sub:${authenticateRequest(req, verifyToken).viewer.subject}`;
    } catch {
      return `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`;
    }
  };
}

/** 429 with `Retry-After`, shaped for the route: a GraphQL error or the REST error body. */
function refuse(req: Request, res: Response): void {
  const message = 'Too many requests; wait for the time in the Retry-After header and try again.';
  const body = req.baseUrl.startsWith('/graphql')
    ? { errors: [{ message, extensions: { code: 'RATE_LIMITED' } }] }
    : { error: { code: 'RATE_LIMITED', message } };
  req.resume();
  res.status(429).json(body);
}

const isUpload = (req: Request) =>
  req.method === 'POST' &&
  (req.originalUrl.split('?')[0] === '/api/upload' || req.is('multipart/form-data') !== false);

/**
 * Two limits with express-rate-limit, counted per subject (per address without a token, the
 * address Express reports, so behind a trusted proxy the forwarded one): one on uploads, one
 * on every GraphQL operation and REST call. Counters live in `stores`: this process, or Redis.
 * When the store fails the call is let through and the failure logged.
 */
export function rateLimits(
  options: RateLimitOptions,
  verifyToken: TokenVerifier,
  stores: RateLimitStores,
  logger: Logger,
): RequestHandler[] {
  const common = {
    windowMs: options.windowMs,
    keyGenerator: callerKey(verifyToken),
    handler: refuse,
    standardHeaders: 'draft-7' as const,
    legacyHeaders: false,
    passOnStoreError: true,
    logger: {
      error: (error: unknown, message?: string) => {
        logger.warn(message ?? 'rate limit store failed', { error });
      },
      warn: (error: unknown, message?: string) => {
        logger.warn(message ?? 'rate limit misconfigured', { error });
      },
    },
  };
  const store = (name: string) => {
    const made = stores.create(name);
    return made ? { store: made } : {};
  };
  return [
    rateLimit({
      ...common,
      ...store('uploads'),
      limit: options.uploads,
      skip: (req) => !isUpload(req),
    }),
    rateLimit({ ...common, ...store('calls'), limit: options.requests }),
  ];
}
