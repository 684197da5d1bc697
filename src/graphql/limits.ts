import type { ApolloServerPlugin } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { getNullableType, GraphQLError, isListType } from 'graphql';
import type { GraphQLSchema } from 'graphql';
import { getComplexity, simpleEstimator } from 'graphql-query-complexity';
import type { ComplexityEstimator } from 'graphql-query-complexity';

import { DEFAULT_PAGE_SIZE } from './cursors.ts';

/** How large and deep a GraphQL document may be; from the configuration. */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  /** Items a document may make the service load, see {@link complexityPlugin}. */
  maxComplexity: number;
}

/**
 * graphql-armor's checks for one schema: validation rules that refuse a document before it
 * runs (too deep, too many aliases, tokens or directives), for HTTP and WebSocket
 * alike, and field suggestions withheld from error messages.
 */
export function queryProtection(limits: QueryLimits) {
  return new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    // Its cost grows with depth alone and ignores `first`; complexityPlugin counts items instead.
    costLimit: { enabled: false },
    // Counted by graphql-js's own parser instead (see parseOptions): the armour's check throws
    // from a plugin hook, which Apollo answers as a 500.
    maxTokens: { enabled: false },
    maxDirectives: { n: limits.maxDirectives },
    blockFieldSuggestion: { enabled: true },
  }).protect();
}

/**
 * Apollo's parse options: graphql-js stops reading a document past `maxTokens` tokens and
 * reports GRAPHQL_PARSE_FAILED (HTTP 400), before any work depends on its size.
 */
export function parseOptions(limits: QueryLimits) {
  return { maxTokens: limits.maxTokens };
}

/**
 * A document's cost in the items it can make the service load: a paginated field costs its
 * `first` (default page size when unset) times what each item asks for; a list of images counts
 * as `imagesPerProduct` items. graphql-armor's cost ignores arguments, so this is the check
 * that stops fifteen aliases of `requests(first: 100) { products(first: 100) … }`.
 */
export function complexityPlugin(schema: GraphQLSchema, maxComplexity: number): ApolloServerPlugin {
  const estimators: ComplexityEstimator[] = [
    ({ args, childComplexity, field }) => {
      if (!field.args.some((a) => a.name === 'first')) return undefined;
      const first = typeof args.first === 'number' ? args.first : DEFAULT_PAGE_SIZE;
      return 1 + first * childComplexity;
    },
    // A connection's edges are already counted by its `first`.
    ({ childComplexity, field, type }) =>
      isListType(getNullableType(field.type)) && !type.name.endsWith('Connection')
        ? 1 + IMAGES_PER_PRODUCT * childComplexity
        : undefined,
    simpleEstimator({ defaultComplexity: 1 }),
  ];

  return {
    requestDidStart: () =>
      Promise.resolve({
        didResolveOperation: ({ request, document }) => {
          let complexity: number;
          try {
            complexity = getComplexity({
              schema,
              query: document,
              estimators,
              variables: request.variables ?? {},
              ...(request.operationName && { operationName: request.operationName }),
            });
          } catch (error: unknown) {
            // Variables are coerced here before Apollo does it, so a bad value (an unknown
            // enum, a string for an Int) is the client's mistake, said in GraphQL's words.
            if (!(error instanceof GraphQLError)) throw error;
            throw new GraphQLError(error.message, {
              extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } },
            });
          }
          if (complexity > maxComplexity) {
            throw new GraphQLError(
              `The query asks for too much at once (cost ${complexity}, limit ${maxComplexity}); ask for fewer items per page or fewer aliases.`,
              { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } },
            );
          }
          return Promise.resolve();
        },
      }),
  };
}

/** How many images a product's list is assumed to hold when costing a document. */
const IMAGES_PER_PRODUCT = 5;
