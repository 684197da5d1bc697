import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError } from 'graphql';
import type { GraphQLFormattedError } from 'graphql';

import { AuthenticationError } from '../auth/jwt.ts';
import { ServiceError } from '../errors.ts';
import { uploadError } from '../graphql/resolvers/upload.resolver.ts';
import type { Logger } from '../observability/logger.ts';

/** Codes Apollo and GraphQL set themselves for a request the client got wrong. */
const CLIENT_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'BAD_REQUEST',
  'UNAUTHENTICATED',
]);

/**
 * Shapes every GraphQL error a client sees: the service's own errors with their public code,
 * client mistakes as GraphQL reports them, and anything else masked as INTERNAL_SERVER_ERROR
 * (logged here, once, in full).
 */
export function createErrorFormatter(logger: Logger) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    // The upload library's errors (a file missing from the body, a cut-off form) are the
    // client's; they may surface outside the resolver's own catch.
    const original = uploadError(unwrapResolverError(error));
    const { locations, path } = formatted;

    if (original instanceof ServiceError) {
      return {
        message: original.message,
        locations,
        path,
        extensions: {
          code: original.code,
          ...(original.problems && { problems: original.problems }),
        },
      };
    }
    if (original instanceof AuthenticationError) {
      return {
        message: original.message,
        locations,
        path,
        extensions: { code: 'UNAUTHENTICATED' },
      };
    }
    const code = formatted.extensions?.code;
    if (original instanceof GraphQLError && typeof code === 'string' && CLIENT_CODES.has(code)) {
      return { message: formatted.message, locations, path, extensions: { code } };
    }

    logger.error('graphql operation failed', { error: original, path });
    return {
      message: 'Internal server error',
      locations,
      path,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    };
  };
}
