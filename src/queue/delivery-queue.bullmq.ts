import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';

import type { Logger } from '../observability/logger.ts';
import { withLogContext } from '../observability/logger.ts';
import { closeRedisClient, createRedisClient, logQueueErrors } from '../redis/redis.client.ts';
import type { ScheduledDelivery, WebhookRepository } from '../repositories/webhook.repository.ts';
import type { DeliveryDispatcher } from '../webhooks/delivery.dispatcher.ts';
import type { WebhookDeliverer } from '../webhooks/webhook.deliverer.ts';

/** The BullMQ queue that carries webhook attempts, apart from image jobs. */
export const DELIVERY_QUEUE_NAME = 'webhooks';

/** One attempt of one delivery, as the schedule had it when the job was made. */
interface DeliveryJob {
  deliveryId: string;
  attempts: number;
  /** When the attempt is due, in epoch milliseconds. */
  dueAt: number;
}

/** Due deliveries queued per read of the schedule. */
const SWEEP_LIMIT = 200;

export interface BullMqDeliveryQueueOptions {
  redisUrl: string;
  prefix: string;
  /** How often the database schedule is read for due deliveries (WEBHOOK_POLL_MS). */
  pollMs: number;
  /** Attempts sent at once by each worker process. */
  concurrency: number;
  lockMs: number;
  stalledIntervalMs: number;
  logger: Logger;
}

/**
 * Webhook deliveries on a BullMQ queue of their own, so attempts spread over every worker
 * process and a slow receiver never holds up image jobs. The database stays the record: each
 * job is one attempt, named after the delivery, its attempt number and its due time, so queuing
 * the same attempt twice adds nothing, and a job only sends after taking the delivery in the
 * database. A retry is queued delayed right after a failed attempt; each worker also reads the
 * schedule every `pollMs` and queues what is due, which covers retries that fell due while no
 * worker ran and attempts whose worker died (due again when their lease runs out).
 */
export class BullMqDeliveryQueue implements DeliveryDispatcher {
  private readonly connection: Redis;
  private readonly queue: Queue<DeliveryJob>;
  private worker: Worker<DeliveryJob> | undefined;
  private workerConnection: Redis | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly deliverer: WebhookDeliverer,
    private readonly options: BullMqDeliveryQueueOptions,
  ) {
    this.connection = createRedisClient(
      options.redisUrl,
      `${options.prefix}:webhooks`,
      options.logger,
      {
        maxRetriesPerRequest: 2,
      },
    );
    this.queue = new Queue<DeliveryJob>(DELIVERY_QUEUE_NAME, {
      connection: this.connection,
      prefix: options.prefix,
      defaultJobOptions: {
        // Retries are the schedule's business, kept in the database.
        attempts: 1,
        removeOnComplete: { count: 1_000, age: 24 * 3600 },
        removeOnFail: { count: 1_000, age: 7 * 24 * 3600 },
      },
    });
    logQueueErrors(this.queue, () => this.connection, options.logger, 'webhook queue error');
  }

  start(): void {
    const { logger } = this.options;
    this.workerConnection = createRedisClient(
      this.options.redisUrl,
      `${this.options.prefix}:webhooks-worker`,
      logger,
      {
        maxRetriesPerRequest: null,
      },
    );
    this.worker = new Worker<DeliveryJob>(DELIVERY_QUEUE_NAME, (job) => this.run(job.data), {
      connection: this.workerConnection,
      prefix: this.options.prefix,
      concurrency: this.options.concurrency,
      lockDuration: this.options.lockMs,
      stalledInterval: this.options.stalledIntervalMs,
    });
    logQueueErrors(this.worker, () => this.workerConnection, logger, 'webhook worker error');
    this.worker.on('failed', (job, error) => {
      // The lease runs out and the next read of the schedule queues the attempt again.
      logger.error('webhook attempt could not be recorded', {
        deliveryId: job?.data.deliveryId,
        error: error.message,
      });
    });
    this.poke();
  }

  /** Reads the schedule now and queues what is due; then again every `pollMs` in workers. */
  poke(): void {
    if (this.stopped) return;
    // A poke comes from inside some request's work, and the timer of the next sweep would keep
    // that context for good: the sweep belongs to no request, so its lines carry no request id.
    this.sweeping ??= withLogContext({}, () => this.sweepThenWait(), false);
  }

  /** One sweep, then the next one scheduled in workers: in the context `poke` gave it. */
  private sweepThenWait(): Promise<void> {
    return this.sweep().finally(() => {
      this.sweeping = undefined;
      if (this.stopped || !this.worker) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.poke();
      }, this.options.pollMs);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.sweeping;
    // Not forced: attempts in flight end within the webhook timeout. With Redis away no attempt
    // can be taken, and that close would wait for Redis's return.
    await this.worker?.close(this.workerConnection?.status !== 'ready');
    await this.queue.close();
    await closeRedisClient(this.connection);
    if (this.workerConnection) await closeRedisClient(this.workerConnection);
  }

  private async sweep(): Promise<void> {
    try {
      const due = await this.webhooks.listDue(SWEEP_LIMIT);
      await Promise.all(due.map((delivery) => this.schedule(delivery)));
    } catch (error: unknown) {
      this.options.logger.warn('queuing due webhook deliveries failed; retrying at the next poll', {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  private async schedule(delivery: ScheduledDelivery): Promise<void> {
    const dueAt = delivery.nextAttemptAt.getTime();
    await this.queue.add(
      'delivery',
      { deliveryId: delivery.id, attempts: delivery.attempts, dueAt },
      {
        jobId: `${delivery.id}-${delivery.attempts}-${dueAt}`,
        delay: Math.max(0, dueAt - Date.now()),
      },
    );
  }

  private async run(job: DeliveryJob): Promise<void> {
    const scheduled = {
      id: job.deliveryId,
      attempts: job.attempts,
      nextAttemptAt: new Date(job.dueAt),
    };
    const delivery = await this.webhooks.claim(scheduled, this.deliverer.leaseMs);
    if (!delivery) return;

    const fields = { requestId: delivery.requestId, deliveryId: delivery.id };
    const next = await withLogContext(fields, () => this.deliverer.attempt(delivery), false);
    if (next) {
      await this.schedule({
        id: delivery.id,
        attempts: delivery.attempts + 1,
        nextAttemptAt: next,
      });
    }
  }
}
