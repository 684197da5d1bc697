import type { IncomingMessage } from 'node:http';

import { CloseCode, handleProtocols, makeServer } from 'graphql-ws';
import type { ServerOptions } from 'graphql-ws';
import WebSocket from 'ws';
import type { WebSocketServer } from 'ws';

/** What graphql-ws's hooks receive as `ctx.extra`: the socket and its upgrade request. */
export interface WsExtra {
  readonly socket: WebSocket;
  readonly request: IncomingMessage;
}

export interface WsTransportOptions {
  /** Ping interval; a client that has not answered the previous ping is dropped. */
  keepAliveMs: number;
  /**
   * Told of every error a socket or the server reports, instead of graphql-ws's own adapter
   * printing it with a stack. A socket error is a client's fault (a frame over `maxPayload`,
   * a malformed frame) that `ws` has already answered by closing with 1009 or 1002.
   */
  onError: (error: Error, where: 'socket' | 'message' | 'server') => void;
}

/**
 * graphql-ws's transport-free core served over a `ws` server: the same work as graphql-ws's
 * `useServer`, except that errors go to `onError` rather than to `console.error`, so a
 * client's oversized frame closes its socket cleanly and leaves stderr alone.
 *
 * @returns a function that closes every socket (1001) and the server
 */
export function serveGraphqlWs(
  wss: WebSocketServer,
  serverOptions: ServerOptions<Record<string, unknown>, WsExtra>,
  options: WsTransportOptions,
): () => Promise<void> {
  const server = makeServer(serverOptions);
  wss.options.handleProtocols = handleProtocols;
  wss.on('error', (error) => {
    options.onError(error, 'server');
  });

  wss.on('connection', (socket, request) => {
    socket.on('error', (error) => {
      options.onError(error, 'socket');
    });
    const stopHeartbeat = heartbeat(socket, options.keepAliveMs);

    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== WebSocket.OPEN) {
              resolve();
              return;
            }
            socket.send(data, (error) => {
              if (error) reject(error);
              else resolve();
            });
          }),
        close: (code, reason) => {
          socket.close(code, reason);
        },
        onMessage: (handle) => {
          socket.on('message', (data: WebSocket.RawData) => {
            // The default binaryType, 'nodebuffer', hands every message over as one Buffer.
            handle((data as Buffer).toString('utf8')).catch((error: unknown) => {
              options.onError(error instanceof Error ? error : new Error(String(error)), 'message');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          });
        },
      },
      { socket, request },
    );

    socket.once('close', (code, reason) => {
      stopHeartbeat();
      closed(code, reason.toString()).catch((error: unknown) => {
        options.onError(error instanceof Error ? error : new Error(String(error)), 'server');
      });
    });
  });

  return async () => {
    for (const client of wss.clients) client.close(1001, 'Going away');
    wss.removeAllListeners();
    await new Promise<void>((resolve, reject) => {
      wss.close((error) => {
        if (error) reject(error);
        else resolve();
      });
    });
  };
}

/** Pings every `intervalMs`; a socket that did not answer the last ping is terminated. */
function heartbeat(socket: WebSocket, intervalMs: number): () => void {
  let answered = true;
  socket.on('pong', () => {
    answered = true;
  });
  const timer = setInterval(() => {
    if (socket.readyState !== WebSocket.OPEN) return;
    if (!answered) {
      socket.terminate();
      return;
    }
    answered = false;
    socket.ping();
  }, intervalMs);
  return () => {
    clearInterval(timer);
  };
}
