import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { ConnectionPool } from '../src/net/connection-pool.ts';
import { safeFetch } from '../src/net/safe-fetch.ts';
import type { Lookup, SafeFetchOptions } from '../src/net/safe-fetch.ts';
import { createDownloader } from '../src/processing/image.downloader.ts';
import type { Downloader } from '../src/processing/image.downloader.ts';
import { selfSignedCertificate } from './helpers/self-signed.ts';
import { listenWatched } from './helpers/watched-server.ts';

/** A loopback HTTP server that counts the TCP connections and requests it receives. */
interface Fixture {
  server: http.Server;
  port: number;
  origin: string;
  connections: () => number;
  requests: () => number;
  /** Resolves once every connection accepted so far has closed. */
  idle: () => Promise<void>;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(closers.splice(0).map((close) => close()));
});

async function serve(handler: Handler, host = '127.0.0.1', port = 0): Promise<Fixture> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests += 1;
    handler(req, res);
  });
  const watched = await listenWatched(server, host, port);
  closers.push(watched.close);
  return { ...watched, server, requests: () => requests };
}

/** Keeps a downloader for the test and closes its connections afterwards. */
function downloader(options: Partial<Parameters<typeof createDownloader>[0]> = {}): Downloader {
  const made = createDownloader({
    maxBytes: 1024 * 1024,
    timeoutMs: 2000,
    maxRedirects: 3,
    allowPrivateNetwork: true,
    ...options,
  });
  closers.push(() => {
    made.close();
    return Promise.resolve();
  });
  return made;
}

/** A pool for one test, closed afterwards. */
function pool(): ConnectionPool {
  const made = new ConnectionPool();
  closers.push(() => {
    made.close();
    return Promise.resolve();
  });
  return made;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (reason: unknown) => reason,
  );
  if (!(error instanceof Error)) {
    throw new Error('rejected with something that is not an Error');
  }

  return error;
}

const image = Buffer.alloc(20 * 1024, 7);
const answerImage: Handler = (_req, res) => {
  res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': image.length }).end(image);
};

describe('downloads over kept connections', { timeout: 5000 }, () => {
  it('downloads two images from one server over a single TCP connection', async () => {
    const fixture = await serve(answerImage);
    const images = downloader();

    const first = await images.download(`${fixture.origin}/a.jpg`);
    const second = await images.download(`${fixture.origin}/b.jpg`);

    expect(first.equals(image) && second.equals(image)).toBe(true);
    expect(fixture.requests()).toBe(2);
    expect(fixture.connections()).toBe(1);
  });

  it('downloads again after the server closed the idle connection', async () => {
    const fixture = await serve(answerImage);
    const images = downloader();
    await images.download(`${fixture.origin}/a.jpg`);

    fixture.server.closeIdleConnections();
    await fixture.idle();
    const second = await images.download(`${fixture.origin}/b.jpg`);

    expect(second.equals(image)).toBe(true);
    expect(fixture.connections()).toBe(2);
  });

  it('retries at once on a new connection when a kept one is dropped before any answer', async () => {
    const served = new WeakMap<net.Socket, number>();
    const fixture = await serve((req, res) => {
      const count = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, count);
      // The race a kept connection can lose: the server closes it just as the request arrives.
      if (count === 2) {
        req.socket.destroy();
        return;
      }
      answerImage(req, res);
    });
    const images = downloader({ backoffMs: 60_000 });
    await images.download(`${fixture.origin}/a.jpg`);

    const second = await images.download(`${fixture.origin}/b.jpg`);

    expect(second.equals(image)).toBe(true);
    expect(fixture.requests()).toBe(3);
    expect(fixture.connections()).toBe(2);
  });

  it('counts that retry as a try, so a server dropping every request is asked 3 times', async () => {
    const fixture = await serve((req, res) => {
      if (req.url === '/drop.jpg') {
        req.socket.destroy();
        return;
      }
      answerImage(req, res);
    });
    const images = downloader({ backoffMs: 10 });
    await images.download(`${fixture.origin}/a.jpg`);

    const error = await rejection(images.download(`${fixture.origin}/drop.jpg`));

    expect(error.message).toMatch(/closed the connection unexpectedly; tried 3 times$/);
    expect(fixture.requests()).toBe(1 + 3);
  });

  it('leaves no connection open once the downloader is closed', async () => {
    const fixture = await serve(answerImage);
    const images = downloader();
    await images.download(`${fixture.origin}/a.jpg`);

    images.close();
    await fixture.idle();

    expect(fixture.connections()).toBe(1);
  });
});

describe('which connections are kept', { timeout: 5000 }, () => {
  const options: SafeFetchOptions = {
    maxBytes: 1024,
    timeoutMs: 2000,
    maxRedirects: 3,
    allowPrivateNetwork: true,
  };

  it('closes the connection of a body declared larger than the cap', async () => {
    const fixture = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 10 * 1024 }).end(Buffer.alloc(10 * 1024));
    });
    const connections = pool();

    const error = await rejection(safeFetch(`${fixture.origin}/big`, { ...options, connections }));
    await fixture.idle();

    expect(error).toMatchObject({ name: 'FetchError', code: 'TOO_LARGE' });
    expect(fixture.connections()).toBe(1);
  });

  it('closes the connection of a chunked body that runs past the cap', async () => {
    const fixture = await serve((_req, res) => {
      res.write(Buffer.alloc(800));
      res.end(Buffer.alloc(800));
    });
    const connections = pool();

    const error = await rejection(safeFetch(`${fixture.origin}/big`, { ...options, connections }));
    await fixture.idle();

    expect(error).toMatchObject({ name: 'FetchError', code: 'TOO_LARGE' });
  });

  it('closes the connection of a body still arriving at the deadline', async () => {
    const fixture = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 }).write('x');
    });
    const connections = pool();

    const error = await rejection(
      safeFetch(`${fixture.origin}/slow`, { ...options, timeoutMs: 200, connections }),
    );
    await fixture.idle();

    expect(error).toMatchObject({ name: 'FetchError', code: 'TIMEOUT' });
  });

  it('closes a kept connection on which the server goes on sending', async () => {
    let written = 0;
    const server = net.createServer((socket) => {
      socket.on('error', () => socket.destroy());
      socket.once('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
        const timer = setInterval(() => {
          written += 1024;
          socket.write(Buffer.alloc(1024, 'x'));
        }, 5);
        socket.once('close', () => {
          clearInterval(timer);
        });
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.close();
      await once(server, 'close');
    });
    const closed = new Promise((resolve) =>
      server.once('connection', (socket: net.Socket) => socket.once('close', resolve)),
    );
    const { port } = server.address() as net.AddressInfo;

    const response = await safeFetch(`http://127.0.0.1:${port}/`, {
      ...options,
      connections: pool(),
    });
    await closed;

    expect(response.body.toString()).toBe('hello');
    expect(written).toBeLessThan(64 * 1024);
  });
});

describe('connections are kept per vetted address', { timeout: 5000 }, () => {
  it('never sends to the first address once the name resolves to another one', async () => {
    const first = await serve(answerImage, '127.0.0.1');
    const second = await serve(answerImage, '127.0.0.2', first.port);
    const answers = ['127.0.0.1', '127.0.0.2', '127.0.0.3'];
    const lookup = vi.fn<Lookup>(() =>
      Promise.resolve([{ address: answers.shift() ?? '', family: 4 as const }]),
    );
    const options: SafeFetchOptions = {
      maxBytes: 1024 * 1024,
      timeoutMs: 2000,
      maxRedirects: 0,
      allowPrivateNetwork: false,
      isAllowedAddress: (ip) => ip === '127.0.0.1' || ip === '127.0.0.2',
      lookup,
      connections: pool(),
    };
    const url = `http://images.test:${first.port}/a.jpg`;

    await safeFetch(url, options);
    await safeFetch(url, options);
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const refusal = await rejection(safeFetch(url, options));

    expect([first.requests(), second.requests()]).toEqual([1, 1]);
    expect(refusal).toMatchObject({ name: 'FetchError', code: 'BLOCKED_ADDRESS' });
    expect(connect).not.toHaveBeenCalled();
  });
});

describe('TLS over a connection to the vetted address', { timeout: 5000 }, () => {
  it('names the host, not the address it connects to, in SNI', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'keep-alive-tls-'));
    closers.push(() => rm(dir, { recursive: true, force: true }));
    const { cert, key } = await selfSignedCertificate(dir, 'images.test');
    const names: string[] = [];
    const server = tls.createServer({
      cert,
      key,
      // Called with the ClientHello's server name, and only when the client sends one.
      SNICallback: (name, callback) => {
        names.push(name);
        callback(null);
      },
    });
    // The client refuses the self-signed certificate and resets; nothing to report here.
    server.on('tlsClientError', () => undefined);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.close();
      await once(server, 'close');
    });
    const { port } = server.address() as net.AddressInfo;
    const lookup = vi.fn<Lookup>(() => Promise.resolve([{ address: '127.0.0.1', family: 4 }]));

    const error = await rejection(
      safeFetch(`https://images.test.:${port}/a.jpg`, {
        maxBytes: 1024,
        timeoutMs: 2000,
        maxRedirects: 0,
        allowPrivateNetwork: true,
        lookup,
        connections: pool(),
      }),
    );

    expect(error).toMatchObject({ name: 'FetchError', code: 'NETWORK' });
    expect(names).toEqual(['images.test']);
  });
});
