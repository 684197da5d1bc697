import { allow, chain, rule, shield } from 'graphql-shield';
import type { IRule, IRules } from 'graphql-shield';

/** A leaf rule or a combination of rules (graphql-shield does not export the latter's type). */
type ShieldRule = IRule | ReturnType<typeof chain>;

import { AuthenticationError } from '../auth/jwt.ts';
import { canSee } from '../domain/viewer.ts';
import { ServiceError } from '../errors.ts';
import type { GraphQLContext } from './context.ts';

/**
 * Who may reach which field: every field of the schema has a rule here, and one that has none is
 * refused (and logged as an internal error, since it is a missing rule, not a client mistake).
 * The schema-coverage test fails when a field is added without a rule.
 */

/*
 * Caching: graphql-shield keys a `contextual` answer by the rule alone, so only rules that read
 * nothing but the context (the caller) use it. A rule that reads the parent object or the
 * arguments uses `no_cache` (or `strict`, keyed by parent and arguments), so one alias's answer
 * is never reused for another's. The permissions test checks this for every rule here.
 */

/** A caller with a verified token. The answer depends on the caller only. */
export const isAuthenticated = rule('isAuthenticated', { cache: 'contextual' })(
  (_parent: unknown, _args: unknown, ctx: Partial<GraphQLContext>) =>
    ctx.viewer ? true : new AuthenticationError('missing'),
);

/**
 * The caller may see the parent request: they own it, or their token has `roles: ["admin"]`
 * (`canSee`, the check the REST routes and the services make). Anyone else is told it does not
 * exist, never that it is forbidden. It depends on the parent, so it is never cached. One rule
 * rather than `or(isAdmin, isOwner, notFound)`: graphql-shield's `or` runs every branch, and the
 * last built its error, stack trace and all, for every field of every request shown.
 */
export const canSeeRequest = rule('canSeeRequest', { cache: 'no_cache' })(
  (parent: { ownerId?: string }, _args: unknown, ctx: Partial<GraphQLContext>) =>
    (ctx.viewer !== undefined &&
      parent.ownerId !== undefined &&
      canSee(ctx.viewer, parent.ownerId)) ||
    new ServiceError('NOT_FOUND', 'No such request was found.'),
);

/** A request's fields are shown to a caller with a token who may see it (above). */
const ownsRequest = chain(isAuthenticated, canSeeRequest);

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

/**
 * A rule tree as GraphQL middleware: a field the tree does not name is refused (and logged as
 * an internal error, since it is a missing rule rather than a client mistake); the service's
 * own errors (NOT_FOUND, UNAUTHENTICATED) reach the client as they are.
 */
export function permissionsFor(rules: IRules) {
  return shield(rules, {
    fallbackRule: rule('noRuleForThisField', { cache: 'no_cache' })(
      () => new Error('No permission rule covers this field'),
    ),
    allowExternalErrors: true,
    debug: false,
  });
}

/** The service's rule tree, deny by default. */
export const permissions = permissionsFor(RULES);
