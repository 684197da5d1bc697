import type { Config } from './config.ts';
import type { Database } from './db/database.ts';
import { openDatabase } from './db/database.ts';
import type { EventBus } from './events/event-bus.ts';
import { MemoryEventBus } from './events/event-bus.memory.ts';
import { configureSharp } from './images/image.transformer.ts';
import type { Logger } from './observability/logger.ts';
import { Metrics } from './observability/metrics.ts';
import { createDownloader } from './processing/image.downloader.ts';
import { ImageProcessor } from './processing/image.processor.ts';
import { RequestFinalizer } from './processing/request.finalizer.ts';
import type { JobQueue } from './queue/queue.ts';
import { MemoryQueue } from './queue/queue.memory.ts';
import { ImageRepository } from './repositories/image.repository.ts';
import { RequestRepository } from './repositories/request.repository.ts';
import { ProgressService } from './services/progress.service.ts';
import { RequestService } from './services/request.service.ts';
import { WebhookService } from './services/webhook.service.ts';
import { WebhookRepository } from './repositories/webhook.repository.ts';
import { DeliveryWorker } from './webhooks/delivery.worker.ts';
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
  deliveryWorker: DeliveryWorker;
  processor: ImageProcessor;
  finalizer: RequestFinalizer;
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
    onMigrated: (applied) => {
      if (applied.length > 0) logger.info('database migrated', { applied });
    },
  });
  const queue: JobQueue = new MemoryQueue();
  const events: EventBus = new MemoryEventBus();
  const metrics = new Metrics({ queueDepth: () => queue.depth() });

  const requests = new RequestRepository(db.prisma);
  const images = new ImageRepository(db.prisma);
  const webhooks = new WebhookRepository(db.prisma);
  const deliveryWorker = new DeliveryWorker(webhooks, config.webhooks, logger, (outcome) => {
    metrics.webhookAttempt(outcome);
  });
  const finalizer = new RequestFinalizer(requests, storage, events, logger, () => {
    deliveryWorker.poke();
  });
  const processor = new ImageProcessor({
    images,
    storage,
    events,
    finalizer,
    download: createDownloader(config.fetch),
    maxPixels: config.processing.maxImagePixels,
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
    deliveryWorker,
    processor,
    finalizer,
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

/**
 * Starts processing in this process: resumes what the database records as unfinished (work a
 * crash or a stop interrupted), then takes jobs from the queue.
 */
export async function startWorker(app: App): Promise<void> {
  configureSharp(app.config.processing.concurrency);
  app.queue.process((job) => app.processor.handle(job), app.config.processing.concurrency);
  app.deliveryWorker.start();

  for (const request of await app.repositories.requests.listUnfinished()) {
    const imageIds = await app.repositories.images.listUnfinishedIds(request.id);
    if (imageIds.length === 0) {
      await app.finalizer.finish(request.id);
      continue;
    }
    app.logger.info('resuming request', { requestId: request.id, images: imageIds.length });
    await app.queue.enqueue(imageIds.map((imageId) => ({ imageId, requestId: request.id })));
  }
}

/** Closes what `createApp` opened, waiting up to `graceMs` for images being processed. */
export async function closeApp(app: App, graceMs: number): Promise<void> {
  await app.queue.close(graceMs);
  await app.deliveryWorker.stop();
  await app.events.close();
  await app.storage.close();
  await app.db.close();
}
