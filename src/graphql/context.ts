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

/** For HTTP: the verified viewer, or an UNAUTHENTICATED GraphQL error (HTTP 401). */
export function authFromHeaders(
  authorization: string | undefined,
  verifyToken: TokenVerifier,
): VerifiedToken {
  try {
    return authenticate(authorization, verifyToken);
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
