import { PassThrough } from 'node:stream';

import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createLogger } from '../src/observability/logger.ts';
import type { BullMqQueueOptions } from '../src/queue/queue.bullmq.ts';
import { BullMqQueue, IMAGE_JOB_RETENTION, IMAGE_QUEUE_NAME } from '../src/queue/queue.bullmq.ts';
import type { ImageJob, UnfinishedImages } from '../src/queue/queue.ts';
import {
  deleteKeysUnder,
  keysUnder,
  redisUrl,
  skipWithoutRedis,
  testRedis,
  uniquePrefix,
} from './helpers/redis.ts';
import { deferred } from './helpers/ws.ts';

const skipRedis = await skipWithoutRedis();
const logger = createLogger({ level: 'error', format: 'json', stream: new PassThrough().resume() });
const prefixes: string[] = [];
const queues: BullMqQueue[] = [];
/**
 * Most tests here add jobs themselves (`enqueue`); queueing a stored request, which reads its
 * images from the database, is covered by the production-shape tests of uploads and recovery,
 * and its paging below.
 */
const noImagesRead: UnfinishedImages = {
  pageUnfinished: () => Promise.reject(new Error('not read in these tests')),
  countPendingAfter: () => Promise.reject(new Error('not read in these tests')),
};

/** A queue under a fresh key prefix, or under `options.prefix` (another queue's keys). */
function makeQueue(options: Partial<BullMqQueueOptions> = {}): {
  queue: BullMqQueue;
  prefix: string;
} {
  const prefix = options.prefix ?? uniquePrefix('queue-test');
  if (!prefixes.includes(prefix)) prefixes.push(prefix);
  const queue = new BullMqQueue({
    redisUrl,
    prefix,
    lockMs: 30_000,
    stalledIntervalMs: 15_000,
    attempts: 5,
    images: noImagesRead,
    logger,
    ...options,
  });
  queues.push(queue);
  return { queue, prefix };
}

/** Job counts of a queue, read through BullMQ itself. */
async function jobCounts(prefix: string): Promise<Record<string, number>> {
  const inspector = new Queue(IMAGE_QUEUE_NAME, { connection: { url: redisUrl }, prefix });
  try {
    return await inspector.getJobCounts();
  } finally {
    await inspector.close();
  }
}

function job(n: number): ImageJob {
  return { imageId: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`, requestId: 'r' };
}

afterAll(async () => {
  await Promise.all(queues.map((q) => q.close(0)));
  await Promise.all(prefixes.map((p) => deleteKeysUnder(p)));
});

describe.skipIf(skipRedis)('the BullMQ image queue', () => {
  it('runs an image enqueued twice, even after it started, only once', async () => {
    const { queue } = makeQueue();
    const started = deferred();
    const release = deferred();
    const runs: string[] = [];

    await queue.enqueue([job(1), job(1)]);
    queue.process(async (j) => {
      runs.push(j.imageId);
      started.resolve();
      await release.promise;
    }, 2);
    await started.promise;
    await queue.enqueue([job(1)]);
    release.resolve();
    await queue.enqueue([job(2)]);
    await waitFor(() => runs.length >= 2);
    await queue.close(5_000);

    expect(runs).toEqual([job(1).imageId, job(2).imageId]);
  });

  it('runs a job again, after a pause, while its handler rejects, until it succeeds', async () => {
    const { queue } = makeQueue({ attempts: 3 });
    const done = deferred();
    const runs: number[] = [];

    queue.process((j) => {
      runs.push(Date.now());
      if (runs.length < 3) return Promise.reject(new Error(`transient ${j.imageId}`));
      done.resolve();
      return Promise.resolve();
    }, 1);
    await queue.enqueue([job(3)]);
    await done.promise;

    // Exponential backoff from 1 s: never sooner than 1 s, then 2 s, after a rejection.
    const [first = 0, second = 0, third = 0] = runs;
    expect(runs).toHaveLength(3);
    expect(second - first).toBeGreaterThanOrEqual(1_000);
    expect(third - second).toBeGreaterThanOrEqual(2_000);
  });

  it('reports the jobs waiting to run as its depth', async () => {
    const { queue } = makeQueue();

    await queue.enqueue([job(4), job(5), job(6)]);

    expect(await queue.depth()).toBe(3);
  });
});

describe.skipIf(skipRedis)('finished jobs kept in Redis (C-22)', () => {
  const completed = 2_000;
  const failed = 200;
  let prefix: string;
  let counts: Record<string, number>;
  let keys: string[];
  let redis: Redis;

  beforeAll(async () => {
    redis = testRedis();
    const made = makeQueue({ attempts: 1 });
    prefix = made.prefix;
    let seen = 0;
    const all = deferred();
    made.queue.process((j) => {
      seen++;
      if (seen === completed + failed) all.resolve();
      // Every eleventh job fails for good (one attempt): 200 of 2,200.
      return Number(j.imageId.slice(-12)) % 11 === 0
        ? Promise.reject(new Error('always fails'))
        : Promise.resolve();
    }, 50);
    await made.queue.enqueue(Array.from({ length: completed + failed }, (_, i) => job(i + 1)));
    await all.promise;
    await made.queue.close(10_000);
    counts = await jobCounts(prefix);
    keys = await keysUnder(redis, prefix);
  });
  afterAll(() => {
    redis.disconnect();
  });

  it('keeps only the configured number of completed jobs, and every failed one under its bound', () => {
    expect(counts.completed).toBe(IMAGE_JOB_RETENTION.completed.count);
    expect(counts.failed).toBe(failed);
    expect([counts.waiting, counts.active, counts.delayed]).toEqual([0, 0, 0]);
  });

  it('holds a key per kept job and a handful of queue keys, not one per job ever run', () => {
    const jobKeys = keys.filter((k) => /:images:[0-9a-f-]{36}$/.test(k));

    expect(jobKeys).toHaveLength(IMAGE_JOB_RETENTION.completed.count + failed);
    expect(keys.length - jobKeys.length).toBeLessThan(20);
  });
});

/** A logger of warnings and errors, and the JSON lines it has written so far. */
function capturedWarnings() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (chunk: Buffer) => lines.push(chunk.toString()));
  return { lines, logger: createLogger({ level: 'warn', format: 'json', stream }) };
}

/**
 * A stored request's unfinished images as the queue reads them, a page of two at a time: three
 * pages, the second of which is read only once `secondPage` is opened (or fails with its error).
 * It stands in for ImageRepository so that the moment a page is read can be held; the queue over
 * the real repository is covered by test/large-request.test.ts on the production shape.
 */
function heldPages(requestId: string) {
  const secondPage = deferred<Error | undefined>();
  const pages: { imageIds: string[]; next: number | null }[] = [0, 1, 2].map((page) => ({
    imageIds: [job(100 + 2 * page).imageId, job(101 + 2 * page).imageId],
    next: page < 2 ? page + 1 : null,
  }));
  const source: UnfinishedImages = {
    pageUnfinished: async (id, after) => {
      if (id !== requestId) throw new Error(`read of another request ${id}`);
      const page = after ?? 0;
      if (page === 1) {
        const failure = await secondPage.promise;
        if (failure) throw failure;
      }
      return pages[page] ?? { imageIds: [], next: null };
    },
    countPendingAfter: () => Promise.reject(new Error('not read here')),
  };
  return { source, secondPage };
}

describe.skipIf(skipRedis)("a stored request's images, queued a page at a time", () => {
  it('queues the first page before resolving and the later pages after it', async () => {
    const { source, secondPage } = heldPages('r');
    const { queue, prefix } = makeQueue({ images: source });

    await queue.enqueueRequest('r');
    const answered = await jobCounts(prefix);
    secondPage.resolve(undefined);
    await waitForAsync(async () => (await jobCounts(prefix)).waiting === 6);

    expect(answered.waiting).toBe(2);
  });

  it('stops at the end of the page under way when it closes, and revive queues the rest', async () => {
    const { source, secondPage } = heldPages('r');
    const warnings = capturedWarnings();
    const { queue, prefix } = makeQueue({ images: source, logger: warnings.logger });

    await queue.enqueueRequest('r');
    const closed = queue.close(0);
    secondPage.resolve(undefined);
    await closed;
    const afterStop = await jobCounts(prefix);
    await makeQueue({ images: source, prefix }).queue.revive('r');

    expect(afterStop.waiting).toBe(4);
    expect((await jobCounts(prefix)).waiting).toBe(6);
    expect(warnings.lines.join('')).toContain("stopped queueing a request's images");
  });

  it('revives a request only up to the page under way once its stop signal is aborted', async () => {
    const { source, secondPage } = heldPages('r');
    const { queue, prefix } = makeQueue({ images: source });
    const stop = new AbortController();

    const reviving = queue.revive('r', stop.signal);
    await waitForAsync(async () => (await jobCounts(prefix)).waiting === 2);
    stop.abort();
    secondPage.resolve(undefined);
    await reviving;

    expect((await jobCounts(prefix)).waiting).toBe(4);
  });

  it('logs a later page that cannot be queued, for the recovery sweep, and keeps the request', async () => {
    const { source, secondPage } = heldPages('r');
    const { lines, logger: warningLogger } = capturedWarnings();
    const { queue, prefix } = makeQueue({ images: source, logger: warningLogger });

    await queue.enqueueRequest('r');
    secondPage.resolve(new Error('the database went away'));
    await waitFor(() => lines.some((line) => line.includes('recovery sweep will queue them')));

    const warning: unknown = JSON.parse(
      lines.find((line) => line.includes('recovery sweep')) ?? '{}',
    );
    expect(warning).toMatchObject({ level: 'warn', requestId: 'r' });
    expect(JSON.stringify(warning)).toContain('the database went away');
    expect((await jobCounts(prefix)).waiting).toBe(2);
  });
});

/** Resolves once `probe` holds, checking every 20 ms (a wait, not a timed assertion). */
async function waitFor(probe: () => boolean): Promise<void> {
  while (!probe()) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** Resolves once `probe` holds, checking every 50 ms (a wait, not a timed assertion). */
async function waitForAsync(probe: () => Promise<boolean>): Promise<void> {
  while (!(await probe())) await new Promise((resolve) => setTimeout(resolve, 50));
}
