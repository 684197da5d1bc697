import { once } from 'node:events';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';

import { afterEach, describe, expect, it, vi } from 'vitest';

import { FetchError, safeFetch } from '../src/net/safe-fetch.ts';
import type { Lookup, SafeFetchOptions } from '../src/net/safe-fetch.ts';
import type { WatchedServer } from './helpers/watched-server.ts';
import { listenWatched } from './helpers/watched-server.ts';

type Fixture = WatchedServer;

const closers: (() => Promise<void>)[] = [];

afterEach(async () => {
  vi.restoreAllMocks();
  await Promise.all(closers.splice(0).map((close) => close()));
});

/** Listens on loopback, counts connections, and is torn down after the test. */
async function serve(server: net.Server, host = '127.0.0.1'): Promise<Fixture> {
  const watched = await listenWatched(server, host);
  closers.push(watched.close);
  return watched;
}

function serveHttp(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host?: string,
): Promise<Fixture> {
  return serve(http.createServer(handler), host);
}

function lookupTo(...addresses: string[]) {
  return vi.fn<Lookup>(() =>
    Promise.resolve(addresses.map((address) => ({ address, family: net.isIP(address) as 4 | 6 }))),
  );
}

async function rejection(promise: Promise<unknown>): Promise<FetchError> {
  const error: unknown = await promise.then(
    () => new Error('expected safeFetch to reject'),
    (reason: unknown) => reason,
  );
  if (!(error instanceof FetchError)) {
    throw error;
  }

  return error;
}

const strict: SafeFetchOptions = {
  maxBytes: 1024 * 1024,
  timeoutMs: 2000,
  maxRedirects: 3,
  allowPrivateNetwork: false,
};
const loose: SafeFetchOptions = { ...strict, allowPrivateNetwork: true };

describe('safeFetch address policy', { timeout: 3000 }, () => {
  it.each([
    'http://2130706433:{port}/x.jpg',
    'http://0x7f.1:{port}/x.jpg',
    'http://017700000001:{port}/x.jpg',
    'http://127.1:{port}/x.jpg',
    'http://[::ffff:127.0.0.1]:{port}/x.jpg',
    'http://localhost.:{port}/x.jpg',
    'http://127.0.0.1:{port}/x.jpg',
  ])('refuses %s before connecting', async (template) => {
    const canary = await serveHttp((_req, res) => res.end('secret'));
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const lookup = lookupTo('127.0.0.1');

    const error = await rejection(
      safeFetch(template.replace('{port}', String(canary.port)), { ...strict, lookup }),
    );

    expect(error.code).toBe('BLOCKED_ADDRESS');
    expect(canary.connections()).toBe(0);
    expect(connect).not.toHaveBeenCalled();
    expect(lookup).not.toHaveBeenCalled();
  });

  it('refuses a file: URL as a blocked scheme', async () => {
    const error = await rejection(safeFetch('file:///etc/passwd', strict));

    expect(error.code).toBe('BLOCKED_SCHEME');
    expect(error.retryable).toBe(false);
  });

  it('refuses text that is not a URL', async () => {
    const error = await rejection(safeFetch('images.test/a.jpg', strict));

    expect(error.code).toBe('INVALID_URL');
    expect(error.message).toBe('The URL is not a valid web address');
  });

  it.each(['10.0.0.5', '169.254.169.254', 'fd00::1'])(
    'refuses a name resolving to %s after the lookup and before any socket opens',
    async (address) => {
      const connect = vi.spyOn(net.Socket.prototype, 'connect').mockImplementation(() => {
        throw new Error('no connection may be attempted');
      });
      const lookup = lookupTo(address);

      const error = await rejection(
        safeFetch('http://images.test/a.jpg?sig=s3cret', { ...strict, lookup }),
      );

      expect(error.code).toBe('BLOCKED_ADDRESS');
      expect(error.message).toMatch(/^The host images\.test resolves to an? [a-z -]+ address, /);
      expect(error.message).not.toContain(address);
      expect(lookup).toHaveBeenCalledExactlyOnceWith('images.test');
      expect(connect).not.toHaveBeenCalled();
    },
  );

  it('refuses a name when any one of its addresses is forbidden', async () => {
    const fixture = await serveHttp((_req, res) => res.end('ok'), '127.0.0.2');
    const lookup = lookupTo('127.0.0.2', '127.0.0.1');
    const isAllowedAddress = (ip: string): boolean => ip === '127.0.0.2';

    const url = `http://images.test:${fixture.port}/a.jpg`;
    const error = await rejection(safeFetch(url, { ...strict, lookup, isAllowedAddress }));

    expect(error.code).toBe('BLOCKED_ADDRESS');
    expect(fixture.connections()).toBe(0);
  });

  it('checks the address of every redirect hop', async () => {
    const canary = await serveHttp((_req, res) => res.end('secret'));
    const fixture = await serveHttp((_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.1:${canary.port}/secret` }).end();
    }, '127.0.0.2');
    const isAllowedAddress = (ip: string): boolean => ip === '127.0.0.2';

    const url = `${fixture.origin}/redirect`;
    const error = await rejection(safeFetch(url, { ...strict, isAllowedAddress }));

    expect(error.code).toBe('BLOCKED_ADDRESS');
    expect(fixture.connections()).toBe(1);
    expect(canary.connections()).toBe(0);
  });

  it('refuses a port outside the allowed list', async () => {
    const lookup = lookupTo('127.0.0.1');

    const error = await rejection(
      safeFetch('http://images.test:8080/a.jpg', { ...loose, lookup, allowedPorts: [80, 443] }),
    );

    expect(error.code).toBe('BLOCKED_PORT');
    expect(lookup).not.toHaveBeenCalled();
  });
});

describe('safeFetch redirects', { timeout: 3000 }, () => {
  it('stops a redirect loop after maxRedirects hops without leaking the query string', async () => {
    const fixture = await serveHttp((_req, res) => {
      res.writeHead(302, { location: '/loop?sig=s3cret' }).end();
    });

    const error = await rejection(safeFetch(`${fixture.origin}/loop?sig=s3cret`, loose));

    expect(error.code).toBe('TOO_MANY_REDIRECTS');
    expect(error.message).not.toContain('s3cret');
    expect(fixture.connections()).toBe(loose.maxRedirects + 1);
  });

  it('turns a POST into a GET without body on 303, resolving a relative Location', async () => {
    const seen: string[] = [];
    const fixture = await serveHttp((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers['content-length'] ?? '-'}`);
      if (req.url === '/api/submit') {
        res.writeHead(303, { location: 'result' }).end();
        return;
      }

      res.end('done');
    });

    const response = await safeFetch(`${fixture.origin}/api/submit`, {
      ...loose,
      method: 'POST',
      body: Buffer.from('{"a":1}'),
    });

    expect(seen).toEqual(['POST /api/submit 7', 'GET /api/result -']);
    expect(response.url).toBe(`${fixture.origin}/api/result`);
    expect(response.body.toString()).toBe('done');
  });

  it('returns a 3xx as the response when maxRedirects is 0', async () => {
    const fixture = await serveHttp((_req, res) => {
      res.writeHead(301, { location: '/elsewhere' }).end('moved');
    });

    const response = await safeFetch(`${fixture.origin}/old`, { ...loose, maxRedirects: 0 });

    expect(response.status).toBe(301);
    expect(response.headers.location).toBe('/elsewhere');
    expect(fixture.connections()).toBe(1);
  });

  it('connects to the looked-up address once while Host keeps the original name', async () => {
    let host: string | undefined;
    const fixture = await serveHttp((req, res) => {
      host = req.headers.host;
      res.end('ok');
    });
    const lookup = lookupTo('127.0.0.1');

    const response = await safeFetch(`http://images.test:${fixture.port}/a.jpg`, {
      ...loose,
      lookup,
    });

    expect(response.status).toBe(200);
    expect(host).toBe(`images.test:${fixture.port}`);
    expect(lookup).toHaveBeenCalledOnce();
  });
});

describe('safeFetch size and time limits', { timeout: 3000 }, () => {
  it('refuses a declared Content-Length above the cap without reading the body', async () => {
    const fixture = await serveHttp((_req, res) => {
      res.writeHead(200, { 'content-length': 10 * 1024 * 1024 }).flushHeaders();
    });
    const startedAt = Date.now();

    const error = await rejection(safeFetch(`${fixture.origin}/big.jpg`, loose));

    expect(error.code).toBe('TOO_LARGE');
    expect(error.message).toBe('The file is larger than the 1 MB limit');
    expect(Date.now() - startedAt).toBeLessThan(loose.timeoutMs);
    await fixture.idle();
  });

  it('aborts an endless chunked body just past the cap with bounded memory', async () => {
    const maxBytes = 5 * 1024 * 1024;
    let written = 0;
    const fixture = await serveHttp((_req, res) => {
      const chunk = Buffer.alloc(64 * 1024);
      const pump = (): void => {
        let more = true;
        while (more && !res.destroyed && written < 300 * 1024 * 1024) {
          more = res.write(chunk);
          written += chunk.length;
        }
      };
      res.on('drain', pump);
      pump();
    });
    const rssBefore = process.memoryUsage().rss;

    const error = await rejection(safeFetch(`${fixture.origin}/zeros`, { ...loose, maxBytes }));

    expect(error.code).toBe('TOO_LARGE');
    expect(written).toBeLessThan(maxBytes + 32 * 1024 * 1024);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 * 1024);
    await fixture.idle();
  });

  it('reads only the declared 1000 bytes from a server that keeps sending', async () => {
    let written = 0;
    const fixture = await serve(
      net.createServer((socket) => {
        socket.on('error', () => socket.destroy());
        socket.once('data', () => {
          socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
          const pump = (): void => {
            let more = true;
            while (more && !socket.destroyed && written < 300 * 1024 * 1024) {
              more = socket.write(Buffer.alloc(64 * 1024, 'x'));
              written += 64 * 1024;
            }
          };
          socket.on('drain', pump);
          pump();
        });
      }),
    );

    const response = await safeFetch(`${fixture.origin}/liar`, loose);

    expect(response.body.length).toBe(1000);
    expect(written).toBeLessThan(32 * 1024 * 1024);
  });

  it('times out at the deadline when the body trickles one byte every 100 ms', async () => {
    const fixture = await serveHttp((_req, res) => {
      res.writeHead(200, { 'content-length': 1000 });
      const timer = setInterval(() => res.write('x'), 100);
      res.on('close', () => {
        clearInterval(timer);
      });
    });
    const startedAt = Date.now();

    const error = await rejection(
      safeFetch(`${fixture.origin}/slow`, { ...loose, timeoutMs: 300 }),
    );

    expect(error.code).toBe('TIMEOUT');
    expect(error.retryable).toBe(true);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(290);
    expect(Date.now() - startedAt).toBeLessThan(1500);
    await fixture.idle();
  });

  it('times out at the deadline when the server accepts and never answers', async () => {
    const fixture = await serveHttp(() => undefined);

    const error = await rejection(safeFetch(`${fixture.origin}/`, { ...loose, timeoutMs: 300 }));

    expect(error.code).toBe('TIMEOUT');
    expect(error.message).toBe('The server did not answer within 300 milliseconds');
    await fixture.idle();
  });

  it('downloads a normal 50 KB body', async () => {
    const image = Buffer.alloc(50 * 1024, 7);
    const fixture = await serveHttp((_req, res) => {
      res.writeHead(200, { 'content-type': 'image/jpeg' }).end(image);
    });

    const response = await safeFetch(`${fixture.origin}/photo.jpg`, loose);

    expect(response.status).toBe(200);
    expect(response.headers['content-type']).toBe('image/jpeg');
    expect(response.body.equals(image)).toBe(true);
  });
});

describe('safeFetch failures', { timeout: 3000 }, () => {
  it('reports a refused connection as a retryable network error', async () => {
    const probe = net.createServer().listen(0, '127.0.0.1');
    await once(probe, 'listening');
    const { port } = probe.address() as net.AddressInfo;
    probe.close();
    await once(probe, 'close');

    const error = await rejection(safeFetch(`http://127.0.0.1:${port}/a.jpg`, loose));

    expect(error.code).toBe('NETWORK');
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      `The server at http://127.0.0.1:${port}/a.jpg refused the connection`,
    );
  });

  it('rejects with ABORTED when the caller cancels', async () => {
    const controller = new AbortController();
    const fixture = await serveHttp(() => {
      controller.abort();
    });

    const error = await rejection(
      safeFetch(`${fixture.origin}/`, { ...loose, signal: controller.signal }),
    );

    expect(error.code).toBe('ABORTED');
    expect(error.retryable).toBe(false);
    await fixture.idle();
  });

  it('leaves no socket open once every fixture is closed', async () => {
    await Promise.all(closers.splice(0).map((close) => close()));

    for (let turn = 0; turn < 100 && openSockets() > 0; turn += 1) {
      await new Promise((resolve) => setImmediate(resolve));
    }

    expect(openSockets()).toBe(0);
  });
});

function openSockets(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length;
}
