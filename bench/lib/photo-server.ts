import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

import { ALL_PHOTOS, photoFor } from './photo-set.ts';

/** A loopback server that answers `/photo.jpg?n=<index>` with that index's fixture photo. */
export interface PhotoServer {
  /** For example `http://127.0.0.1:40123`. */
  baseUrl: string;
  /** Photos answered so far. */
  served(): number;
  close(): Promise<void>;
}

/**
 * Serves the photo set from memory on 127.0.0.1 and an ephemeral port. Files are read once at
 * start, so answering costs the same in every mode and run.
 *
 * @param fixturesDir - the folder holding the fixture files
 */
export async function startPhotoServer(fixturesDir: string): Promise<PhotoServer> {
  const photos = new Map<string, Buffer>();
  for (const name of ALL_PHOTOS) photos.set(name, await readFile(path.join(fixturesDir, name)));

  let served = 0;
  const server = http.createServer((req, res) => {
    const body = bodyFor(req.url ?? '', photos);
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    served += 1;
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': body.length });
    res.end(body);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    baseUrl: `http://127.0.0.1:${port}`,
    served: () => served,
    close: () => closeServer(server),
  };
}

function bodyFor(rawUrl: string, photos: Map<string, Buffer>): Buffer | undefined {
  const url = new URL(rawUrl, 'http://127.0.0.1');
  const n = Number(url.searchParams.get('n'));
  if (url.pathname !== '/photo.jpg' || !Number.isInteger(n) || n < 0) return undefined;
  return photos.get(photoFor(n));
}

function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => {
      resolve();
    });
    server.closeAllConnections();
  });
}
