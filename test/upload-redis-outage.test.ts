import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { skipWithoutPostgres } from './helpers/postgres.ts';
import type { ServiceBehindRedisProxy } from './helpers/redis-outage.ts';
import { startServiceBehindRedisProxy } from './helpers/redis-outage.ts';
import { skipWithoutRedis } from './helpers/redis.ts';
import type { RestClient } from './helpers/rest.ts';
import { createRestClient, csvForm } from './helpers/rest.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import type { TcpProxy } from './helpers/tcp-proxy.ts';

const skip = (await skipWithoutPostgres()) || (await skipWithoutRedis());

/**
 * Uploads while the queue's Redis is away: the CSV is stored before its images are queued, so
 * a failed upload must take back what it stored, or a client that retries it would have the
 * work done twice once the first copy was resumed.
 */
describe.skipIf(skip)('uploads while Redis is unreachable', () => {
  let proxy: TcpProxy;
  let outage: ServiceBehindRedisProxy;
  let service: TestService;
  let rest: RestClient;
  let images: ImageServer;
  let graphqlAnswer: { status: number; body: UploadBody };
  let restAnswer: { status: number; code: string | undefined };

  beforeAll(async () => {
    outage = await startServiceBehindRedisProxy();
    ({ service, proxy, images } = outage);
    rest = await createRestClient(service);
    const csv = `S. No.,Product Name,Input Image Urls\n1,Dot,${images.url}/1x1.png\n`;

    await proxy.down();
    try {
      const res = await service.upload(csv);
      graphqlAnswer = { status: res.status, body: (await res.json()) as UploadBody };
      const answer = await rest.upload(csvForm(csv));
      restAnswer = { status: answer.status, code: answer.body.error?.code };
    } finally {
      await proxy.up();
    }
  });
  afterAll(async () => {
    await outage.stop();
  });

  it('answers both uploads with INTERNAL_SERVER_ERROR', () => {
    expect(graphqlAnswer.body.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
    expect(restAnswer).toEqual({ status: 500, code: 'INTERNAL_SERVER_ERROR' });
  });

  it('stores no request for them: requests lists nothing once Redis is back', async () => {
    const answer = await service.graphql(RequestsDocument, { first: 10 });

    expect(answer.data?.requests.edges).toEqual([]);
  });
});
