import type { Logger } from '../observability/logger.ts';
import type { WebhookAttemptOutcome } from '../observability/metrics.ts';
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
  private filling: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly options: DeliveryWorkerOptions,
    private readonly logger: Logger,
    /** Told how each attempt ended, once it is recorded (for the metrics). */
    private readonly onAttempt: (outcome: WebhookAttemptOutcome) => void = () => undefined,
  ) {}

  start(): void {
    this.poke();
  }

  /** Looks for due deliveries now, e.g. right after a request ended or an attempt finished. */
  poke(): void {
    if (this.stopped) return;
    this.filling ??= this.fill().finally(() => {
      this.filling = undefined;
      if (!this.stopped) {
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          this.poke();
        }, this.options.pollMs);
      }
    });
  }

  /** Stops taking deliveries and waits for the attempts in flight (each bounded by the timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.filling;
    await Promise.all(this.inFlight);
  }

  /**
   * Takes due deliveries until every slot is busy. Each slot is freed as soon as its attempt
   * ends, so one receiver that never answers holds one slot, not the whole worker.
   */
  private async fill(): Promise<void> {
    const lease = this.options.timeoutMs * 2 + 5_000;
    try {
      while (!this.stopped && this.inFlight.size < this.options.concurrency) {
        const due = await this.webhooks.claimDue(
          this.options.concurrency - this.inFlight.size,
          lease,
        );
        if (due.length === 0) return;
        for (const delivery of due) this.launch(delivery);
      }
    } catch (error: unknown) {
      this.logger.error('reading the webhook schedule failed; retrying at the next poll', {
        error,
      });
    }
  }

  private launch(delivery: DueDelivery): void {
    const fields = { requestId: delivery.requestId, deliveryId: delivery.id };
    const running: Promise<void> = withLogContext(fields, () => this.attempt(delivery), false)
      .catch((error: unknown) => {
        // The lease runs out and the delivery is taken again at its end.
        this.logger.error('webhook attempt could not be recorded', { error, ...fields });
      })
      .finally(() => {
        this.inFlight.delete(running);
        this.poke();
      });
    this.inFlight.add(running);
  }

  private async attempt(delivery: DueDelivery): Promise<void> {
    const secret = delivery.webhookId
      ? await this.webhooks.findSecret(delivery.webhookId)
      : await this.webhooks.ownerSecret(delivery.ownerId, makeWebhookSecret);
    const result = secret
      ? await sendWebhook(delivery, secret, this.options)
      : {
          delivered: false,
          permanent: true,
          statusCode: null,
          error: 'The webhook was deleted.',
          durationMs: 0,
        };

    const attempt = delivery.attempts + 1;
    const pause = this.options.retryDelaysMs[attempt - 1];
    const retry = !result.delivered && !result.permanent && secret !== null && pause !== undefined;
    const nextAttemptAt = retry ? new Date(Date.now() + jittered(pause)) : null;
    await this.webhooks.recordAttempt(delivery, { ...result, nextAttemptAt });

    const outcome = result.delivered ? 'delivered' : retry ? 'retrying' : 'failed';
    this.onAttempt(outcome);
    this.logger.info('webhook attempt', {
      attempt,
      statusCode: result.statusCode,
      durationMs: result.durationMs,
      outcome,
      ...(result.error && { error: result.error }),
      ...(nextAttemptAt && { nextAttemptAt: nextAttemptAt.toISOString() }),
    });
  }
}
