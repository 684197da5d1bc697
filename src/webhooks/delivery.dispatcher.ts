/**
 * Brings due webhook deliveries to the deliverer: `DeliveryWorker` polls the database in the
 * one-process shape, `BullMqDeliveryQueue` runs them on a queue of their own with Redis.
 */
export interface DeliveryDispatcher {
  /** Starts sending, in processes that process work. */
  start(): void;
  /** Looks for due deliveries now, e.g. right after a request ended; any process may call it. */
  poke(): void;
  /** Stops sending and waits for the attempts in flight (each bounded by the timeout). */
  stop(): Promise<void>;
}
