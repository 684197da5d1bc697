import type { Redis } from 'ioredis';

import type { Logger } from '../observability/logger.ts';
import { closeRedisClient, createRedisClient } from '../redis/redis.client.ts';
import type { EventBus, ProgressEvent, ProgressListener } from './event-bus.ts';

/**
 * Progress events through Redis pub/sub, so a subscriber on any API process hears what any
 * worker does. One channel per request (`<prefix>:progress:<requestId>`); each process
 * subscribes to a channel once, for all its listeners of that request.
 *
 * Pub/sub keeps nothing: an event published while a process is cut off from Redis is lost to
 * it. Subscribers lose nothing that matters, since each event carries the whole progress and
 * the next one brings them up to date, and ioredis subscribes again by itself on reconnect.
 */
export class RedisEventBus implements EventBus {
  readonly kind = 'redis';
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly listeners = new Map<string, Set<ProgressListener>>();

  constructor(
    redisUrl: string,
    private readonly prefix: string,
    private readonly logger: Logger,
  ) {
    // A publish during an outage fails at once instead of holding up the image that made it.
    this.publisher = createRedisClient(redisUrl, `${prefix}:events-publish`, logger, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
    });
    this.subscriber = createRedisClient(redisUrl, `${prefix}:events-subscribe`, logger, {
      maxRetriesPerRequest: 1,
    });
    this.subscriber.on('message', (channel: string, message: string) => {
      this.deliver(channel, message);
    });
  }

  /** Publishes to every process; a failure is logged, never thrown: events are best effort. */
  async publish(event: ProgressEvent): Promise<void> {
    try {
      await this.publisher.publish(this.channel(event.requestId), JSON.stringify(event));
    } catch (error: unknown) {
      this.logger.warn('progress event not published', {
        requestId: event.requestId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /**
   * Resolves once Redis has confirmed the subscription, so an event published afterwards by
   * any process reaches `listener`.
   *
   * @throws when Redis cannot be reached
   */
  async subscribe(requestId: string, listener: ProgressListener): Promise<() => void> {
    let set = this.listeners.get(requestId);
    if (!set) {
      set = new Set();
      this.listeners.set(requestId, set);
    }
    set.add(listener);
    try {
      // Subscribing twice to one channel is harmless and confirms it again for this caller.
      await this.subscriber.subscribe(this.channel(requestId));
    } catch (error: unknown) {
      this.remove(requestId, listener);
      throw error;
    }
    return () => {
      this.remove(requestId, listener);
    };
  }

  listenerCount(): number {
    let count = 0;
    for (const set of this.listeners.values()) count += set.size;
    return count;
  }

  async ping(): Promise<void> {
    await this.publisher.ping();
    if (this.subscriber.status !== 'ready') {
      throw new Error(`subscriber connection ${this.subscriber.status}`);
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
    await closeRedisClient(this.subscriber);
    await closeRedisClient(this.publisher);
  }

  private channel(requestId: string): string {
    return `${this.prefix}:progress:${requestId}`;
  }

  private remove(requestId: string, listener: ProgressListener): void {
    const set = this.listeners.get(requestId);
    if (!set?.delete(listener) || set.size > 0) return;
    this.listeners.delete(requestId);
    this.subscriber.unsubscribe(this.channel(requestId)).catch((error: unknown) => {
      // Left subscribed, the process only receives a request's events it then ignores.
      this.logger.debug('unsubscribe failed', { requestId, error });
    });
  }

  private deliver(channel: string, message: string): void {
    const requestId = channel.slice(this.channel('').length);
    const set = this.listeners.get(requestId);
    if (!set) return;
    let event: ProgressEvent;
    try {
      event = JSON.parse(message) as ProgressEvent;
    } catch (error: unknown) {
      this.logger.warn('malformed progress event ignored', { requestId, error });
      return;
    }
    for (const listener of set) listener(event);
  }
}
