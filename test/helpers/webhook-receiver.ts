import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

import type { Deferred } from './ws.ts';
import { deferred } from './ws.ts';

/** One request a receiver got, with its body exactly as the bytes arrived. */
export interface ReceivedHook {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Resolves when the connection that carried this request closes. */
  closed: Promise<void>;
}

/**
 * How a receiver answers its `index`-th request (0 for the first). It may also never answer:
 * the connection then stays open until the sender gives up or the receiver closes.
 */
export type HookAnswer = (res: http.ServerResponse, index: number) => void;

/** A loopback HTTP server that keeps every request it gets, for webhook tests. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hook`, the URL to register. */
  url: string;
  readonly received: readonly ReceivedHook[];
  /** TCP connections accepted, counted before any byte is read: a canary's hit count. */
  readonly connections: number;
  /** Resolves with the first `n` requests once that many have arrived. */
  nth(n: number): Promise<ReceivedHook[]>;
  close(): Promise<void>;
}

/** Answers 204 at once. */
export const answerOk: HookAnswer = (res) => {
  res.writeHead(204).end();
};

/** Answers with the statuses in order, then repeats the last one. */
export function answerInTurn(...statuses: number[]): HookAnswer {
  return (res, index) => {
    res.writeHead(statuses[Math.min(index, statuses.length - 1)] ?? 204).end();
  };
}

/** Reads the request and never sends a byte back. */
export const answerNever: HookAnswer = () => undefined;

/** Sends 500 headers, then one body byte every `everyMs` until the connection closes. */
export function answerTrickle(everyMs: number): HookAnswer {
  return (res) => {
    res.writeHead(500, { 'content-type': 'text/plain' });
    res.flushHeaders();
    const timer = setInterval(() => res.write('.'), everyMs);
    res.on('close', () => {
      clearInterval(timer);
    });
  };
}

function flatHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [
      name,
      Array.isArray(value) ? value.join(', ') : (value ?? ''),
    ]),
  );
}

export async function startWebhookReceiver(
  answer: HookAnswer = answerOk,
): Promise<WebhookReceiver> {
  const received: ReceivedHook[] = [];
  const waits: { n: number; done: Deferred<ReceivedHook[]> }[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const index = received.length;
      received.push({
        method: req.method ?? '',
        path: req.url ?? '',
        headers: flatHeaders(req.headers),
        body: Buffer.concat(chunks),
        closed: new Promise((resolve) => {
          req.socket.once('close', () => {
            resolve();
          });
        }),
      });
      for (const wait of waits) {
        if (received.length === wait.n) wait.done.resolve(received.slice(0, wait.n));
      }
      answer(res, index);
    });
  });
  server.on('connection', (socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    get connections() {
      return connections;
    },
    nth(n) {
      if (received.length >= n) return Promise.resolve(received.slice(0, n));
      const done = deferred<ReceivedHook[]>();
      waits.push({ n, done });
      return done.promise;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
