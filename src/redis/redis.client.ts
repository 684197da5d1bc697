import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

import type { Logger } from '../observability/logger.ts';

/** Longest pause between two reconnection attempts, in milliseconds. */
const MAX_RECONNECT_DELAY_MS = 5_000;

/**
 * A Redis connection that reconnects for ever (50 ms, 100 ms, … up to 5 s apart) and reports
 * an outage in the logs once when it starts and once when it ends, instead of once per failed
 * attempt. Its `error` events are always listened to, so a lost server never crashes the process.
 *
 * @param name - which part of the service owns it, under the queue prefix (`<prefix>:worker`),
 *   for the logs and `CLIENT LIST`
 * @param options - ioredis options on top of the URL's, e.g. `maxRetriesPerRequest: null` for
 *   BullMQ workers, whose blocking commands must wait out an outage rather than fail
 */
export function createRedisClient(
  url: string,
  name: string,
  logger: Logger,
  options: RedisOptions = {},
): Redis {
  const client = new Redis(url, {
    connectionName: name,
    retryStrategy: (times) => Math.min(times * 50, MAX_RECONNECT_DELAY_MS),
    ...options,
  });

  let down = false;
  client.on('error', (error: Error) => {
    if (down) return;
    down = true;
    logger.warn('redis connection lost; reconnecting', { connection: name, error: error.message });
  });
  // Only after a close nobody asked for: quit() ends without reconnecting.
  client.on('reconnecting', () => {
    if (down) return;
    down = true;
    logger.warn('redis connection closed; reconnecting', { connection: name });
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    logger.info('redis connection back', { connection: name });
  });
  return client;
}

/**
 * Closes a connection, waiting for replies still due; a connection already gone is left so, and
 * one that is not connected (Redis away) is dropped: a QUIT would wait in ioredis's offline
 * queue until Redis came back, and hold the stop with it.
 */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch (error: unknown) {
    // Quitting while the server is unreachable fails; dropping the socket is then all there is.
    if (!(error instanceof Error)) throw error;
    client.disconnect();
  }
}

/**
 * Logs the `error` events of a BullMQ queue or worker, but not while `connection` is not
 * connected: BullMQ repeats a lost connection's error at every reconnection attempt (hundreds
 * of lines a minute), and the connection reports the outage once itself (createRedisClient).
 */
export function logQueueErrors(
  emitter: { on(event: 'error', listener: (error: Error) => void): unknown },
  connection: () => Redis | undefined,
  logger: Logger,
  message: string,
): void {
  emitter.on('error', (error: Error) => {
    if (connection()?.status !== 'ready') return;
    logger.warn(message, { error: error.message });
  });
}
