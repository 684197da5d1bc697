import { PassThrough } from 'node:stream';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ProgressEvent } from '../src/events/event-bus.ts';
import { RedisEventBus } from '../src/events/event-bus.redis.ts';
import { createLogger } from '../src/observability/logger.ts';
import { redisUrl, skipWithoutRedis, testRedis, uniquePrefix } from './helpers/redis.ts';
import { deferred } from './helpers/ws.ts';

const skipRedis = await skipWithoutRedis();
const prefix = uniquePrefix('events-test');
const logs: string[] = [];
const sink = new PassThrough();
sink.on('data', (chunk: Buffer) => logs.push(chunk.toString()));
const logger = createLogger({ level: 'info', format: 'json', stream: sink });

function event(requestId: string, completed: number): ProgressEvent {
  return {
    requestId,
    status: 'PROCESSING',
    progress: { total: 3, completed, failed: 0, pending: 3 - completed, percent: completed * 33 },
    image: null,
    at: Date.now(),
  };
}

/** Two buses on separate connections: a worker's process and an API process, as Redis sees them. */
let worker: RedisEventBus | undefined;
let api: RedisEventBus;

/** Resolves once both of the bus's connections are up (a publish before that is dropped). */
async function ready(bus: RedisEventBus): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await bus.ping();
      return;
    } catch (error: unknown) {
      if (tries >= 200) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

beforeAll(async () => {
  if (skipRedis) return;
  worker = new RedisEventBus(redisUrl, prefix, logger);
  api = new RedisEventBus(redisUrl, prefix, logger);
  await Promise.all([ready(worker), ready(api)]);
});
afterAll(async () => {
  if (!worker) return;
  await worker.close();
  await api.close();
});

describe.skipIf(skipRedis)('the Redis event bus', () => {
  it("delivers an event published by one process to another process's subscriber", async () => {
    const heard = deferred<ProgressEvent>();
    const off = await api.subscribe('req-1', (e) => {
      heard.resolve(e);
    });

    await worker?.publish(event('req-1', 1));
    const received = await heard.promise;
    off();

    expect(received).toEqual({ ...event('req-1', 1), at: received.at });
  });

  it("keeps one request's events from another request's subscribers", async () => {
    const other: ProgressEvent[] = [];
    const mine = deferred<ProgressEvent>();
    const offOther = await api.subscribe('req-other', (e) => other.push(e));
    const offMine = await api.subscribe('req-2', (e) => {
      mine.resolve(e);
    });

    await worker?.publish(event('req-2', 2));
    await mine.promise;
    offOther();
    offMine();

    expect(other).toEqual([]);
  });

  it('releases every listener when its subscribers leave', async () => {
    const offs = await Promise.all(
      Array.from({ length: 5 }, (_, i) => api.subscribe(`req-${i % 2}`, () => undefined)),
    );
    const during = api.listenerCount();

    for (const off of offs) off();

    expect([during, api.listenerCount()]).toEqual([5, 0]);
  });

  it('hears events again after its subscriber connection is killed by the server', async () => {
    const admin = testRedis();
    const after = deferred<ProgressEvent>();
    const off = await api.subscribe('req-3', (e) => {
      if (e.progress.completed === 3) after.resolve(e);
    });

    // Only this file's connections: their names carry its unique prefix.
    const list = (await admin.client('LIST')) as string;
    const ids = list
      .split('\n')
      .filter((line) => line.includes(`name=${prefix}:events-subscribe`))
      .map((line) => /id=(\d+)/.exec(line)?.[1]);
    for (const id of ids.filter((i) => i !== undefined)) await admin.client('KILL', 'ID', id);
    await waitForLog('redis connection back');
    // ioredis subscribes again on reconnect; publish until the subscriber hears it.
    const state = { heard: false };
    void after.promise.then(() => {
      state.heard = true;
    });
    while (!state.heard) {
      await worker?.publish(event('req-3', 3));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    off();
    admin.disconnect();

    expect(ids.length).toBeGreaterThan(0);
    expect(logs.join('')).toContain('redis connection closed; reconnecting');
  });
});

async function waitForLog(text: string): Promise<void> {
  while (!logs.join('').includes(text)) await new Promise((resolve) => setTimeout(resolve, 20));
}
