import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/** Longer than Prisma's 5 s default for an interactive transaction (C-18). */
const ANSWER_DELAY_MS = 6_000;

let service: TestService;
let images: ImageServer;
const timers = new Set<NodeJS.Timeout>();

beforeAll(async () => {
  const jpeg = await readFile(path.join(IMAGES_DIR, 'photo-landscape-0.3mp.jpg'));
  [service, images] = await Promise.all([
    startTestService({ FETCH_TIMEOUT_MS: '10000' }),
    startImageServer(),
  ]);
  images.route('/slow.jpg', (_req, res) => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length });
      res.end(jpeg);
    }, ANSWER_DELAY_MS);
    timers.add(timer);
  });
});
afterAll(async () => {
  for (const timer of timers) clearTimeout(timer);
  await service.stop();
  await images.close();
});

describe('an image whose server waits 6 s before answering', () => {
  let requestId: string;

  beforeAll(async () => {
    const csv = `S. No.,Product Name,Input Image Urls\n1,Slow lamp,${images.url}/slow.jpg\n`;
    const res = await service.upload(csv, { fileName: 'slow.csv' });
    const body = (await res.json()) as UploadBody;
    requestId = body.data?.uploadCsv.request.id ?? '';

    await service.waitForEnd(requestId);
  });

  it('ends the request COMPLETED', async () => {
    const { data } = await service.graphql(RequestWithProductsDocument, {
      id: requestId,
      first: 1,
    });

    expect(data?.request?.status).toBe('COMPLETED');
    expect(data?.request?.progress).toMatchObject({ total: 1, completed: 1, failed: 0 });
  });

  it('completes the image and serves its output', async () => {
    const { data } = await service.graphql(RequestWithProductsDocument, {
      id: requestId,
      first: 1,
    });
    const image = data?.request?.products.edges[0]?.node.images[0];

    const output = await fetch(image?.outputUrl ?? '');
    await output.arrayBuffer();

    expect(image?.status).toBe('COMPLETED');
    expect(output.status).toBe(200);
    expect(images.hits.get('/slow.jpg')).toBe(1);
  });

  it('logs no expired Prisma transaction (P2028)', () => {
    expect(service.logs()).not.toContain('P2028');
  });
});
