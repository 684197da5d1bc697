import { allow, chain, or, rule, shield } from 'graphql-shield';
import type { IRule, IRules } from 'graphql-shield';

/** A leaf rule or a combination of rules (graphql-shield does not export the latter's type). */
type ShieldRule = IRule | ReturnType<typeof chain>;

import { AuthenticationError } from '../auth/jwt.ts';
import { isOwnerOf } from '../domain/viewer.ts';
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

/** A caller whose token has `roles: ["admin"]`: sees every owner's requests. */
export const isAdmin = rule('isAdmin', { cache: 'contextual' })(
  (_parent: unknown, _args: unknown, ctx: Partial<GraphQLContext>) => ctx.viewer?.isAdmin === true,
);

/**
 * The caller owns the parent object (its `ownerId`). With {@link isAdmin} it is `canSee`, the
 * check the REST routes and the services make. It depends on the parent, so it is never cached.
 */
export const isOwner = rule('isOwner', { cache: 'no_cache' })(
  (parent: { ownerId?: string }, _args: unknown, ctx: Partial<GraphQLContext>) =>
    ctx.viewer !== undefined &&
    parent.ownerId !== undefined &&
    isOwnerOf(ctx.viewer, parent.ownerId),
);

/**
 * A request's fields are shown to its owner or an admin only; anyone else is told it does not
 * exist, never that it is forbidden.
 */
const ownsRequest = chain(
  isAuthenticated,
  or(
    isAdmin,
    isOwner,
    rule('notFound', { cache: 'no_cache' })(
      () => new ServiceError('NOT_FOUND', 'No such request was found.'),
    ),
  ),
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
