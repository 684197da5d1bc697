import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';

import type { RequestHandler } from 'express';

import type { Logger } from '../observability/logger.ts';
import { withLogContext } from '../observability/logger.ts';

const CLIENT_ID = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * Gives each HTTP request an id (the client's `X-Request-Id` when it is sane), returns it in the
 * response, adds it to every log line made while serving, and logs one access line at the end.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const header = req.get('x-request-id');
    const httpRequestId = header && CLIENT_ID.test(header) ? header : randomUUID();
    res.setHeader('X-Request-Id', httpRequestId);
    const started = performance.now();

    res.on('finish', () => {
      withLogContext({ httpRequestId }, () => {
        logger.http('http request', {
          method: req.method,
          path: req.originalUrl.split('?')[0],
          status: res.statusCode,
          durationMs: Math.round(performance.now() - started),
        });
      });
    });
    withLogContext({ httpRequestId }, next);
  };
}
