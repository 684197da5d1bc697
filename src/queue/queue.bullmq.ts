import type { Job } from 'bullmq';
import { Queue, WaitingError, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

import type { Logger } from '../observability/logger.ts';
import { closeRedisClient, createRedisClient, logQueueErrors } from '../redis/redis.client.ts';
import { IMAGE_PAGE_PRODUCTS, JobNotStartedError } from './queue.ts';
import type {
  ImageJob,
  ImageJobHandler,
  JobQueue,
  Revived,
  UnfinishedImages,
  UnfinishedPage,
} from './queue.ts';
import { settleWithin } from './settle.ts';

/** The BullMQ queue that carries image jobs, under the configured key prefix. */
export const IMAGE_QUEUE_NAME = 'images';

/**
 * How many finished jobs Redis keeps, and for how long (seconds). Finished work is recorded
 * in the database, so these only serve inspection; without a bound, one job per image would
 * fill Redis's memory.
 */
export const IMAGE_JOB_RETENTION = {
  completed: { count: 1_000, age: 24 * 3600 },
  failed: { count: 5_000, age: 7 * 24 * 3600 },
} as const;

/** Pause before the first retry of a job whose handler rejected; doubled at each retry. */
const BACKOFF_MS = 1_000;
/** Jobs sent to Redis per round trip when a large request is enqueued. */
const ENQUEUE_CHUNK = 1_000;
/**
 * The reason BullMQ gives a job it failed after it stalled more than `maxStalledCount` times.
 * BullMQ exports no constant for it.
 */
const STALLED_TOO_OFTEN = 'job stalled more than allowable limit';

export interface BullMqQueueOptions {
  redisUrl: string;
  /** Key prefix of every queue key, so several deployments can share one Redis. */
  prefix: string;
  /**
   * How long a worker's claim on a job lasts unless renewed (it is renewed every half of it
   * while the job runs). A worker that dies leaves its jobs to be taken again within about
   * `lockMs + stalledIntervalMs`.
   */
  lockMs: number;
  /** How often workers look for jobs whose claim lapsed. */
  stalledIntervalMs: number;
  /** Runs of a job whose handler keeps rejecting (transient failures), the first included. */
  attempts: number;
  retention?: { completed: { count: number; age: number }; failed: { count: number; age: number } };
  /** Where a request's unfinished images are read, a page at a time, to be queued. */
  images: UnfinishedImages;
  logger: Logger;
}

interface Running {
  job: Job<ImageJob>;
  token: string | undefined;
  done: Promise<unknown>;
  /** Ends the job's run at once, its handler left behind: the job has been handed back. */
  release(): void;
}

/**
 * The job queue of the production shape: image jobs in Redis through BullMQ, shared by every
 * API process (which enqueues) and worker process (which processes).
 *
 * Each image is one job whose id is the image's id, so enqueueing an image again (a second
 * upload of it cannot happen; the recovery sweep can) adds nothing while its job exists. A
 * rejected handler is retried with exponential backoff; a job whose worker died is taken
 * again once its lock lapses. Delivery is at least once: the handler makes a second run
 * harmless, since the database records each image's outcome once.
 */
export class BullMqQueue implements JobQueue {
  readonly kind = 'bullmq';
  /**
   * One: a job a worker has taken is locked to it and counted as stalled when the worker dies,
   * so jobs waiting there for a slot would be kept from other workers and count crashes they
   * had no part in.
   */
  readonly jobsPerSlot = 1;
  private readonly connection: Redis;
  private readonly queue: Queue<ImageJob>;
  private worker: Worker<ImageJob> | undefined;
  private workerConnection: Redis | undefined;
  private readonly running = new Map<string, Running>();
  /** Requests whose later pages are being queued after their upload was answered. */
  private readonly feeding = new Set<Promise<void>>();
  private closing: Promise<void> | undefined;

  constructor(private readonly options: BullMqQueueOptions) {
    const retention = options.retention ?? IMAGE_JOB_RETENTION;
    // An upload waits at most a couple of reconnection attempts, then fails with an error,
    // rather than hanging while Redis is down.
    this.connection = createRedisClient(
      options.redisUrl,
      `${options.prefix}:queue`,
      options.logger,
      {
        maxRetriesPerRequest: 2,
      },
    );
    this.queue = new Queue<ImageJob>(IMAGE_QUEUE_NAME, {
      connection: this.connection,
      prefix: options.prefix,
      defaultJobOptions: {
        attempts: options.attempts,
        backoff: { type: 'exponential', delay: BACKOFF_MS },
        removeOnComplete: retention.completed,
        removeOnFail: retention.failed,
      },
    });
    logQueueErrors(this.queue, () => this.connection, options.logger, 'image queue error');
  }

  /** Adds jobs for these images; an image that has a job already gets no second one. */
  async enqueue(jobs: readonly ImageJob[]): Promise<void> {
    for (let start = 0; start < jobs.length; start += ENQUEUE_CHUNK) {
      await this.queue.addBulk(
        jobs.slice(start, start + ENQUEUE_CHUNK).map((job) => ({
          name: 'image',
          data: job,
          opts: { jobId: job.imageId },
        })),
      );
    }
  }

  /**
   * Adds the jobs of the request's first page of unfinished images, then resolves: an upload is
   * refused, and nothing of it kept, when Redis cannot take even those. The later pages are read
   * and added after that, while the upload is answered and the first images are processed: on
   * a large request they are most of the upload's time (300,000 jobs: some 22 s of a 30 s
   * upload on two cores shared with PostgreSQL and Redis). Should Redis fail meanwhile, or the
   * process stop, the images left without a job are the recovery sweep's (RecoverySweep): it
   * adds them once the request has been quiet a while, or at the next start of a worker.
   */
  async enqueueRequest(requestId: string): Promise<void> {
    const first = await this.queuePage(requestId, null);
    if (first.next === null) return;
    const { logger } = this.options;
    const rest = this.eachPage(requestId, () => Promise.resolve(), first.next).then(
      (finished) => {
        if (finished) return;
        logger.warn(
          "stopped queueing a request's images; a worker's recovery sweep will queue the rest",
          { requestId },
        );
      },
      (error: unknown) => {
        logger.warn(
          "queueing a request's later images failed; the recovery sweep will queue them",
          { requestId, error },
        );
      },
    );
    this.feeding.add(rest);
    void rest.finally(() => this.feeding.delete(rest));
  }

  /**
   * Adds the jobs Redis has lost (an existing id adds nothing), then moves back to waiting, with
   * a full set of attempts, each failed job of the request but those that stalled too often.
   * Two processes may revive the same job: the second finds it no longer failed, and leaves it.
   */
  async revive(requestId: string, stop?: AbortSignal): Promise<Revived> {
    // At most the retained failed jobs (IMAGE_JOB_RETENTION), whatever the request's size.
    const failed = new Set(await this.queue.getRanges(['failed'], 0, -1));
    const revived: Revived = { retried: 0, stalled: [] };
    await this.eachPage(
      requestId,
      async (imageIds) => {
        for (const id of imageIds.filter((imageId) => failed.has(imageId))) {
          const job = await this.queue.getJob(id);
          if (!job) continue;
          if (job.failedReason === STALLED_TOO_OFTEN) revived.stalled.push(id);
          else if (await this.retryFailed(job)) revived.retried += 1;
        }
      },
      null,
      stop,
    );
    return revived;
  }

  /**
   * Queues each page of the request's unfinished images from the one after `after`, then hands
   * the page to `then`. Stops early, its work left to the recovery sweep, when the queue closes
   * or `stop` is aborted.
   *
   * @returns whether every page was queued
   */
  private async eachPage(
    requestId: string,
    then: (imageIds: string[]) => Promise<void>,
    after: number | null = null,
    stop?: AbortSignal,
  ): Promise<boolean> {
    let next = after;
    do {
      if (this.closing || stop?.aborted) return false;
      const page = await this.queuePage(requestId, next);
      await then(page.imageIds);
      next = page.next;
    } while (next !== null);
    return true;
  }

  /** Reads one page of the request's unfinished images and adds a job for each. */
  private async queuePage(requestId: string, after: number | null): Promise<UnfinishedPage> {
    const page = await this.options.images.pageUnfinished(requestId, after, IMAGE_PAGE_PRODUCTS);
    await this.enqueue(page.imageIds.map((imageId) => ({ imageId, requestId })));
    return page;
  }

  process(handler: ImageJobHandler, concurrency: number): void {
    if (this.worker) throw new Error('BullMqQueue.process may be called once');
    const { logger } = this.options;
    // Blocking commands must wait out an outage, not fail: BullMQ needs no retry limit here.
    this.workerConnection = createRedisClient(
      this.options.redisUrl,
      `${this.options.prefix}:worker`,
      logger,
      {
        maxRetriesPerRequest: null,
      },
    );
    this.worker = new Worker<ImageJob>(
      IMAGE_QUEUE_NAME,
      (job, token) => this.run(job, token, handler),
      {
        connection: this.workerConnection,
        prefix: this.options.prefix,
        concurrency,
        lockDuration: this.options.lockMs,
        stalledInterval: this.options.stalledIntervalMs,
        // A job whose worker died a third time is likely what kills workers; it fails instead,
        // and the recovery sweep records its image as failed.
        maxStalledCount: 2,
      },
    );
    logQueueErrors(this.worker, () => this.workerConnection, logger, 'image worker error');
    this.worker.on('failed', (job, error) => {
      if (!job) return;
      const fields = { requestId: job.data.requestId, imageId: job.data.imageId };
      // A job failed for stalling too often is not retried, whatever attempts it has left.
      const spent =
        job.attemptsMade >= (job.opts.attempts ?? 1) || error.message === STALLED_TOO_OFTEN;
      if (spent) logger.error('image job gave up', { ...fields, error: error.message });
      else logger.warn('image job failed; retrying', { ...fields, error: error.message });
    });
  }

  async depth(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'prioritized');
    return Object.values(counts).reduce((sum, n) => sum + n, 0);
  }

  async ping(): Promise<void> {
    await this.connection.ping();
    if (this.workerConnection && this.workerConnection.status !== 'ready') {
      throw new Error(`worker connection ${this.workerConnection.status}`);
    }
  }

  /**
   * Stops queueing the later pages of requests (at the end of the page under way), stops taking
   * jobs, waits up to `graceMs` for the running ones, hands any still running back to the queue
   * (another worker takes them at once), and closes the connections.
   */
  close(graceMs: number): Promise<void> {
    this.closing ??= this.shutDown(graceMs);
    return this.closing;
  }

  private async shutDown(graceMs: number): Promise<void> {
    // Each feed stops at its next page (see eachPage); the sweep queues what it left.
    await Promise.all(this.feeding);
    const worker = this.worker;
    if (worker) {
      await worker.pause(true);
      await settleWithin(
        [...this.running.values()].map((r) => r.done),
        graceMs,
      );
      for (const running of [...this.running.values()]) {
        await this.handBack(running.job, running.token);
        running.release();
      }
      // Not forced: BullMQ then ends its wait for the next job and lets its fetch loop finish
      // before closing. A pause leaves that wait open, and it would take a job handed back
      // above; run() hands such a job back again, and this waits for that too. A forced close
      // would leave the wait open, and the job locked here after the process had gone. With
      // Redis away nothing can be taken or locked, and that close would wait for Redis's return.
      await worker.close(this.workerConnection?.status !== 'ready');
    }
    await this.queue.close();
    await closeRedisClient(this.connection);
    if (this.workerConnection) await closeRedisClient(this.workerConnection);
  }

  /**
   * Gives a failed job a new round. One another process revived first is left as it is.
   *
   * @returns whether this call moved the job back to waiting
   */
  private async retryFailed(job: Job<ImageJob>): Promise<boolean> {
    try {
      await job.retry('failed', { resetAttemptsMade: true });
      return true;
    } catch (error: unknown) {
      if ((await job.getState()) === 'failed') throw error;
      return false;
    }
  }

  /** Returns an unfinished job to the waiting list, for another worker to take at once. */
  private async handBack(job: Job<ImageJob>, token: string | undefined): Promise<void> {
    await job.moveToWait(token).catch((error: unknown) => {
      this.options.logger.warn('an unfinished image job could not be handed back', {
        imageId: job.data.imageId,
        error,
      });
    });
  }

  private async run(job: Job<ImageJob>, token: string | undefined, handler: ImageJobHandler) {
    // A fetch that was under way when the worker paused may still deliver a job: it goes back
    // untouched. WaitingError tells BullMQ that a job was handed back, neither done nor failed.
    if (this.closing) {
      await this.handBack(job, token);
      throw new WaitingError();
    }
    const id = job.id ?? job.data.imageId;
    let release = () => {};
    const handedBack = new Promise<'handed back'>((resolve) => {
      release = () => {
        resolve('handed back');
      };
    });
    const done = handler(job.data);
    this.running.set(id, { job, token, done: done.catch(() => undefined), release });
    try {
      if ((await Promise.race([done, handedBack])) === 'handed back') throw new WaitingError();
    } catch (error: unknown) {
      if (!(error instanceof JobNotStartedError)) throw error;
      await this.handBack(job, token);
      throw new WaitingError();
    } finally {
      this.running.delete(id);
    }
  }
}
