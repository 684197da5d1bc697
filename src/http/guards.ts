import type { ErrorRequestHandler, RequestHandler } from 'express';

import { AuthenticationError } from '../auth/jwt.ts';
import type { TokenVerifier } from '../auth/jwt.ts';
import { authenticateRequest } from '../graphql/context.ts';
import type { Logger } from '../observability/logger.ts';
import { multipartProblem } from './multipart-check.ts';

const PREFLIGHT_HEADERS = ['apollo-require-preflight', 'x-apollo-operation-name'];

/** The body of a GraphQL error answer with one error and its code. */
function graphqlError(code: string, message: string) {
  return { errors: [{ message, extensions: { code } }] };
}

/**
 * Checks a GraphQL multipart upload before its body is read: the CSRF preflight header (the
 * same rule as Apollo's) and the bearer token. Without this the upload library would first
 * write the body of any anonymous request to a temporary file.
 */
export function guardMultipart(verifyToken: TokenVerifier): RequestHandler {
  return (req, res, next) => {
    if (!req.is('multipart/form-data')) {
      next();
      return;
    }
    if (!PREFLIGHT_HEADERS.some((name) => (req.get(name) ?? '') !== '')) {
      // The body is read and dropped, never kept: closing instead would make a client that is
      // still sending see a broken pipe rather than this answer.
      req.resume();
      res
        .status(400)
        .json(
          graphqlError(
            'BAD_REQUEST',
            'This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Send multipart uploads with the header apollo-require-preflight: true.',
          ),
        );
      return;
    }
    try {
      authenticateRequest(req, verifyToken);
    } catch (error: unknown) {
      if (!(error instanceof AuthenticationError)) throw error;
      req.resume();
      res.status(401).json(graphqlError('UNAUTHENTICATED', error.message));
      return;
    }
    next();
  };
}

/**
 * Errors of the body parsers on `/graphql`, answered as GraphQL errors instead of HTML pages.
 * A multipart upload the library refused is answered with what the shape check found wrong,
 * which says how to fix the form; the library's own status stands only when the check found
 * nothing (a field too large, a form cut off).
 */
export const graphqlBodyErrors: ErrorRequestHandler = (error: unknown, req, res, next) => {
  const status = (error as { status?: unknown }).status;
  if (typeof status !== 'number' || status < 400 || status > 499) {
    next(error);
    return;
  }

  const check = multipartProblem(req);
  const answer = (problem: string | null): void => {
    const tooLarge = status === 413 && problem === null;
    const fallback = check
      ? 'The upload was incomplete or malformed; send the file again.'
      : 'The request body is not valid JSON.';
    res
      .status(tooLarge ? 413 : 400)
      .json(
        graphqlError(
          tooLarge ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT',
          tooLarge ? 'The request body is too large.' : (problem ?? fallback),
        ),
      );
  };
  if (check) void check.then(answer);
  else answer(null);
};

/** Any other path: a JSON 404 rather than Express's HTML page. */
export const notFound: RequestHandler = (_req, res) => {
  res.status(404).json({ error: { code: 'NOT_FOUND', message: 'No such route.' } });
};

/** Anything no route handled: logged once, answered without internals. */
export function lastResort(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    logger.error('http request failed', { error });
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res
      .status(500)
      .json({ error: { code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' } });
  };
}
