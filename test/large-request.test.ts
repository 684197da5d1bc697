import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { IMAGE_PAGE_PRODUCTS } from '../src/queue/queue.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import type { RestClient, StatusBody } from './helpers/rest.ts';
import { createRestClient, csvForm } from './helpers/rest.ts';
import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/**
 * A request of more products than a queue reads from the database at once: its products are
 * stored from the upload's temporary file in batches, and its images reach the queue a page at
 * a time (on both shapes). Every image must be processed once, in file order, a URL repeated
 * on a later page included, and what the file said must come back exactly.
 */

const PRODUCTS = IMAGE_PAGE_PRODUCTS * 2 + 101;
/** Quotes, a backslash, a comma and characters outside ASCII, through CSV, JSON and jsonb. */
const ODD_NAME = 'Chaise "Lounge" \\ café ☕, 1/2';

let service: TestService;
let images: ImageServer;
let rest: RestClient;
let status: StatusBody;

beforeAll(async () => {
  [service, images] = await Promise.all([
    startTestService({ WORKER_CONCURRENCY: '4', LOG_LEVEL: 'warn' }),
    startImageServer(),
  ]);
  rest = await createRestClient(service);
  const png = await readFile(path.join(IMAGES_DIR, '1x1.png'));
  images.route('/repeated.png', (_req, res) => {
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
  });

  const repeated = `${images.url}/repeated.png`;
  const rows = Array.from({ length: PRODUCTS }, (_, i) => {
    const first = i === 0;
    const last = i === PRODUCTS - 1;
    const urls = [`${images.url}/1x1.png?n=${i}`, ...(first || last ? [repeated] : [])];
    const name = first ? `"${ODD_NAME.replaceAll('"', '""')}"` : `Product ${i + 1}`;
    return `${i + 1},${name},"${urls.join(',')}"`;
  });
  const csv = `S. No.,Product Name,Input Image Urls\n${rows.join('\n')}\n`;

  const accepted = await rest.upload(csvForm(csv), { token: service.token('alice') });
  const requestId = accepted.body.requestId ?? '';
  await service.waitForEnd(requestId);
  status = (await rest.status(requestId, service.token('alice'))).body as StatusBody;
}, 120_000);
afterAll(async () => {
  await service.stop();
  await images.close();
});

describe(`a request of ${PRODUCTS} products, more than two pages of the queue`, () => {
  it('completes every image', () => {
    expect(status.status).toBe('COMPLETED');
    expect(status.progress).toMatchObject({
      total: PRODUCTS + 2,
      completed: PRODUCTS + 2,
      failed: 0,
    });
  });

  it('keeps every product in file order, with its values as the file wrote them', () => {
    expect(status.products.map((p) => p.serialNumber)).toEqual(
      Array.from({ length: PRODUCTS }, (_, i) => i + 1),
    );
    expect(status.products[0]?.name).toBe(ODD_NAME);
    expect(status.products.at(-1)?.inputImageUrls).toEqual([
      `${images.url}/1x1.png?n=${PRODUCTS - 1}`,
      `${images.url}/repeated.png`,
    ]);
    expect(status.products.flatMap((p) => p.images).every((i) => i.outputUrl !== null)).toBe(true);
  });

  it('downloads a URL listed on the first page and the last once, and gives both its result', () => {
    const first = status.products[0]?.outputImageUrls[1];
    const last = status.products.at(-1)?.outputImageUrls[1];

    expect(images.hits.get('/repeated.png')).toBe(1);
    expect(first).toEqual(expect.any(String));
    expect(last).toBe(first);
  });
});
