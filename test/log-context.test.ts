import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import { skipWithoutPostgres } from './helpers/postgres.ts';
import { skipWithoutRedis } from './helpers/redis.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import type { ShapeResources } from './helpers/shape.ts';
import { productionResources, testShape } from './helpers/shape.ts';
import type { TcpProxy } from './helpers/tcp-proxy.ts';
import { startTcpProxy } from './helpers/tcp-proxy.ts';

const skip = (await skipWithoutPostgres()) || (await skipWithoutRedis());

type LogLine = Record<string, unknown> & { message?: string };

/**
 * The webhook poll is started again by every request that ends, from inside that request's
 * work. A database outage afterwards makes the poll log a warning on every round; those lines
 * belong to no request and must not carry the id of the one that happened to start the loop.
 */
describe.each([
  { dispatcher: 'BullMQ', withRedis: true, failure: 'queuing due webhook deliveries failed' },
  {
    dispatcher: 'database poll',
    withRedis: false,
    failure: 'reading the webhook schedule failed',
  },
])('the $dispatcher webhook loop during a database outage', ({ withRedis, failure }) => {
  // TEST_SHAPE=production gives every service REDIS_URL, so the poll without it cannot run.
  const skipHere = skip || (!withRedis && testShape === 'production');
  let resources: ShapeResources;
  let proxy: TcpProxy;
  let service: TestService;
  let images: ImageServer;
  let requestId: string;
  let failures: LogLine[];

  function logLines(): LogLine[] {
    return service
      .logs()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as LogLine);
  }

  /** Waits until the poll has logged `count` failures, each poll round being 50 ms apart. */
  async function failuresLogged(count: number): Promise<LogLine[]> {
    for (;;) {
      const found = logLines().filter((line) => line.message?.includes(failure));
      if (found.length >= count) return found;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  beforeAll(async () => {
    if (skipHere) return;
    [resources, images] = await Promise.all([productionResources(), startImageServer()]);
    const database = new URL(resources.env.DATABASE_URL ?? '');
    proxy = await startTcpProxy({ host: database.hostname, port: Number(database.port || 5432) });
    database.host = `127.0.0.1:${proxy.port}`;
    const env = Object.entries(resources.env).filter(([name]) => withRedis || name !== 'REDIS_URL');
    service = await startTestService({
      ...Object.fromEntries(env),
      DATABASE_URL: database.toString(),
      WEBHOOK_POLL_MS: '50',
    });

    const csv = `S. No.,Product Name,Input Image Urls\n1,Dot,${images.url}/1x1.png\n`;
    const body = (await (await service.upload(csv)).json()) as UploadBody;
    requestId = body.data?.uploadCsv.request.id ?? '-';
    await service.waitForEnd(requestId);
    await proxy.down();
    failures = await failuresLogged(3);
    await proxy.up();
  });
  afterAll(async () => {
    if (skipHere) return;
    await service.stop();
    await Promise.all([resources.release(), proxy.close(), images.close()]);
  });

  it.skipIf(skipHere)('logs its failures without the id of the request that ended last', () => {
    expect(logLines().some((line) => line.requestId === requestId)).toBe(true);
    expect(failures.map((line) => line.requestId)).toEqual(failures.map(() => undefined));
  });
});
