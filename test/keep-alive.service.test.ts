import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { IMAGES_DIR } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/** One image server, and when each connection it accepted was closed. */
let server: http.Server;
let origin: string;
const closedAt: number[] = [];
let accepted = 0;

beforeAll(async () => {
  const photo = await readFile(path.join(IMAGES_DIR, 'progressive.jpg'));
  server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': photo.length });
    res.end(photo);
  });
  server.on('connection', (socket: Socket) => {
    accepted += 1;
    socket.once('close', () => closedAt.push(Date.now()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await once(server, 'close');
});

describe('image downloads of one service', () => {
  let service: TestService;
  let status: string;

  beforeAll(async () => {
    service = await startTestService({ WORKER_CONCURRENCY: '1' });
    const rows = [1, 2, 3].map((n) => `${n},Lamp ${n},${origin}/lamp-${n}.jpg`);
    const csv = `S. No.,Product Name,Input Image Urls\n${rows.join('\n')}\n`;
    const body = (await (await service.upload(csv)).json()) as UploadBody;

    status = await service.waitForEnd(body.data?.uploadCsv.request.id ?? '');
  });

  it('fetch three images from one server over one connection', () => {
    expect(status).toBe('COMPLETED');
    expect(accepted).toBe(1);
  });

  it('leave no connection open once the service has stopped', async () => {
    await service.stop();
    const stoppedAt = Date.now();

    // Closed by the shutdown, not by the 4 s idle timeout afterwards.
    expect(closedAt).toHaveLength(accepted);
    expect(Math.max(...closedAt)).toBeLessThanOrEqual(stoppedAt);
  });
});
