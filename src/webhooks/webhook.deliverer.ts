import type { Logger } from '../observability/logger.ts';
import type { WebhookAttemptOutcome } from '../observability/metrics.ts';
import type { DueDelivery, WebhookRepository } from '../repositories/webhook.repository.ts';
import type { SendOptions, SendResult } from './webhook.sender.ts';
import { makeWebhookSecret, sendWebhook } from './webhook.sender.ts';

export interface DelivererOptions extends SendOptions {
  /** Pauses after each failed attempt, in order; one attempt more than there are pauses. */
  retryDelaysMs: readonly number[];
}

/** A pause with ±10% jitter, so receivers that failed together are not retried together. */
function jittered(ms: number): number {
  return Math.round(ms * (0.9 + Math.random() * 0.2));
}

/**
 * One attempt of one delivery: sign, send, record, and schedule the next attempt. What both
 * shapes share; they differ only in how a due delivery reaches it (a database poll in one
 * process, a BullMQ queue across workers).
 */
export class WebhookDeliverer {
  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly options: DelivererOptions,
    private readonly logger: Logger,
    /** Told how each attempt ended, once it is recorded (for the metrics). */
    private readonly onAttempt: (outcome: WebhookAttemptOutcome) => void = () => undefined,
  ) {}

  /**
   * Makes the attempt and records it.
   *
   * @returns when the next attempt is due, or null when the delivery is over
   * @throws when the attempt could not be recorded; the claim's lease then runs out and the
   *   delivery is taken again
   */
  async attempt(delivery: DueDelivery): Promise<Date | null> {
    const secret = delivery.webhookId
      ? await this.webhooks.findSecret(delivery.webhookId)
      : await this.webhooks.ownerSecret(delivery.ownerId, makeWebhookSecret);
    const result: SendResult = secret
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
      ...(result.address && { address: result.address }),
      ...(nextAttemptAt && { nextAttemptAt: nextAttemptAt.toISOString() }),
    });
    return nextAttemptAt;
  }

  /** How long a claim on a delivery lasts: twice an attempt's deadline and a margin. */
  get leaseMs(): number {
    return this.options.timeoutMs * 2 + 5_000;
  }
}
