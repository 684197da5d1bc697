import type http from 'node:http';

import { specifiedRules, validate } from 'graphql';
import type { GraphQLFormattedError, GraphQLSchema, ValidationRule } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

import type { TokenVerifier, VerifiedToken } from '../auth/jwt.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { authFromConnectionParams } from '../graphql/context.ts';
import type { ProgressService } from '../services/progress.service.ts';

export interface SubscriptionServerOptions {
  schema: GraphQLSchema;
  verifyToken: TokenVerifier;
  progress: ProgressService;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** Ping interval; a client that does not answer is dropped. @defaultValue 12,000 ms */
  keepAliveMs: number;
  /** Largest WebSocket message accepted, in bytes. */
  maxPayloadBytes: number;
  /** Rules added to GraphQL's own, as for HTTP (document size, depth, aliases). */
  validationRules: readonly ValidationRule[];
}

/** What a connection keeps between `connection_init` and its close. */
interface ConnectionState {
  auth?: VerifiedToken;
  expiry?: NodeJS.Timeout;
}

/** setTimeout's largest delay; a later expiry is re-checked when it fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * graphql-ws on the HTTP server's port at `/graphql`, with the same schema, context and error
 * shaping as HTTP. The token comes in `connectionParams.authorization`; a missing or invalid one
 * closes the socket with 4403, and so does the token's expiry while the socket is open.
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

  const disposable = useServer<Record<string, unknown>>(
    {
      schema: options.schema,
      validate: (schema, document) =>
        validate(schema, document, [...specifiedRules, ...options.validationRules]),
      onConnect: (ctx) => {
        const auth = authFromConnectionParams(ctx.connectionParams, options.verifyToken);
        if (!auth) return false;
        const state = stateOf(ctx.extra);
        state.auth = auth;
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
        clearTimeout(stateOf(ctx.extra).expiry);
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
    wss,
    options.keepAliveMs,
  );

  return async () => {
    await disposable.dispose();
  };
}
