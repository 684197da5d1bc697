import type { Store } from 'express-rate-limit';

import type { Logger } from '../observability/logger.ts';

/** Where the rate limits keep their counters. */
export interface RateLimitStores {
  /** A store for the limit called `name`; undefined means express-rate-limit's in-process one. */
  create(name: string): Store | undefined;
  /** Closes the Redis connection, if there is one. */
  close(): Promise<void>;
}

/**
 * Counters in this process when `redisUrl` is unset; otherwise in Redis (rate-limit-redis over
 * ioredis), so every API process behind one address shares one budget per subject and address.
 *
 * @param prefix - put before every key (`<prefix><limit name>:<caller>`), so deployments and
 *   tests sharing one Redis keep apart
 */
export async function rateLimitStores(
  redisUrl: string | undefined,
  prefix: string,
  logger: Logger,
): Promise<RateLimitStores> {
  if (!redisUrl) return { create: () => undefined, close: () => Promise.resolve() };
  // Loaded here, not at the top: a service without Redis does without their 12 MB.
  const [{ Redis }, { RedisStore }] = await Promise.all([
    import('ioredis'),
    import('rate-limit-redis'),
  ]);

  // One retry, then the command fails: a request is not held while Redis is away, and the
  // limiter lets it through (passOnStoreError) rather than failing every call.
  // Named after the key prefix, as every other connection is after QUEUE_PREFIX (`CLIENT LIST`).
  // Redis refuses names with spaces or other special characters, and ioredis then drops the
  // name in silence: those characters become `-`.
  const name = prefix.replace(/:+$/, '').replace(/[^A-Za-z0-9_.:-]/g, '-');
  const redis = new Redis(redisUrl, {
    maxRetriesPerRequest: 1,
    connectionName: name || 'rate-limits',
  });
  let lastError = '';
  redis.on('error', (error: Error) => {
    // ioredis repeats the same error on every reconnect attempt: one line per change is enough.
    if (error.message === lastError) return;
    lastError = error.message;
    logger.warn('rate limit store unreachable', { reason: error.message });
  });
  redis.on('ready', () => {
    lastError = '';
  });

  return {
    create: (name) =>
      new RedisStore({
        prefix: `${prefix}${name}:`,
        sendCommand: (command: string, ...args: string[]) =>
          redis.call(command, ...args) as Promise<number | string>,
      }),
    close: async () => {
      await redis.quit().catch(() => {
        redis.disconnect();
      });
    },
  };
}
