import type { Logger } from '../observability/logger.ts';
import { withLogContext } from '../observability/logger.ts';
import type { DueDelivery, WebhookRepository } from '../repositories/webhook.repository.ts';
import type { SendOptions } from './webhook.sender.ts';
import { makeWebhookSecret, sendWebhook } from './webhook.sender.ts';

export interface DeliveryWorkerOptions extends SendOptions {
  /** Pauses after each failed attempt, in order; one attempt more than there are pauses. */
  retryDelaysMs: readonly number[];
  /** How often the schedule is read for due deliveries. */
  pollMs: number;
  /** Deliveries sent at once by this process. */
  concurrency: number;
}

/** A pause with ±10% jitter, so receivers that failed together are not retried together. */
function jittered(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}

/**
 * Sends due webhook deliveries, apart from image work: its own loop and its own concurrency,
 * so a slow receiver never holds up processing. The schedule is read from the database each
 * time, so a retry pending when the process stops happens after it starts again.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly options: DeliveryWorkerOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.schedule(0);
  }

  /** Looks for due deliveries now, e.g. right after a request ended. */
  poke(): void {
    if (!this.stopped && !this.running) this.schedule(0);
  }

  /** Stops polling and waits for the attempts in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule(this.options.pollMs);
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      const lease = this.options.timeoutMs * 2 + 5_000;
      for (;;) {
        const due = await this.webhooks.claimDue(this.options.concurrency, lease);
        if (due.length === 0 || this.stopped) return;
        await Promise.all(
          due.map((d) =>
            withLogContext(
              { requestId: d.requestId, deliveryId: d.id },
              () => this.attempt(d),
              false,
            ),
          ),
        );
      }
    } catch (error: unknown) {
      this.logger.error('webhook delivery loop failed; retrying at the next poll', { error });
    }
  }

  private async attempt(delivery: DueDelivery): Promise<void> {
    const secret = delivery.webhookId
      ? await this.webhooks.findSecret(delivery.webhookId)
      : await this.webhooks.ownerSecret(delivery.ownerId, makeWebhookSecret);
    const result = secret
      ? await sendWebhook(delivery, secret, this.options)
      : { delivered: false, statusCode: null, error: 'The webhook was deleted.', durationMs: 0 };

    const attempt = delivery.attempts + 1;
    const pause = this.options.retryDelaysMs[attempt - 1];
    const retry = !result.delivered && secret !== null && pause !== undefined;
    const nextAttemptAt = retry ? new Date(Date.now() + jittered(pause)) : null;
    await this.webhooks.recordAttempt(delivery, { ...result, nextAttemptAt });

    this.logger.info('webhook attempt', {
      attempt,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      outcome: result.delivered ? 'delivered' : retry ? 'retrying' : 'failed',
      ...(result.error && { error: result.error }),
      ...(nextAttemptAt && { nextAttemptAt: nextAttemptAt.toISOString() }),
    });
  }
}
