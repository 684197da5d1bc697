import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { rssQuarters, sampleRss } from '../bench/lib/rss-samples.ts';
import type { RssQuarters } from '../bench/lib/rss-samples.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

/**
 * A lighter form of `bench/memory.ts` (case C-08): 300 small real photos through the whole
 * service in this process, with its RSS sampled as they are done. The bench runs 2,000.
 */

const IMAGES = 300;
/** Median RSS may grow this much from the first quarter of the images to the last. */
const TOLERANCE_MB = 50;
const PHOTOS = [
  'photo-landscape-0.3mp.jpg',
  'progressive.jpg',
  'exif-orientation-6.jpg',
  'cmyk.jpg',
  'grayscale.jpg',
];

let service: TestService;
let images: ImageServer;
let quarters: RssQuarters;
let completed = 0;

beforeAll(async () => {
  [service, images] = await Promise.all([
    startTestService({ WORKER_CONCURRENCY: '2', LOG_LEVEL: 'warn' }),
    startImageServer(),
  ]);
  // Each URL distinct, so none is taken for a repeat of another.
  const rows = Array.from({ length: IMAGES / 10 }, (_, row) => {
    const urls = Array.from({ length: 10 }, (_, i) => {
      const n = row * 10 + i;
      return `${images.url}/${PHOTOS[n % PHOTOS.length] ?? ''}?n=${n}`;
    });
    return `${row + 1},Product ${row + 1},"${urls.join(',')}"`;
  });
  const csv = `S. No.,Product Name,Input Image Urls\n${rows.join('\n')}\n`;

  let done = 0;
  const stop = sampleRss(() => done);
  const body = (await (await service.upload(csv)).json()) as UploadBody;
  const id = body.data?.uploadCsv.request.id ?? '';
  const off = await service.service.app.events.subscribe(id, (event) => {
    done = Math.max(done, event.progress.completed + event.progress.failed);
    completed = event.progress.completed;
  });
  await service.waitForEnd(id);
  off();
  quarters = rssQuarters(stop(), IMAGES);
}, 120_000);
afterAll(async () => {
  await service.stop();
  await images.close();
});

describe(`memory over ${IMAGES} images`, () => {
  it('processes every image', () => {
    expect(completed).toBe(IMAGES);
  });

  it('runs with the libvips cache off and one libvips thread per image on two workers', () => {
    expect(sharp.cache().items.max).toBe(0);
    expect(sharp.concurrency()).toBeLessThanOrEqual(2);
  });

  it(`keeps the median RSS of the last quarter within ${TOLERANCE_MB} MB of the first`, () => {
    const figures = `RSS ${quarters.firstQuarterMb.toFixed(1)} → ${quarters.lastQuarterMb.toFixed(1)} MB`;

    expect(quarters.samples, figures).toBeGreaterThan(20);
    expect(quarters.growthMb, figures).toBeLessThan(TOLERANCE_MB);
  });
});
