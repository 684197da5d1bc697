import type { GraphQLFormattedError } from 'graphql';
import type { Client } from 'graphql-ws';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

import type { ImageStatus, Progress, RequestStatus } from '../../src/domain/request.ts';

/** `requestProgress` with every field a client of the live progress would read. */
export const PROGRESS_SUBSCRIPTION = `subscription Progress($id: ID!) {
  requestProgress(id: $id) {
    requestId
    status
    progress { total completed failed pending percent }
    image { id inputUrl outputUrl status error }
  }
}`;

/** One `requestProgress` value as the server sends it. */
export interface ProgressPayload {
  requestId: string;
  status: RequestStatus;
  progress: Progress;
  image: {
    id: string;
    inputUrl: string;
    outputUrl: string | null;
    status: ImageStatus;
    error: string | null;
  } | null;
}

/** An event as one subscriber got it, with the time it arrived (epoch milliseconds). */
export interface ReceivedEvent {
  data: ProgressPayload;
  receivedAt: number;
}

/** How a socket ended, and when (epoch milliseconds). */
export interface CloseInfo {
  code: number;
  reason: string;
  at: number;
}

/** A promise with its settling functions in reach, for waits driven by a test. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: Error) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve: (value: T) => void = () => undefined;
  let reject: (error: Error) => void = () => undefined;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A test may never await some of these; their rejection is reported where they are awaited.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/**
 * Settles like `promise`, or rejects naming `what` once `ms` pass: a deadline on a wait, so a
 * missing event fails fast with a message instead of at the test timeout.
 */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`${what}: not within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Polls `probe` every 10 ms until it returns true or `ms` pass, and resolves with its last
 * answer; the caller asserts on the state itself, so a failure shows the values.
 */
export async function waitUntil(probe: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!probe()) {
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

/** A subscription that ended with an error message or a closed socket instead of completing. */
export class SubscriptionFailed extends Error {
  constructor(
    /** The GraphQL errors sent, empty when the socket closed. */
    readonly errors: readonly GraphQLFormattedError[],
    /** The close code when the socket closed, else null. */
    readonly closeCode: number | null,
    /** What arrived before the failure. */
    readonly events: readonly ReceivedEvent[],
  ) {
    super(
      closeCode === null
        ? `subscription failed: ${errors.map((e) => e.message).join('; ')}`
        : `socket closed with ${closeCode}`,
    );
    this.name = 'SubscriptionFailed';
  }
}

/** One `requestProgress` subscription, its events collected as they come. */
export interface ProgressSubscription {
  readonly events: readonly ReceivedEvent[];
  /** Resolves with the first event; rejects when the subscription fails before one. */
  readonly firstEvent: Promise<ReceivedEvent>;
  /** Resolves with every event once the server completes; rejects with SubscriptionFailed. */
  readonly done: Promise<ReceivedEvent[]>;
  /** Stops listening (sends `complete` while the socket is open). */
  unsubscribe(): void;
}

/** A graphql-ws client of a test service, keeping every close it sees. */
export interface WsClient {
  readonly client: Client;
  readonly closes: readonly CloseInfo[];
  /** Resolves with the first close of the socket. */
  readonly closed: Promise<CloseInfo>;
  /** Resolves with the ws socket once the first connection opens. */
  readonly socket: Promise<WebSocket>;
  subscribe(requestId: string): ProgressSubscription;
  /** Closes the socket (1000) and stops reconnecting. */
  dispose(): Promise<void>;
}

/** The graphql-ws endpoint of a service at `httpUrl`. */
export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace('http', 'ws')}/graphql`;
}

function closeInfo(event: unknown): CloseInfo {
  const { code, reason } = (event ?? {}) as { code?: unknown; reason?: unknown };
  return {
    code: typeof code === 'number' ? code : -1,
    reason: typeof reason === 'string' ? reason : String(reason),
    at: Date.now(),
  };
}

/**
 * A lazy graphql-ws client that never retries, so a refused connection shows as one close.
 *
 * @param authorization - sent as `connectionParams.authorization` (`Bearer <JWT>`); null sends
 *   no connection params at all
 */
export function connectClient(httpUrl: string, authorization: string | null): WsClient {
  const closes: CloseInfo[] = [];
  const firstClose = deferred<CloseInfo>();
  const opened = deferred<WebSocket>();

  const client = createClient({
    url: wsUrl(httpUrl),
    webSocketImpl: WebSocket,
    connectionParams: authorization === null ? undefined : { authorization },
    retryAttempts: 0,
    on: {
      opened: (socket) => {
        if (socket instanceof WebSocket) opened.resolve(socket);
      },
      closed: (event) => {
        const info = closeInfo(event);
        closes.push(info);
        firstClose.resolve(info);
      },
    },
  });

  return {
    client,
    closes,
    closed: firstClose.promise,
    socket: opened.promise,
    subscribe: (requestId) => subscribeProgress(client, requestId),
    async dispose() {
      try {
        await client.dispose();
      } catch (error: unknown) {
        // A socket refused while connecting rejects dispose with its close event: already closed.
        if (closeInfo(error).code === -1) throw error;
      }
    },
  };
}

function subscribeProgress(client: Client, requestId: string): ProgressSubscription {
  const events: ReceivedEvent[] = [];
  const first = deferred<ReceivedEvent>();
  const done = deferred<ReceivedEvent[]>();

  const fail = (error: unknown) => {
    const { code } = closeInfo(error);
    const failure = Array.isArray(error)
      ? new SubscriptionFailed(error as GraphQLFormattedError[], null, [...events])
      : code === -1
        ? new SubscriptionFailed([{ message: String(error) }], null, [...events])
        : new SubscriptionFailed([], code, [...events]);
    first.reject(failure);
    done.reject(failure);
  };
  const unsubscribe = client.subscribe<{ requestProgress: ProgressPayload }>(
    { query: PROGRESS_SUBSCRIPTION, variables: { id: requestId } },
    {
      next: (result) => {
        if (result.errors) {
          fail(result.errors);
          return;
        }
        if (!result.data) return;
        const event = { data: result.data.requestProgress, receivedAt: Date.now() };
        events.push(event);
        first.resolve(event);
      },
      error: fail,
      complete: () => {
        first.reject(new Error('the subscription completed without an event'));
        done.resolve([...events]);
      },
    },
  );

  return { events, firstEvent: first.promise, done: done.promise, unsubscribe };
}

/**
 * Subscribes to a request's progress on a fresh client and closes the client afterwards.
 *
 * @returns every event, once the server completes the subscription
 * @throws SubscriptionFailed when the server sends an error or the socket closes first
 */
export async function subscribeOnce(
  httpUrl: string,
  token: string,
  requestId: string,
): Promise<ReceivedEvent[]> {
  const ws = connectClient(httpUrl, `Bearer ${token}`);
  try {
    return await ws.subscribe(requestId).done;
  } finally {
    await ws.dispose();
  }
}

/** A message of the graphql-transport-ws protocol, loosely typed. */
export interface ProtocolMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

/**
 * A plain `ws` socket speaking graphql-transport-ws by hand, for what the graphql-ws client
 * will not do: ignore pings, drop a subscription mid-check, send an oversized message.
 */
export interface RawSocket {
  readonly socket: WebSocket;
  readonly closed: Promise<CloseInfo>;
  /** Resolves with the next message (already received or still to come) that matches. */
  next(match: (message: ProtocolMessage) => boolean): Promise<ProtocolMessage>;
  /** Sends `subscribe` for a request's progress under the operation id `id`. */
  subscribe(id: string, requestId: string): void;
}

/**
 * Opens a raw socket and completes `connection_init` with a Bearer token.
 *
 * @param options - passed to `ws` (e.g. `{ autoPong: false }`)
 * @throws when the server closes the socket before `connection_ack`
 */
export async function openRawSocket(
  httpUrl: string,
  token: string,
  options: WebSocket.ClientOptions = {},
): Promise<RawSocket> {
  const socket = new WebSocket(wsUrl(httpUrl), 'graphql-transport-ws', options);
  const closed = deferred<CloseInfo>();
  const inbox: ProtocolMessage[] = [];
  const waiters = new Set<() => void>();

  socket.on('message', (data: WebSocket.RawData) => {
    // The default binaryType, 'nodebuffer', hands every message over as one Buffer.
    inbox.push(JSON.parse((data as Buffer).toString('utf8')) as ProtocolMessage);
    for (const wake of waiters) wake();
  });
  socket.on('close', (code, reason) => {
    closed.resolve({ code, reason: reason.toString(), at: Date.now() });
    for (const wake of waiters) wake();
  });
  // ws reports a failed handshake or a broken socket here and then closes; `closed` says how.
  socket.on('error', () => undefined);

  const next = (match: (message: ProtocolMessage) => boolean) =>
    new Promise<ProtocolMessage>((resolve, reject) => {
      const check = () => {
        const index = inbox.findIndex(match);
        if (index >= 0) {
          waiters.delete(check);
          resolve(inbox.splice(index, 1)[0] as ProtocolMessage);
        } else if (socket.readyState === WebSocket.CLOSED) {
          waiters.delete(check);
          reject(new Error('the socket closed before the message came'));
        }
      };
      waiters.add(check);
      check();
    });
  const send = (message: ProtocolMessage) => {
    socket.send(JSON.stringify(message));
  };

  await new Promise<void>((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('close', () => {
      reject(new Error('the socket closed before it opened'));
    });
  });
  send({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });
  await next((m) => m.type === 'connection_ack');

  return {
    socket,
    closed: closed.promise,
    next,
    subscribe: (id, requestId) => {
      send({
        id,
        type: 'subscribe',
        payload: { query: PROGRESS_SUBSCRIPTION, variables: { id: requestId } },
      });
    },
  };
}
