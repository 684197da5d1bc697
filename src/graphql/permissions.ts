import { allow, rule, shield } from 'graphql-shield';
import type { IRule, IRules } from 'graphql-shield';

type ShieldRule = IRule | typeof allow;

import { AuthenticationError } from '../auth/jwt.ts';
import { canSee } from '../domain/viewer.ts';
import { ServiceError } from '../errors.ts';
import type { GraphQLContext } from './context.ts';

/**
 * Who may reach which field: every field of the schema has a rule here, and one that has none is
 * refused (and logged as an internal error, since it is a missing rule, not a client mistake).
 * The schema-coverage test fails when a field is added without a rule.
 */

/** A caller with a verified token. The answer depends on the caller only, so it is cached per operation. */
const isAuthenticated = rule({ cache: 'contextual' })(
  (_parent: unknown, _args: unknown, ctx: Partial<GraphQLContext>) =>
    ctx.viewer ? true : new AuthenticationError('missing'),
);

/**
 * A request's fields are shown to its owner or an admin only: the same check as REST and
 * `/files`. It depends on the parent object, so its answers are never cached across objects.
 */
const ownsRequest = rule({ cache: 'no_cache' })(
  (parent: { ownerId?: string }, _args: unknown, ctx: Partial<GraphQLContext>) =>
    (ctx.viewer !== undefined &&
      parent.ownerId !== undefined &&
      canSee(ctx.viewer, parent.ownerId)) ||
    new ServiceError('NOT_FOUND', 'No such request was found.'),
);

function every(rule: ShieldRule, ...fields: string[]): Record<string, ShieldRule> {
  return Object.fromEntries(fields.map((field) => [field, rule]));
}

export const RULES = {
  Query: every(
    isAuthenticated,
    'request',
    'requests',
    'webhooks',
    'webhookSigningSecret',
    'webhookDeliveries',
  ),
  Mutation: every(
    isAuthenticated,
    'uploadCsv',
    'cancelRequest',
    'registerWebhook',
    'deleteWebhook',
  ),
  Subscription: every(isAuthenticated, 'requestProgress'),
  Request: every(
    ownsRequest,
    'id',
    'status',
    'fileName',
    'webhookUrl',
    'createdAt',
    'updatedAt',
    'completedAt',
    'progress',
    'products',
    'outputCsvUrl',
    'options',
  ),
  ProcessingOptions: every(allow, 'quality', 'format', 'maxWidth', 'maxHeight', 'keepMetadata'),
  // Reached only through a request the caller owns, or through their own webhooks.
  Progress: every(allow, 'total', 'completed', 'failed', 'pending', 'percent'),
  Product: every(allow, 'id', 'serialNumber', 'name', 'images'),
  Image: every(
    allow,
    'id',
    'position',
    'inputUrl',
    'outputUrl',
    'status',
    'error',
    'keptOriginal',
    'inputBytes',
    'outputBytes',
    'format',
    'width',
    'height',
  ),
  PageInfo: every(allow, 'hasNextPage', 'endCursor'),
  RequestEdge: every(allow, 'cursor', 'node'),
  RequestConnection: every(allow, 'edges', 'pageInfo'),
  ProductEdge: every(allow, 'cursor', 'node'),
  ProductConnection: every(allow, 'edges', 'pageInfo'),
  UploadCsvPayload: every(allow, 'request'),
  RequestProgress: every(allow, 'requestId', 'status', 'progress', 'image'),
  Webhook: every(allow, 'id', 'url', 'isActive', 'createdAt'),
  RegisterWebhookPayload: every(allow, 'webhook', 'secret'),
  WebhookDelivery: every(
    allow,
    'id',
    'url',
    'attempt',
    'statusCode',
    'error',
    'durationMs',
    'deliveredAt',
    'nextAttemptAt',
    'createdAt',
  ),
} satisfies IRules;

/** The rule tree as GraphQL middleware: deny by default, the service's own errors passed on. */
export const permissions = shield(RULES, {
  fallbackRule: rule({ cache: 'contextual' })(
    () => new Error('No permission rule covers this field'),
  ),
  allowExternalErrors: true,
  debug: false,
});
