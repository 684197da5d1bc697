import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';

/** The Redis tests use; each test file works under a key prefix of its own. */
export const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test file or engineer uses: `test-<pid>-<random>`. */
export function uniquePrefix(label = 'test'): string {
  return `${label}-${process.pid}-${randomUUID().slice(0, 8)}`;
}

/** A connection for a test's own checks, failing fast when Redis is away. */
export function testRedis(): Redis {
  return new Redis(redisUrl, {
    connectionName: 'test',
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (times) => (times > 3 ? null : 200),
  });
}

/** Resolves true when Redis answers PING within about 2 s. */
export async function redisAvailable(): Promise<boolean> {
  const client = testRedis();
  client.on('error', () => undefined);
  try {
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

/**
 * Whether the Redis tests of a file should be skipped: only when Redis is unreachable and `CI`
 * is not `true`, and then with a warning saying how to run them.
 */
export async function skipWithoutRedis(): Promise<boolean> {
  if (await redisAvailable()) return false;
  if (process.env.CI === 'true') return false;

  console.warn(`skipped: Redis not reachable at ${redisUrl} (set TEST_REDIS_URL)`);
  return true;
}

/** The keys under `prefix:` (SCAN, so a shared server is not blocked). */
export async function keysUnder(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Deletes every key under `prefix:`, leaving the shared server as the test found it. */
export async function deleteKeysUnder(prefix: string): Promise<void> {
  const client = testRedis();
  try {
    const keys = await keysUnder(client, prefix);
    for (let i = 0; i < keys.length; i += 500) await client.del(...keys.slice(i, i + 500));
  } finally {
    client.disconnect();
  }
}
