import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';

export const FIXTURES_DIR = path.resolve(import.meta.dirname, '../fixtures');
export const IMAGES_DIR = path.join(FIXTURES_DIR, 'images');

const CONTENT_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.png': 'image/png',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.avif': 'image/avif',
  '.tiff': 'image/tiff',
  '.svg': 'image/svg+xml',
};

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** A loopback HTTP server that serves the fixture images, plus any routes a test adds. */
export interface ImageServer {
  url: string;
  /** Requests received, by path. */
  hits: Map<string, number>;
  route(pathname: string, handler: Handler): void;
  close(): Promise<void>;
}

export async function startImageServer(): Promise<ImageServer> {
  const routes = new Map<string, Handler>();
  const hits = new Map<string, number>();
  const sockets = new Set<Socket>();

  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    hits.set(pathname, (hits.get(pathname) ?? 0) + 1);
    const custom = routes.get(pathname);
    if (custom) {
      custom(req, res);
      return;
    }

    const file = path.join(IMAGES_DIR, path.basename(pathname));
    readFile(file).then(
      (body) => {
        res.writeHead(200, {
          'content-type': CONTENT_TYPES[path.extname(file)] ?? 'application/octet-stream',
          'content-length': body.length,
        });
        res.end(body);
      },
      () => {
        res.writeHead(404).end('not found');
      },
    );
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    route: (pathname, handler) => {
      routes.set(pathname, handler);
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

/** A fixture CSV with `{base}` replaced by the image server's URL. */
export async function fixtureCsv(name: string, base: string): Promise<string> {
  const text = await readFile(path.join(FIXTURES_DIR, 'csv', name), 'utf8');
  return text.replaceAll('{base}', base);
}
