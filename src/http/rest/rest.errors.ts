import type { ErrorRequestHandler, Response } from 'express';

import { AuthenticationError } from '../../auth/jwt.ts';
import type { ErrorCode } from '../../errors.ts';
import { httpStatusOf, ServiceError } from '../../errors.ts';
import type { Logger } from '../../observability/logger.ts';

/** Sends the contract's error body: `{"error": {"code", "message", "problems"?}}`. */
export function sendError(
  res: Response,
  code: ErrorCode,
  message: string,
  problems?: readonly unknown[],
): void {
  res.status(httpStatusOf(code)).json({ error: { code, message, ...(problems && { problems }) } });
}

/**
 * The last handler of the REST routes: the service's errors with their code and status,
 * body-parser's with theirs, anything else masked as INTERNAL_SERVER_ERROR and logged once.
 */
export function restErrorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (error instanceof ServiceError) {
      sendError(res, error.code, error.message, error.problems);
      return;
    }
    if (error instanceof AuthenticationError) {
      sendError(res, 'UNAUTHENTICATED', error.message);
      return;
    }
    logger.error('rest request failed', { error });
    sendError(res, 'INTERNAL_SERVER_ERROR', 'Internal server error');
  };
}
