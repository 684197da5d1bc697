import type { Logger } from '../observability/logger.ts';
import { withLogContext } from '../observability/logger.ts';
import type { DueDelivery, WebhookRepository } from '../repositories/webhook.repository.ts';
import type { DeliveryDispatcher } from './delivery.dispatcher.ts';
import type { WebhookDeliverer } from './webhook.deliverer.ts';

export interface DeliveryWorkerOptions {
  /** How often the schedule is read for due deliveries. */
  pollMs: number;
  /** Deliveries sent at once by this process. */
  concurrency: number;
}

/**
 * Sends due webhook deliveries, apart from image work: its own loop and its own concurrency,
 * so a slow receiver never holds up processing. The schedule is read from the database each
 * time, so a retry pending when the process stops happens after it starts again.
 */
export class DeliveryWorker implements DeliveryDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private filling: Promise<void> | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(
    private readonly webhooks: WebhookRepository,
    private readonly deliverer: WebhookDeliverer,
    private readonly options: DeliveryWorkerOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.poke();
  }

  /** Looks for due deliveries now, e.g. right after a request ended or an attempt finished. */
  poke(): void {
    if (this.stopped) return;
    // A poke comes from inside some request's work, and the timer of the next poll would keep
    // that context for good: the loop belongs to no request, so its lines carry no request id.
    this.filling ??= withLogContext({}, () => this.fillThenWait(), false);
  }

  /** One fill, then the next poll scheduled: in the context `poke` gave it. */
  private fillThenWait(): Promise<void> {
    return this.fill().finally(() => {
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
    const lease = this.deliverer.leaseMs;
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
    const running: Promise<void> = withLogContext(
      fields,
      async () => {
        await this.deliverer.attempt(delivery);
      },
      false,
    )
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
}
