import { ApolloArmor } from '@escape.tech/graphql-armor';

/** How large and deep a GraphQL document may be; from the configuration. */
export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
  maxDirectives: number;
}

/**
 * graphql-armor's checks for one schema: validation rules that refuse a document before it
 * runs (too deep, too many aliases, tokens or directives, too costly), for HTTP and WebSocket
 * alike, and field suggestions withheld from error messages.
 */
export function queryProtection(limits: QueryLimits) {
  return new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    costLimit: { maxCost: limits.maxCost },
    maxTokens: { n: limits.maxTokens },
    maxDirectives: { n: limits.maxDirectives },
    blockFieldSuggestion: { enabled: true },
  }).protect();
}
