import 'reflect-metadata';

import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import type { ContainerType } from 'type-graphql';

import { RequestResolver } from './resolvers/request.resolver.ts';
import { UploadResolver } from './resolvers/upload.resolver.ts';

export const RESOLVERS = [RequestResolver, UploadResolver] as const;

/**
 * Builds the executable schema. Resolver instances come from `container`, made by the
 * composition root; without one (schema printing), resolvers are never called.
 */
export async function buildGraphQLSchema(container?: ContainerType): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    container: container ?? { get: () => undefined },
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: false,
  });
}
