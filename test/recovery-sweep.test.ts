import { readFile } from 'node:fs/promises';
import path from 'node:path';

import type { Job } from 'bullmq';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RequestStatus } from '../src/domain/request.ts';
import { GAVE_UP_MESSAGE } from '../src/processing/image.processor.ts';
import type { ImageJob } from '../src/queue/queue.ts';
import type { BullMqQueue } from '../src/queue/queue.bullmq.ts';
import { IMAGE_QUEUE_NAME } from '../src/queue/queue.bullmq.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { IMAGES_DIR, startImageServer } from './helpers/image-server.ts';
import { pgUrl, skipWithoutPostgres } from './helpers/postgres.ts';
import { redisUrl, skipWithoutRedis } from './helpers/redis.ts';
import { storeOneProductRequest } from './helpers/requests.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import type { ShapeResources } from './helpers/shape.ts';
import { productionResources } from './helpers/shape.ts';
import type { TcpProxy } from './helpers/tcp-proxy.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';

const skip = (await skipWithoutPostgres()) || (await skipWithoutRedis());

/** A sweep every few hundred ms over requests quiet for a second, instead of minutes. */
const FAST_SWEEP = { recovery: { quietMs: 1_000, intervalMs: 300 } };

function deferred<T = void>() {
  let resolve: (value: T) => void = () => undefined;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

async function untilLogged(service: TestService, text: string): Promise<void> {
  while (!service.logs().includes(text)) await new Promise((r) => setTimeout(r, 100));
}

async function uploadOne(service: TestService, url: string): Promise<string> {
  const csv = `S. No.,Product Name,Input Image Urls\n1,Chair,${url}\n`;
  const body = (await (await service.upload(csv)).json()) as UploadBody;
  return body.data?.uploadCsv.request.id ?? '';
}

describe.skipIf(skip)('the recovery sweep of a running worker', () => {
  describe('after a database outage longer than the job retries', () => {
    let proxy: TcpProxy;
    let resources: ShapeResources;
    let service: TestService;
    let images: ImageServer;
    let ended: RequestStatus;

    beforeAll(async () => {
      const target = new URL(pgUrl);
      [proxy, resources, images] = await Promise.all([
        startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) }),
        productionResources(),
        startImageServer(),
      ]);
      const database = new URL(resources.env.DATABASE_URL ?? '');
      database.port = String(proxy.port);
      service = await startTestService(
        { ...resources.env, DATABASE_URL: database.href, QUEUE_ATTEMPTS: '2' },
        FAST_SWEEP,
      );

      // The first fetch of the image is held until the database is away, so recording its
      // outcome fails, and so does every retry of the job.
      const fetched = deferred();
      const release = deferred();
      const png = await readFile(path.join(IMAGES_DIR, '1x1.png'));
      images.route('/held.png', (_req, res) => {
        fetched.resolve();
        void release.promise.then(() =>
          res.writeHead(200, { 'content-type': 'image/png' }).end(png),
        );
      });
      const requestId = await uploadOne(service, `${images.url}/held.png`);
      await fetched.promise;
      await proxy.down();
      release.resolve();
      await untilLogged(service, 'image job gave up');
      await proxy.up();

      ended = await service.waitForEnd(requestId);
    });
    afterAll(async () => {
      await service.stop();
      await resources.release();
      await proxy.close();
      await images.close();
    });

    it('completes the request once the database is back, without a restart', () => {
      expect(ended).toBe('COMPLETED');
    });
  });

  describe('with a stored request only part of whose images have a job', () => {
    let resources: ShapeResources;
    let service: TestService;
    let images: ImageServer;
    let ended: RequestStatus;

    beforeAll(async () => {
      [resources, images] = await Promise.all([productionResources(), startImageServer()]);
      service = await startTestService(resources.env, FAST_SWEEP);

      // What an API process killed while enqueueing leaves: every image stored, one enqueued.
      const { repositories, queue } = service.service.app;
      const { requestId, imageIds } = await storeOneProductRequest(
        repositories.requests,
        [0, 1, 2].map((position) => `${images.url}/1x1.png?${position}`),
      );
      await (queue as BullMqQueue).enqueue([{ imageId: imageIds[0] ?? '', requestId }]);

      ended = await service.waitForEnd(requestId);
    });
    afterAll(async () => {
      await service.stop();
      await resources.release();
      await images.close();
    });

    it('gives the images without a job one and completes the request', () => {
      expect(ended).toBe('COMPLETED');
    });
  });

  describe('with a job BullMQ failed for stalling too often', () => {
    let resources: ShapeResources;
    let api: TestService;
    let worker: TestService | undefined;
    let images: ImageServer;
    let failedReason: string | undefined;
    let stateAfterSweep: string;
    let ended: RequestStatus;
    let image: { status: string; error: string | null } | undefined;

    beforeAll(async () => {
      [resources, images] = await Promise.all([productionResources(), startImageServer()]);
      api = await startTestService({ ...resources.env, ROLE: 'api' });
      const prefix = resources.env.QUEUE_PREFIX ?? '';

      // A worker whose claims lapse without renewal while its job hangs: BullMQ sees the job
      // stall and, past maxStalledCount, fails it, as it does a job that kills its workers.
      const failed = deferred<Job<ImageJob> | undefined>();
      const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
      const stalling = new Worker<ImageJob>(IMAGE_QUEUE_NAME, () => new Promise(() => undefined), {
        connection,
        prefix,
        concurrency: 2,
        lockDuration: 500,
        stalledInterval: 300,
        maxStalledCount: 0,
        skipLockRenewal: true,
      });
      stalling.on('failed', (job) => {
        failed.resolve(job);
      });
      const requestId = await uploadOne(api, `${images.url}/1x1.png`);
      failedReason = (await failed.promise)?.failedReason;
      await stalling.close(true);

      worker = await startTestService({ ...resources.env, ROLE: 'worker' }, FAST_SWEEP);
      await untilLogged(worker, 'image job stalled too often');
      ended = await api.waitForEnd(requestId);
      const { items } = await api.service.app.repositories.requests.listProducts(
        requestId,
        1,
        null,
      );
      image = items[0]?.images[0];
      const queue = new Queue<ImageJob>(IMAGE_QUEUE_NAME, {
        connection: { url: redisUrl },
        prefix,
      });
      const [job] = await queue.getFailed();
      stateAfterSweep = (await job?.getState()) ?? 'missing';
      await queue.close();
      connection.disconnect();
    });
    afterAll(async () => {
      await worker?.stop();
      await api.stop();
      await resources.release();
      await images.close();
    });

    it('does not retry the job', () => {
      expect(failedReason).toBe('job stalled more than allowable limit');
      expect(stateAfterSweep).toBe('failed');
    });

    it('records the image as failed, saying why, and ends the request', () => {
      expect(image).toMatchObject({ status: 'FAILED', error: GAVE_UP_MESSAGE });
      expect(ended).toBe('FAILED');
    });
  });
});
