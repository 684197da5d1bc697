import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestByIdDocument, RequestWithProductsDocument } from './generated/graphql.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/** A loopback server that answers every request and counts it; any hit means a leak. */
interface Canary {
  port: number;
  hits: () => number;
  close: () => Promise<void>;
}

async function listen(server: http.Server, port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    server.once('error', () => {
      resolve(false);
    });
    server.listen(port, host, () => {
      resolve(true);
    });
  });
}

/** Listens on 127.0.0.1, and on [::1] at the same port when the host has IPv6 loopback. */
async function startCanary(): Promise<Canary> {
  let hits = 0;
  const handler: http.RequestListener = (_req, res) => {
    hits += 1;
    res.writeHead(200, { 'content-type': 'image/jpeg' }).end('canary');
  };
  const v4 = http.createServer(handler);
  await listen(v4, 0, '127.0.0.1');
  const { port } = v4.address() as AddressInfo;
  const v6 = http.createServer(handler);
  const servers = (await listen(v6, port, '::1')) ? [v4, v6] : [v4];

  return {
    port,
    hits: () => hits,
    close: async () => {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    },
  };
}

let service: TestService;
let canary: Canary;

beforeAll(async () => {
  [service, canary] = await Promise.all([
    startTestService({ ALLOW_PRIVATE_NETWORK: 'false' }),
    startCanary(),
  ]);
});
afterAll(async () => {
  await service.stop();
  await canary.close();
});

describe('image URLs that point at this machine', () => {
  const hosts = [
    '127.0.0.1',
    '[::ffff:127.0.0.1]',
    '2130706433',
    '0x7f.1',
    'localhost.',
    'localhost',
    '[::1]',
    '0.0.0.0',
  ];

  it('fails every image as a refused address without connecting to any of them', async () => {
    const urls = hosts.map((host) => `http://${host}:${canary.port}/x.jpg`);
    const rows = urls.map((url, i) => `${i + 1},Product ${i + 1},${url}`);
    const res = await service.upload(`S. No.,Product Name,Input Image Urls\n${rows.join('\n')}\n`);
    const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';

    const status = await service.waitForEnd(id);
    const { data } = await service.graphql(RequestWithProductsDocument, { id, first: 20 });
    const images = data?.request?.products.edges.flatMap((edge) => edge.node.images) ?? [];

    expect(status).toBe('FAILED');
    expect(images.map(({ status, error }) => ({ status, error }))).toEqual(
      hosts.map(() => ({
        status: 'FAILED',
        error: expect.stringMatching(/^The (address|host) .+, which is not allowed$/) as string,
      })),
    );
    expect(canary.hits()).toBe(0);
  });

  it('refuses a name without telling the uploader its address, which only the log keeps', async () => {
    const csv = `S. No.,Product Name,Input Image Urls\n1,Named,http://localhost:${canary.port}/x.jpg\n`;
    const res = await service.upload(csv, { token: service.token('names') });
    const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';

    await service.waitForEnd(id);
    const { data } = await service.graphql(
      RequestWithProductsDocument,
      { id, first: 1 },
      service.token('names'),
    );
    const image = data?.request?.products.edges[0]?.node.images[0];
    const logged = service
      .logs()
      .split('\n')
      .filter((line) => line.includes(id) && line.includes('"image processed"'));

    expect(image?.error).toBe(
      'The host localhost resolves to a loopback address, which is not allowed',
    );
    expect(logged.map((line) => (JSON.parse(line) as { address?: string }).address)).toEqual([
      '127.0.0.1',
    ]);
  });

  it('rejects a file:// URL while validating the CSV, storing nothing', async () => {
    const csv = 'S. No.,Product Name,Input Image Urls\n1,Passwords,file:///etc/passwd\n';

    const res = await service.upload(csv, { token: service.token('file-scheme') });
    const error = ((await res.json()) as UploadBody).errors?.[0];
    const stored = await service.service.app.repositories.requests.list('file-scheme', 10, null);

    expect(error?.extensions?.code).toBe('CSV_INVALID');
    expect(error?.extensions?.problems?.map((p) => [p.line, p.column])).toEqual([
      [2, 'Input Image Urls'],
    ]);
    expect(stored.items).toEqual([]);
  });
});

describe('a request of thousands of images all refused before any connection', () => {
  // Such an image needs no I/O at all on the embedded shape, so nothing between two of them
  // gave other work a turn: the service answered nothing else until the last had failed.
  it('answers a status query while the request is still running', async () => {
    const rows = Array.from(
      { length: 1_000 },
      (_, i) =>
        `${i + 1},Product ${i + 1},"${[1, 2, 3].map((k) => `http://127.0.0.1:${canary.port}/${i}-${k}.jpg`).join(',')}"`,
    );
    const token = service.token('refused-many');
    const res = await service.upload(`S. No.,Product Name,Input Image Urls\n${rows.join('\n')}\n`, {
      token,
    });
    const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';

    const { data } = await service.graphql(RequestByIdDocument, { id }, token);
    const progress = data?.request?.progress;

    expect(data?.request?.status).toMatch(/^(PENDING|PROCESSING)$/);
    expect(progress?.total).toBe(3_000);
    expect(progress?.pending).toBeGreaterThan(0);
    expect(canary.hits()).toBe(0);
  });
});
