import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

let service: TestService;
let images: ImageServer;

beforeAll(async () => {
  [service, images] = await Promise.all([
    startTestService({ WORKER_CONCURRENCY: '4' }),
    startImageServer(),
  ]);
});
afterAll(async () => {
  await service.stop();
  await images.close();
});

async function upload(csv: string): Promise<string> {
  const body = (await (await service.upload(csv)).json()) as UploadBody;
  expect(body.errors).toBeUndefined();
  return body.data?.uploadCsv.request.id ?? '';
}

async function imagesOf(id: string) {
  const { data } = await service.graphql(RequestWithProductsDocument, { id, first: 100 });
  return {
    request: data?.request,
    images: data?.request?.products.edges.flatMap((e) => e.node.images) ?? [],
  };
}

/** Resolves once the service's queue has handed out every job it holds. */
async function queueEmptied(): Promise<void> {
  while ((await service.service.app.queue.depth()) > 0) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('a URL listed several times in one request', () => {
  let id: string;

  beforeAll(async () => {
    // The repeated photo is held until every other job has been taken, so the followers' jobs
    // run while their leader is still downloading.
    let release = (): void => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    images.route('/held/photo.jpg', (_req, res) => {
      void held.then(() => res.writeHead(302, { location: '/progressive.jpg' }).end());
    });
    const photo = `${images.url}/held/photo.jpg`;
    const missing = `${images.url}/missing.jpg`;
    const csv = [
      'S. No.,Product Name,Input Image Urls',
      `1,Chair,"${photo},${images.url}/1x1.png,${photo}"`,
      `2,Table,"${photo},${missing}"`,
      `3,Lamp,"${missing},${photo}"`,
    ].join('\n');

    id = await upload(csv);
    await queueEmptied();
    release();
    await service.waitForEnd(id);
  });

  it('is downloaded once, and a repeated missing URL is asked for once', () => {
    expect(images.hits.get('/held/photo.jpg')).toBe(1);
    expect(images.hits.get('/missing.jpg')).toBe(1);
  });

  it('gives every listing the same output URL and status', async () => {
    const { images: all } = await imagesOf(id);
    const photos = all.filter((i) => i.inputUrl.endsWith('/held/photo.jpg'));
    const missing = all.filter((i) => i.inputUrl.endsWith('/missing.jpg'));

    expect(photos.map((i) => i.status)).toEqual([
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
      'COMPLETED',
    ]);
    expect(new Set(photos.map((i) => i.outputUrl)).size).toBe(1);
    expect(missing.map((i) => [i.status, i.error])).toEqual([
      ['FAILED', 'The image was not found at its URL (HTTP 404)'],
      ['FAILED', 'The image was not found at its URL (HTTP 404)'],
    ]);
  });

  it('counts each listing once, so the request ends with every image counted', async () => {
    const { request } = await imagesOf(id);

    expect(request?.status).toBe('COMPLETED_WITH_ERRORS');
    expect(request?.progress).toEqual({
      total: 7,
      completed: 5,
      failed: 2,
      pending: 0,
      percent: 100,
    });
  });

  it('writes the output URL in every place of the output CSV', async () => {
    const { request, images: all } = await imagesOf(id);
    const output = await (await fetch(request?.outputCsvUrl ?? '')).text();
    const rows = parse<Record<string, string>>(output, { columns: true });
    const photoUrl = all.find((i) => i.inputUrl.endsWith('/held/photo.jpg'))?.outputUrl ?? '';

    expect(rows.map((r) => r['Output Image Urls']?.split(','))).toEqual([
      [photoUrl, expect.stringMatching(/\.png$/) as string, photoUrl],
      [photoUrl, ''],
      ['', photoUrl],
    ]);
  });
});

describe('the same URL in two requests', () => {
  it('is fetched once per request, since each request has its own options', async () => {
    const csv = `S. No.,Product Name,Input Image Urls\n1,Chair,"${images.url}/grayscale.jpg"\n`;

    const first = await upload(csv);
    await service.waitForEnd(first);
    const second = await upload(csv);
    await service.waitForEnd(second);

    expect(images.hits.get('/grayscale.jpg')).toBe(2);
  });
});
