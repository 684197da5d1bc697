import type { IncomingMessage } from 'node:http';

import { GraphQLError } from 'graphql';

import { AuthenticationError, bearerToken } from '../auth/jwt.ts';
import type { TokenVerifier, VerifiedToken } from '../auth/jwt.ts';
import type { Viewer } from '../domain/viewer.ts';
import type { ProgressService } from '../services/progress.service.ts';

/** What every resolver receives, over HTTP and WebSocket alike. */
export interface GraphQLContext {
  viewer: Viewer;
  /** Live progress; present for WebSocket operations. */
  progress?: ProgressService;
  /**
   * For a multipart HTTP request: settles with what is wrong with the form's shape, or null
   * once it was read whole (see `src/http/multipart-check.ts`).
   */
  multipartProblem?: Promise<string | null> | undefined;
}

/**
 * The one path from a transport's credentials to a verified token: the `Authorization` header
 * over HTTP, `connectionParams.authorization` over WebSocket, both `Bearer <JWT>`.
 *
 * @throws AuthenticationError when the value is missing or the token is not valid
 */
export function authenticate(authorization: unknown, verifyToken: TokenVerifier): VerifiedToken {
  const token = bearerToken(authorization);
  if (!token) throw new AuthenticationError('missing');
  return verifyToken(token);
}

/** Each HTTP request's verdict, so the guards, the rate limiter and the context check once. */
const verdicts = new WeakMap<IncomingMessage, VerifiedToken | AuthenticationError>();

/**
 * `authenticate` for an HTTP request's `Authorization` header, checked once per request however
 * many layers ask.
 *
 * @throws AuthenticationError when the header holds no valid token
 */
export function authenticateRequest(
  req: IncomingMessage,
  verifyToken: TokenVerifier,
): VerifiedToken {
  let verdict = verdicts.get(req);
  if (!verdict) {
    try {
      verdict = authenticate(req.headers.authorization, verifyToken);
    } catch (error: unknown) {
      if (!(error instanceof AuthenticationError)) throw error;
      verdict = error;
    }
    verdicts.set(req, verdict);
  }
  if (verdict instanceof AuthenticationError) throw verdict;
  return verdict;
}

/** For HTTP GraphQL: the verified viewer, or an UNAUTHENTICATED GraphQL error (HTTP 401). */
export function authFromHeaders(req: IncomingMessage, verifyToken: TokenVerifier): VerifiedToken {
  try {
    return authenticateRequest(req, verifyToken);
  } catch (error: unknown) {
    if (!(error instanceof AuthenticationError)) throw error;
    throw new GraphQLError(error.message, {
      extensions: { code: 'UNAUTHENTICATED', http: { status: 401 } },
    });
  }
}

/** For WebSocket: the verified viewer, or null (the connection is then closed with 4403). */
export function authFromConnectionParams(
  params: Readonly<Record<string, unknown>> | undefined,
  verifyToken: TokenVerifier,
): VerifiedToken | null {
  try {
    return authenticate(params?.authorization ?? params?.Authorization, verifyToken);
  } catch (error: unknown) {
    if (error instanceof AuthenticationError) return null;
    throw error;
  }
}
