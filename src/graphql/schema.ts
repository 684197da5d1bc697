import 'reflect-metadata';

import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLFieldResolver, GraphQLSchema } from 'graphql';
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
  return guardSubscriptions(applyMiddleware(schema, permissions));
}

type FieldMiddleware = (
  resolve: GraphQLFieldResolver<unknown, unknown>,
  ...args: Parameters<GraphQLFieldResolver<unknown, unknown>>
) => unknown;

/**
 * Runs each subscription's permission rule before its stream starts. graphql-middleware wraps
 * a field's `subscribe` only when the field has no resolver of its own, and type-graphql gives
 * every subscription one, so without this the rule would run on each event but not on
 * subscribe. A refused rule's error is returned, which graphql-js reports as the answer.
 */
function guardSubscriptions(schema: GraphQLSchema): GraphQLSchema {
  const generated = permissions.generate(schema) as Record<
    string,
    Record<string, FieldMiddleware | { resolve: FieldMiddleware }> | undefined
  >;
  for (const [name, field] of Object.entries(schema.getSubscriptionType()?.getFields() ?? {})) {
    const guard = generated.Subscription?.[name];
    const subscribe = field.subscribe;
    if (!guard || !subscribe) throw new Error(`No permission rule guards Subscription.${name}`);
    const middleware = typeof guard === 'function' ? guard : guard.resolve;
    field.subscribe = (parent, args, context, info) =>
      middleware(subscribe, parent, args, context, info);
  }
  return schema;
}
