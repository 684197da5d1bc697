import type http from 'node:http';

import { GraphQLError, OperationTypeNode, specifiedRules, validate } from 'graphql';
import type { GraphQLFormattedError, GraphQLSchema, ValidationRule } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { WebSocketServer } from 'ws';

import type { TokenVerifier, VerifiedToken } from '../auth/jwt.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { authFromConnectionParams } from '../graphql/context.ts';
import type { Logger } from '../observability/logger.ts';
import type { ProgressService } from '../services/progress.service.ts';
import { serveGraphqlWs } from './ws-transport.ts';

export interface SubscriptionServerOptions {
  schema: GraphQLSchema;
  verifyToken: TokenVerifier;
  progress: ProgressService;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Ping interval; a client that does not answer is dropped. @defaultValue 12,000 ms */
  keepAliveMs: number;
  /** Largest WebSocket message accepted, in bytes; a larger one closes the socket with 1009. */
  maxPayloadBytes: number;
  /** Sockets one subject may hold open at once; one more is closed with 4429. */
  maxConnectionsPerSubject: number;
  logger: Logger;
  /** Rules added to GraphQL's own, as for HTTP (document size, depth, aliases). */
  validationRules: readonly ValidationRule[];
}

/** What a connection keeps between `connection_init` and its close. */
interface ConnectionState {
  auth?: VerifiedToken;
  expiry?: NodeJS.Timeout;
  /** Whether this socket counts against its subject's connection limit. */
  counted?: boolean;
}

/** Close code for a subject over its connection limit, after HTTP's 429. */
export const TOO_MANY_CONNECTIONS = 4429;

/** setTimeout's largest delay; a later expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Only subscriptions run over the socket. Queries and mutations go over HTTP, where the rate
 * limits, the cost check and the token count apply; a socket would otherwise be a way around
 * them.
 */
const subscriptionsOnly: ValidationRule = (context) => ({
  OperationDefinition(node) {
    if (node.operation === OperationTypeNode.SUBSCRIPTION) return;
    context.reportError(
      new GraphQLError(
        `Only subscriptions run over WebSocket; send ${node.operation === OperationTypeNode.QUERY ? 'queries' : 'mutations'} over HTTP.`,
        { nodes: node },
      ),
    );
  },
});

/**
 * graphql-ws on the HTTP server's port at `/graphql`, with the same schema, context and error
 * shaping as HTTP. The token comes in `connectionParams.authorization`; a missing or invalid one
 * closes the socket with 4403, and so does the token's expiry (plus the clock tolerance) while
 * the socket is open. A subject over its connection limit is closed with 4429.
 *
 * @returns a function that closes every socket and the server
 */
export function attachSubscriptionServer(
  server: http.Server,
  options: SubscriptionServerOptions,
): () => Promise<void> {
  const wss = new WebSocketServer({
    server,
    path: '/graphql',
    maxPayload: options.maxPayloadBytes,
  });
  const states = new WeakMap<object, ConnectionState>();
  const stateOf = (extra: object) => {
    let state = states.get(extra);
    if (!state) states.set(extra, (state = {}));
    return state;
  };
  const openPerSubject = new Map<string, number>();

  return serveGraphqlWs(
    wss,
    {
      schema: options.schema,
      validate: (schema, document) =>
        validate(schema, document, [
          ...specifiedRules,
          subscriptionsOnly,
          ...options.validationRules,
        ]),
      onConnect: (ctx) => {
        const auth = authFromConnectionParams(ctx.connectionParams, options.verifyToken);
        if (!auth) return false;
        const { subject } = auth.viewer;
        const open = openPerSubject.get(subject) ?? 0;
        if (open >= options.maxConnectionsPerSubject) {
          // graphql-ws would close with 4403; this closes first, with the code that says why.
          ctx.extra.socket.close(TOO_MANY_CONNECTIONS, 'Too many connections for this subject');
          return false;
        }
        openPerSubject.set(subject, open + 1);
        const state = stateOf(ctx.extra);
        state.auth = auth;
        state.counted = true;
        if (auth.expiresAt !== null) {
          const closeAtExpiry = () => {
            const left = (auth.expiresAt ?? 0) - Date.now();
            if (left > 0) state.expiry = setTimeout(closeAtExpiry, Math.min(left, MAX_TIMER_MS));
            else ctx.extra.socket.close(CloseCode.Forbidden, 'Forbidden: the token has expired');
          };
          closeAtExpiry();
        }
        return true;
      },
      onClose: (ctx) => {
        const state = stateOf(ctx.extra);
        clearTimeout(state.expiry);
        if (!state.counted || !state.auth) return;
        state.counted = false;
        const subject = state.auth.viewer.subject;
        const left = (openPerSubject.get(subject) ?? 1) - 1;
        if (left > 0) openPerSubject.set(subject, left);
        else openPerSubject.delete(subject);
      },
      context: (ctx): GraphQLContext => {
        const auth = stateOf(ctx.extra).auth;
        if (!auth) throw new Error('Subscribe before connection_init was acknowledged');
        return { viewer: auth.viewer, progress: options.progress };
      },
      onNext: (_ctx, _id, _payload, _args, result) => {
        if (!result.errors) return result;
        return { ...result, errors: result.errors.map((e) => options.formatError(e.toJSON(), e)) };
      },
    },
    {
      keepAliveMs: options.keepAliveMs,
      onError: (error, where) => {
        // A client's bad frame is its own mistake, already answered by the close code.
        if (where === 'socket') options.logger.debug('websocket closed', { reason: error.message });
        else options.logger.error('websocket failed', { error });
      },
    },
  );
}
