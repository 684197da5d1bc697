import { once } from 'node:events';
import type net from 'node:net';

/** A server listening on loopback whose connections a test can count and wait for. */
export interface WatchedServer {
  port: number;
  /** `http://<host>:<port>`. */
  origin: string;
  /** Connections accepted so far. */
  connections: () => number;
  /** Resolves once every connection open now has closed. */
  idle: () => Promise<void>;
  /** Stops listening and destroys every connection still open. */
  close: () => Promise<void>;
}

/** Starts `server` on `host` and keeps count of its connections. */
export async function listenWatched(
  server: net.Server,
  host = '127.0.0.1',
  port = 0,
): Promise<WatchedServer> {
  const sockets = new Set<net.Socket>();
  let count = 0;
  server.on('connection', (socket: net.Socket) => {
    count += 1;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.listen(port, host);
  await once(server, 'listening');

  const bound = (server.address() as net.AddressInfo).port;
  return {
    port: bound,
    origin: `http://${host}:${bound}`,
    connections: () => count,
    idle: async () => {
      for (const socket of sockets) {
        // Not events.once: a reset by the client is an 'error' here and must still count.
        await new Promise((resolve) => socket.once('close', resolve));
      }
    },
    close: async () => {
      const closed = once(server, 'close');
      server.close();
      sockets.forEach((socket) => socket.destroy());
      await closed;
    },
  };
}
