import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { openDatabase } from './db/database.ts';
import type { EventBus } from './events/event-bus.ts';
import { MemoryEventBus } from './events/event-bus.memory.ts';
import { configureSharp } from './images/image.transformer.ts';
import type { Logger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import type { WebhookAttemptOutcome } from './observability/metrics.ts';
import { createDownloader } from './processing/image.downloader.ts';
import type { Downloader } from './processing/image.downloader.ts';
import { ImageProcessor } from './processing/image.processor.ts';
import { RecoverySweep } from './processing/recovery.ts';
import type { RecoveryOptions } from './processing/recovery.ts';
import { RequestFinalizer } from './processing/request.finalizer.ts';
import type { JobQueue, UnfinishedImages } from './queue/queue.ts';
import { MemoryQueue } from './queue/queue.memory.ts';
import { DuplicateRepository } from './repositories/duplicate.repository.ts';
import { ImageRepository } from './repositories/image.repository.ts';
import { RequestRepository } from './repositories/request.repository.ts';
import { ProgressService } from './services/progress.service.ts';
import { RequestService } from './services/request.service.ts';
import { WebhookService } from './services/webhook.service.ts';
import { WebhookRepository } from './repositories/webhook.repository.ts';
import type { DeliveryDispatcher } from './webhooks/delivery.dispatcher.ts';
import { DeliveryWorker } from './webhooks/delivery.worker.ts';
import { WebhookDeliverer } from './webhooks/webhook.deliverer.ts';
import type { ObjectStorage } from './storage/storage.ts';
import { LocalStorage } from './storage/storage.local.ts';

/** Everything the transports and workers use, built once per process from the config. */
export interface App {
  config: Config;
  logger: Logger;
  db: Database;
  storage: ObjectStorage;
  queue: JobQueue;
  events: EventBus;
  metrics: Metrics;
  requestService: RequestService;
  progressService: ProgressService;
  webhookService: WebhookService;
  deliveries: DeliveryDispatcher;
  processor: ImageProcessor;
  /** Held so shutdown can close its kept connections. */
  downloader: Downloader;
  finalizer: RequestFinalizer;
  /** Started by `startWorker` only. */
  recovery: RecoverySweep;
  repositories: { requests: RequestRepository; images: ImageRepository };
}

/**
 * The composition root: picks the embedded or production implementation of each seam from the
 * configuration and wires the services to them.
 *
 * @param publicUrl - base of the URLs handed to clients (stored files are under `/files`)
 */
export async function createApp(config: Config, logger: Logger, publicUrl: string): Promise<App> {
  // First, so a store without a region stops the start before the database is opened.
  const storage = await createStorage(config, logger, publicUrl);
  const db = await openDatabase({
    url: config.database.url,
    pgliteDir: config.database.pgliteDir,
    poolSize: config.database.poolSize,
    onCreated: (ms) =>
      logger.info('created the embedded database', { dir: config.database.pgliteDir, ms }),
    onMigrated: (applied) => {
      if (applied.length > 0) logger.info('database migrated', { applied });
    },
  });
  const images = new ImageRepository(db.prisma, db.sql);
  const queue = await createQueue(config, logger, images);
  const events = await createEventBus(config, logger);
  // Jobs a worker has taken but that wait for an image slot are still waiting; `processor` is
  // made below, before any scrape.
  const metrics = new Metrics({
    queueDepth: async (): Promise<number> => (await queue.depth()) + processor.waitingForSlot,
  });

  const requests = new RequestRepository(db.prisma, db.sql, db.transaction);
  const duplicates = new DuplicateRepository(db.sql);
  const webhooks = new WebhookRepository(db.prisma);
  const deliveries = await createDeliveries(config, logger, webhooks, (outcome) => {
    metrics.webhookAttempt(outcome);
  });
  const finalizer = new RequestFinalizer(requests, storage, events, logger, () => {
    deliveries.poke();
  });
  const downloader = createDownloader(config.fetch);
  const processor = new ImageProcessor({
    images,
    duplicates,
    storage,
    events,
    finalizer,
    download: (url) => downloader.download(url),
    maxPixels: config.processing.maxImagePixels,
    concurrency: config.processing.concurrency,
    logger,
    metrics,
  });
  const requestService = new RequestService(
    requests,
    queue,
    {
      maxRows: config.limits.csvRows,
      maxUrlsPerRow: config.limits.urlsPerRow,
      maxImages: config.limits.imagesPerRequest,
      maxUrlLength: config.limits.urlLength,
      maxNameLength: config.limits.nameLength,
    },
    finalizer,
    logger,
  );

  return {
    config,
    logger,
    db,
    storage,
    queue,
    events,
    metrics,
    requestService,
    progressService: new ProgressService(requestService, events),
    webhookService: new WebhookService(webhooks, requestService),
    deliveries,
    processor,
    downloader,
    finalizer,
    recovery: new RecoverySweep({
      requests,
      images,
      queue,
      finalizer,
      giveUp: (job) => processor.giveUp(job),
      logger,
    }),
    repositories: { requests, images },
  };
}

/** Files under `$DATA_DIR/files` served at `<publicUrl>/files`, or the `S3_BUCKET` bucket. */
async function createStorage(
  config: Config,
  logger: Logger,
  publicUrl: string,
): Promise<ObjectStorage> {
  const s3 = config.storage.s3;
  if (!s3) return new LocalStorage(config.storage.filesDir, publicUrl);
  // Loaded only when used: the AWS SDK takes about a second to import.
  const { createS3Storage } = await import('./storage/storage.s3.ts');
  return createS3Storage(s3, logger);
}

// The Redis adapters are loaded only when REDIS_URL is set: the embedded shape never pays for
// BullMQ and ioredis at start.

/**
 * BullMQ when REDIS_URL is set, so every process shares the work; else in-process. Both read a
 * request's images from `images` a page at a time when it is queued.
 */
async function createQueue(
  config: Config,
  logger: Logger,
  images: UnfinishedImages,
): Promise<JobQueue> {
  if (!config.redisUrl) return new MemoryQueue(images, logger);
  const { BullMqQueue } = await import('./queue/queue.bullmq.ts');
  return new BullMqQueue({ redisUrl: config.redisUrl, ...config.queue, images, logger });
}

/** Redis pub/sub when REDIS_URL is set, so subscribers on any process hear any worker. */
async function createEventBus(config: Config, logger: Logger): Promise<EventBus> {
  if (!config.redisUrl) return new MemoryEventBus();
  const { RedisEventBus } = await import('./events/event-bus.redis.ts');
  return new RedisEventBus(config.redisUrl, config.queue.prefix, logger);
}

/** Webhook attempts on a BullMQ queue of their own with Redis; a database poll without. */
async function createDeliveries(
  config: Config,
  logger: Logger,
  webhooks: WebhookRepository,
  onAttempt: (outcome: WebhookAttemptOutcome) => void,
): Promise<DeliveryDispatcher> {
  const deliverer = new WebhookDeliverer(webhooks, config.webhooks, logger, onAttempt);
  if (!config.redisUrl) return new DeliveryWorker(webhooks, deliverer, config.webhooks, logger);
  const { BullMqDeliveryQueue } = await import('./queue/delivery-queue.bullmq.ts');
  return new BullMqDeliveryQueue(webhooks, deliverer, {
    redisUrl: config.redisUrl,
    prefix: config.queue.prefix,
    pollMs: config.webhooks.pollMs,
    concurrency: config.webhooks.concurrency,
    lockMs: config.queue.lockMs,
    stalledIntervalMs: config.queue.stalledIntervalMs,
    logger,
  });
}

/**
 * Starts processing in this process: takes jobs from the queue, and runs the recovery sweep,
 * whose first run resumes what the database records as unfinished (work a crash or a stop
 * interrupted).
 */
export async function startWorker(app: App, recovery?: RecoveryOptions): Promise<void> {
  configureSharp(app.config.processing.concurrency, app.config.processing.vipsThreads);
  const { concurrency } = app.config.processing;
  app.queue.process((job) => app.processor.handle(job), concurrency * app.queue.jobsPerSlot);
  app.deliveries.start();
  await app.recovery.start(recovery);
}

/** Closes what `createApp` opened, waiting up to `graceMs` for images being processed. */
export async function closeApp(app: App, graceMs: number): Promise<void> {
  await app.recovery.stop();
  // Jobs waiting for an image slot give their images back at once; claimed ones finish.
  app.processor.stop();
  await app.queue.close(graceMs);
  app.downloader.close();
  await app.deliveries.stop();
  await app.events.close();
  await app.storage.close();
  await app.db.close();
}
