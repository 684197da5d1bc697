import 'reflect-metadata';

import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { buildSchema } from 'type-graphql';
import type { ContainerType } from 'type-graphql';

import { permissions } from './permissions.ts';
import { ProgressResolver } from './resolvers/progress.resolver.ts';
import { RequestResolver } from './resolvers/request.resolver.ts';
import { UploadResolver } from './resolvers/upload.resolver.ts';
import { WebhookResolver } from './resolvers/webhook.resolver.ts';

export const RESOLVERS = [
  RequestResolver,
  UploadResolver,
  ProgressResolver,
  WebhookResolver,
] as const;

/**
 * Builds the executable schema. Resolver instances come from `container`, made by the
 * composition root; without one (schema printing), resolvers are never called.
 */
/**
 * type-graphql insists on a pub/sub for schemas with subscriptions, for topic-based ones. Ours
 * subscribe through the event bus (`subscribe` on the field), so this one is never used.
 */
const unusedPubSub = {
  publish: () => {
    throw new Error('Publish through the EventBus, not type-graphql');
  },
  subscribe: () => {
    throw new Error('Subscribe through the EventBus, not type-graphql');
  },
};

export async function buildGraphQLSchema(container?: ContainerType): Promise<GraphQLSchema> {
  const schema = await buildSchema({
    resolvers: RESOLVERS,
    container: container ?? { get: () => undefined },
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    validate: false,
    pubSub: unusedPubSub,
  });
  return applyMiddleware(schema, permissions);
}
