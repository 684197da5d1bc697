import { randomUUID } from 'node:crypto';

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { TestService } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

const redisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Whether Redis answers; without it (and outside CI) this file is skipped with a warning. */
async function redisAvailable(): Promise<boolean> {
  const probe = new Redis(redisUrl, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const skip = !(await redisAvailable()) && process.env.CI !== 'true';
if (skip) console.warn(`skipped: Redis not reachable at ${redisUrl} (set TEST_REDIS_URL)`);

describe.skipIf(skip)('rate limits kept in Redis', () => {
  // This file's own keys: other test files and other engineers share this Redis.
  const prefix = `test:rate-limit:${randomUUID()}:`;
  const queuePrefix = (name: string) => `${prefix.replace(/[^A-Za-z0-9_.-]/g, '-')}${name}`;
  const redis = new Redis(redisUrl);
  let first: TestService;
  let second: TestService;

  beforeAll(async () => {
    const env = {
      REDIS_URL: redisUrl,
      RATE_LIMIT_REDIS_PREFIX: prefix,
      RATE_LIMIT_REQUESTS: '5',
      RATE_LIMIT_UPLOADS: '2',
    };
    // One budget, but each its own queues: their embedded databases hold different requests.
    [first, second] = await Promise.all([
      startTestService({ ...env, QUEUE_PREFIX: queuePrefix('first') }),
      startTestService({ ...env, QUEUE_PREFIX: queuePrefix('second') }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([first.stop(), second.stop()]);
    // The budget's keys, and the two services' queues (BullMQ leaves their `meta` behind).
    const keys = [
      ...(await redis.keys(`${prefix}*`)),
      ...(await redis.keys(`${queuePrefix('')}*`)),
    ];
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  const call = (service: TestService, token: string | null) =>
    fetch(`${service.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token && { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify({ query: '{ requests(first: 1) { edges { cursor } } }' }),
    });

  it('shares one budget per subject between two services on one Redis', async () => {
    const token = first.token('shared-subject');
    const statuses: number[] = [];
    for (const service of [first, second, first, second, second]) {
      statuses.push((await call(service, token)).status);
    }

    const over = await call(first, token);
    const body = (await over.json()) as { errors?: { extensions?: { code?: string } }[] };

    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(over.status).toBe(429);
    expect(body.errors?.[0]?.extensions?.code).toBe('RATE_LIMITED');
  });

  it('shares one budget per address for calls without a token, with Retry-After', async () => {
    for (const service of [second, first, second, first, first]) {
      expect((await call(service, null)).status).toBe(401);
    }

    const over = await call(second, null);

    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('keeps its counters under the configured prefix only', async () => {
    const keys = await redis.keys(`${prefix}*`);

    expect(keys.length).toBeGreaterThanOrEqual(2);
    expect(keys.some((k) => k.startsWith(`${prefix}calls:sub:shared-subject`))).toBe(true);
  });
});

describe.skipIf(skip)('rate limits of deployments apart by QUEUE_PREFIX', () => {
  const base = `test-rate-limit-${randomUUID()}`;
  const prefixes = { a: `${base}-a`, b: `${base}-b` };
  const redis = new Redis(redisUrl);
  let a: TestService;
  let b: TestService;

  beforeAll(async () => {
    const env = { REDIS_URL: redisUrl, RATE_LIMIT_REQUESTS: '3' };
    [a, b] = await Promise.all([
      startTestService({ ...env, QUEUE_PREFIX: prefixes.a }),
      startTestService({ ...env, QUEUE_PREFIX: prefixes.b }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a.stop(), b.stop()]);
    const keys = await redis.keys(`${base}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  });

  it('keep separate budgets, each under its own prefix, without RATE_LIMIT_REDIS_PREFIX', async () => {
    const call = (service: TestService) =>
      fetch(`${service.url}/graphql`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${service.token('one-subject')}`,
        },
        body: JSON.stringify({ query: '{ requests(first: 1) { edges { cursor } } }' }),
      });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(a)).status);
    const other = await call(b);
    const keys = await redis.keys(`${base}*`);

    expect(statuses).toEqual([200, 200, 200, 429]);
    expect(other.status).toBe(200);
    expect(keys.some((k) => k.startsWith(`${prefixes.a}:rate-limit:calls:sub:one-subject`))).toBe(
      true,
    );
    expect(keys.some((k) => k.startsWith(`${prefixes.b}:rate-limit:calls:sub:one-subject`))).toBe(
      true,
    );
  });

  it('names its Redis connection after the prefix too, as every other connection is', async () => {
    const clients = String(await redis.client('LIST'));
    const names = [...clients.matchAll(/ name=(\S*)/g)].map((match) => match[1] ?? '');

    expect(names).toContain(`${prefixes.a}:rate-limit`);
    expect(names).not.toContain('rate-limits');
  });

  it('names it with a prefix Redis would refuse as a name, spaces and accents made `-`', async () => {
    const prefix = `${base} é:`;
    const service = await startTestService({
      REDIS_URL: redisUrl,
      QUEUE_PREFIX: `${base}-c`,
      RATE_LIMIT_REDIS_PREFIX: prefix,
    });
    try {
      // Named once connected, which may come after the service listens.
      const names = async () =>
        [...String(await redis.client('LIST')).matchAll(/ name=(\S*)/g)].map(
          (match) => match[1] ?? '',
        );

      await expect.poll(names, { timeout: 5_000 }).toContain(`${base}--`);
    } finally {
      await service.stop();
      const keys = await redis.keys(`${base} *`);
      if (keys.length > 0) await redis.del(...keys);
    }
  });
});
