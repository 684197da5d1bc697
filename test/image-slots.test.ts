import { readFile } from 'node:fs/promises';
import path from 'node:path';

import { Queue } from 'bullmq';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestWithProductsDocument } from './generated/graphql.ts';
import { IMAGE_QUEUE_NAME } from '../src/queue/queue.bullmq.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import type { TestDatabase } from './helpers/postgres.ts';
import { createTestDatabase, dropTestDatabase, skipWithoutPostgres } from './helpers/postgres.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import { scrape, valueOf } from './helpers/metrics.ts';
import { redisUrl, skipWithoutRedis } from './helpers/redis.ts';
import type { ShapeResources } from './helpers/shape.ts';
import { productionResources, testShape } from './helpers/shape.ts';
import type { Deferred } from './helpers/ws.ts';
import { deferred, within } from './helpers/ws.ts';

/**
 * WORKER_CONCURRENCY counts images being claimed, downloaded, encoded and stored. The queue runs
 * twice as many jobs, so recording an outcome (a database round trip) never keeps an image slot
 * idle; these tests hold both sides of that.
 */

const jpeg = await readFile(path.join(IMAGES_DIR, 'photo-landscape-0.3mp.jpg'));
const skipPostgres = await skipWithoutPostgres();
const skipBullMq = skipPostgres || (await skipWithoutRedis());
const METRICS_TOKEN = 'metrics-token-for-the-slot-tests';

/** `/held.jpg` on a test's image server: each download waits until the test sends it. */
interface HeldImages {
  /** Resolves once the `n`-th download (from 0, in the order asked) has been asked for. */
  asked(n: number): Promise<void>;
  /** Sends the `n`-th download asked for, if it has been asked for. */
  send(n: number): void;
  /** Sends every download held, and from then on answers at once. */
  releaseAll(): void;
}

function holdImages(images: ImageServer): HeldImages {
  const sends: (() => void)[] = [];
  const asked: Deferred<void>[] = [];
  const askedAt = (n: number) => (asked[n] ??= deferred());
  let holding = true;
  images.route('/held.jpg', (_req, res) => {
    const send = () => {
      if (res.headersSent) return;
      res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length });
      res.end(jpeg);
    };
    askedAt(sends.length).resolve();
    sends.push(send);
    if (!holding) send();
  });
  return {
    asked: (n) => askedAt(n).promise,
    send: (n) => sends[n]?.(),
    releaseAll: () => {
      holding = false;
      for (const send of sends) send();
    },
  };
}

function csvOf(urls: readonly string[]): string {
  return `S. No.,Product Name,Input Image Urls\n1,Lamp,"${urls.join(',')}"\n`;
}

async function uploadId(service: TestService, urls: readonly string[]): Promise<string> {
  const res = await service.upload(csvOf(urls));
  const id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id;
  if (!id) throw new Error(`upload refused (HTTP ${res.status})`);
  return id;
}

describe('images downloaded at once', () => {
  const CONCURRENCY = 2;
  const IMAGES = 10;
  let service: TestService;
  let images: ImageServer;
  let inFlight = 0;
  let mostInFlight = 0;

  beforeAll(async () => {
    [service, images] = await Promise.all([
      startTestService({ WORKER_CONCURRENCY: String(CONCURRENCY) }),
      startImageServer(),
    ]);
    // Each answer waits 150 ms, long enough for every job the queue runs to reach its download.
    images.route('/slow.jpg', (_req, res) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      setTimeout(() => {
        inFlight -= 1;
        res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length });
        res.end(jpeg);
      }, 150);
    });
  });
  afterAll(async () => {
    await service.stop();
    await images.close();
  });

  it('never exceed WORKER_CONCURRENCY, and reach it', async () => {
    const urls = Array.from({ length: IMAGES }, (_, i) => `${images.url}/slow.jpg?n=${i}`);
    const id = await uploadId(service, urls);

    const status = await service.waitForEnd(id);

    expect(status).toBe('COMPLETED');
    expect(images.hits.get('/slow.jpg')).toBe(IMAGES);
    expect(mostInFlight).toBe(CONCURRENCY);
  });
});

// The in-process queue's overlap: a BullMQ worker takes one job per slot (the last describe), so
// on the production shape there is nothing to overlap.
describe.skipIf(skipPostgres || testShape === 'production')(
  'an image whose outcome cannot be recorded yet',
  () => {
    let database: TestDatabase | undefined;
    let service: TestService;
    let images: ImageServer;
    let locker: pg.Client;
    let held: HeldImages;

    beforeAll(async () => {
      // The embedded database serves one connection; the lock below needs a second one.
      if (testShape === 'embedded') database = await createTestDatabase();
      [service, images] = await Promise.all([
        startTestService({
          WORKER_CONCURRENCY: '1',
          ...(database && { DATABASE_URL: database.url }),
        }),
        startImageServer(),
      ]);
      held = holdImages(images);
      locker = new pg.Client({ connectionString: service.service.app.config.database.url });
      await locker.connect();
    });
    afterAll(async () => {
      held.releaseAll();
      await locker.query('ROLLBACK').catch(() => undefined);
      await locker.end();
      await service.stop();
      await images.close();
      if (database) await dropTestDatabase(database.name);
    });

    it('leaves its image slot to the next image, and both are counted once', async () => {
      const id = await uploadId(service, [
        `${images.url}/held.jpg?n=1`,
        `${images.url}/held.jpg?n=2`,
      ]);
      // Either image may take the one slot first; the other waits for it.
      await within(held.asked(0), 10_000, 'a first download');

      // Recording an outcome locks the request row first; while this transaction holds it, the
      // first image can be downloaded, encoded and stored, but not recorded.
      await locker.query('BEGIN');
      await locker.query('SELECT id FROM requests WHERE id = $1 FOR UPDATE', [id]);
      held.send(0);
      await within(
        held.asked(1),
        10_000,
        'the second download while the first image is unrecorded',
      );
      held.send(1);
      const { rows } = await locker.query<{ completed: number }>(
        'SELECT completed_images AS completed FROM requests WHERE id = $1',
        [id],
      );
      await locker.query('COMMIT');
      const status = await service.waitForEnd(id);
      const { data } = await service.graphql(RequestWithProductsDocument, { id });

      expect(rows[0]?.completed).toBe(0);
      expect(status).toBe('COMPLETED');
      expect(data?.request?.progress).toMatchObject({ total: 2, completed: 2, failed: 0 });
      expect(images.hits.get('/held.jpg')).toBe(2);
    });
  },
);

describe('a worker that stops while a job waits for an image slot', () => {
  let service: TestService;
  let images: ImageServer;
  let held: HeldImages;

  beforeAll(async () => {
    [service, images] = await Promise.all([
      startTestService({ WORKER_CONCURRENCY: '1', METRICS_TOKEN }),
      startImageServer(),
    ]);
    held = holdImages(images);
  });
  afterAll(async () => {
    held.releaseAll();
    await service.stop();
    await images.close();
  });

  it('finishes the image it claimed and gives back the one that had no slot yet', async () => {
    const urls = [1, 2, 3].map((n) => `${images.url}/held.jpg?n=${n}`);
    const id = await uploadId(service, urls);
    // One job holds the slot, downloading; a second waits for the slot; the third is queued.
    await within(held.asked(0), 10_000, 'the first download');
    const { samples } = await scrape(service.url, METRICS_TOKEN);

    service.service.app.processor.stop();
    held.send(0);
    const recorded = await waitUntilAsync(async () => {
      const { data } = await service.graphql(RequestWithProductsDocument, { id });
      return data?.request?.progress.completed === 1;
    }, 10_000);
    // The slot is free before the outcome is recorded: a job that took it would be asking now.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { data } = await service.graphql(RequestWithProductsDocument, { id });
    const statuses = data?.request?.products.edges[0]?.node.images.map((i) => i.status);

    expect(valueOf(samples, 'image_pipeline_queue_depth')).toBe(2);
    expect(recorded).toBe(true);
    expect(images.hits.get('/held.jpg')).toBe(1);
    expect(statuses).toEqual(['COMPLETED', 'PENDING', 'PENDING']);
    expect(data?.request?.status).toBe('PROCESSING');
  });
});

describe.skipIf(skipBullMq)('a BullMQ worker with one image slot', () => {
  let resources: ShapeResources;
  let service: TestService;
  let images: ImageServer;
  let queue: Queue;
  let held: HeldImages;

  beforeAll(async () => {
    resources = await productionResources();
    [service, images] = await Promise.all([
      startTestService({ ...resources.env, WORKER_CONCURRENCY: '1' }),
      startImageServer(),
    ]);
    held = holdImages(images);
    queue = new Queue(IMAGE_QUEUE_NAME, {
      connection: {
        host: new URL(redisUrl).hostname,
        port: Number(new URL(redisUrl).port || 6379),
      },
      prefix: resources.env.QUEUE_PREFIX ?? '',
    });
  });
  afterAll(async () => {
    held.releaseAll();
    await queue.close();
    await service.stop();
    await images.close();
    await resources.release();
  });

  it('takes one job at a time, leaving the others waiting for any worker', async () => {
    const urls = [1, 2, 3].map((n) => `${images.url}/held.jpg?n=${n}`);
    const id = await uploadId(service, urls);
    await within(held.asked(0), 10_000, 'the first download');
    // A second job taken now would be locked to this worker while it waited for the slot.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const counts = await queue.getJobCounts('active', 'waiting');
    held.releaseAll();
    const status = await service.waitForEnd(id);

    expect(counts).toEqual({ active: 1, waiting: 2 });
    expect(status).toBe('COMPLETED');
  });
});

/** Polls `probe` every 50 ms until it resolves true or `ms` pass; resolves with its last answer. */
async function waitUntilAsync(probe: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
