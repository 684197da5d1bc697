import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** Limits of a `ConnectionPool`. */
export interface ConnectionPoolOptions {
  /**
   * Idle connections kept per address, port and TLS server name; more are closed.
   * @defaultValue 8
   */
  maxIdlePerTarget?: number;
  /**
   * How long an idle connection is kept, in milliseconds. Below Node's 5 s server keep-alive
   * timeout, the shortest common one, so we close first instead of writing onto a connection
   * the server is closing. A shorter `Keep-Alive: timeout=…` from the server wins.
   * @defaultValue 4000
   */
  idleTimeoutMs?: number;
}

/**
 * Keep-alive connections for `safeFetch`, one agent per scheme. Requests name the vetted IP
 * address as their host, so Node's pool key (address, port, and for TLS the server name) never
 * hands a request a connection to any address but the one its hop checked.
 *
 * Only a response read to its end gives its connection back; `safeFetch` destroys every other.
 */
export class ConnectionPool {
  readonly #http: http.Agent;
  readonly #https: https.Agent;

  constructor(options: ConnectionPoolOptions = {}) {
    const agentOptions = {
      keepAlive: true,
      maxFreeSockets: options.maxIdlePerTarget ?? 8,
      timeout: options.idleTimeoutMs ?? 4000,
      scheduling: 'lifo' as const,
    };
    this.#http = guardIdleSockets(new http.Agent(agentOptions));
    this.#https = guardIdleSockets(new https.Agent(agentOptions));
  }

  /** The agent for a URL's scheme (`http:` or `https:`). */
  agentFor(protocol: string): http.Agent {
    return protocol === 'https:' ? this.#https : this.#http;
  }

  /**
   * Closes every connection, idle or in use (a request still running fails with `NETWORK`).
   * The pool stays usable: a later request opens a new connection.
   */
  close(): void {
    this.#http.destroy();
    this.#https.destroy();
  }
}

/**
 * Closes an idle connection as soon as bytes arrive on it: they answer no request, and Node
 * would otherwise read them, unbounded, into nothing while the idle timer kept restarting.
 * Node's own 'free' listener runs first and has destroyed whatever it chose not to keep.
 */
function guardIdleSockets<A extends http.Agent>(agent: A): A {
  agent.on('free', (socket: Socket) => {
    if (!socket.destroyed) {
      socket.on('data', closeOnStrayBytes);
    }
  });
  const reuse = agent.reuseSocket.bind(agent);
  agent.reuseSocket = (socket, request) => {
    socket.off('data', closeOnStrayBytes);
    reuse(socket, request);
  };

  return agent;
}

function closeOnStrayBytes(this: Duplex): void {
  this.destroy();
}
