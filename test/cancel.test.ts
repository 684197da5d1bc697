import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { CancelRequestMutation } from './generated/graphql.ts';
import { CancelRequestDocument, RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { GraphQLResponse, TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import type { WebhookReceiver } from './helpers/webhook-receiver.ts';
import { startWebhookReceiver } from './helpers/webhook-receiver.ts';

let service: TestService;
let images: ImageServer;
let hook: WebhookReceiver;
const releases: (() => void)[] = [];

beforeAll(async () => {
  [service, images, hook] = await Promise.all([
    startTestService({ WORKER_CONCURRENCY: '1' }),
    startImageServer(),
    startWebhookReceiver(),
  ]);
  // Holds every image until the test lets it go, so the request stays running.
  images.route('/held.png', (_req, res) => {
    releases.push(() => res.writeHead(302, { location: '/1x1.png' }).end());
  });
});
afterAll(async () => {
  for (const release of releases) release();
  await service.stop();
  await images.close();
  await hook.close();
});

async function upload(
  csv: string,
  token = service.token(),
  variables: Record<string, unknown> = {},
): Promise<string> {
  const res = await service.upload(csv, { token, variables });
  return ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';
}

function heldCsv(): string {
  const urls = Array.from({ length: 6 }, (_, i) => `${images.url}/held.png?n=${i}`);
  return `S. No.,Product Name,Input Image Urls\n1,Held,"${urls.join(',')}"\n`;
}

async function firstImageTaken(): Promise<void> {
  while (releases.length === 0) await new Promise((resolve) => setImmediate(resolve));
}

describe('cancelRequest', () => {
  let id: string;
  let answer: GraphQLResponse<CancelRequestMutation>;

  beforeAll(async () => {
    id = await upload(heldCsv(), service.token(), { webhookUrl: hook.url });
    await firstImageTaken();
    answer = await service.graphql(CancelRequestDocument, { id });
    for (const release of releases.splice(0)) release();
  });

  it('ends a running request CANCELLED at once, with its end time and output CSV', async () => {
    const request = answer.data?.cancelRequest;

    expect(request?.status).toBe('CANCELLED');
    expect(request?.completedAt).not.toBeNull();
    expect((await fetch(request?.outputCsvUrl ?? '')).status).toBe(200);
  });

  it('never processes the images that had not started', async () => {
    await service.waitForEnd(id);
    const { data } = await service.graphql(RequestWithProductsDocument, { id });
    const statuses = data?.request?.products.edges.flatMap((e) =>
      e.node.images.map((i) => i.status),
    );

    expect(statuses?.slice(1)).toEqual(Array.from({ length: 5 }, () => 'PENDING'));
    expect(images.hits.get('/held.png')).toBe(1);
  });

  it('drops the result of the image in flight: it reads PENDING, uncounted, as those not started', async () => {
    await service.waitForEnd(id);
    while (!service.logs().includes('image result not recorded')) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }

    const { data } = await service.graphql(RequestWithProductsDocument, { id });
    const first = data?.request?.products.edges[0]?.node.images[0];
    expect([data?.request?.status, data?.request?.progress.completed]).toEqual(['CANCELLED', 0]);
    expect([first?.status, first?.outputUrl]).toEqual(['PENDING', null]);
  });

  it('sends the webhook once, saying CANCELLED with the output CSV', async () => {
    const [delivery] = await hook.nth(1);
    const body = JSON.parse(delivery?.body.toString() ?? '{}') as {
      data?: { requestId?: string; status?: string; outputCsvUrl?: string };
    };

    expect(body.data).toMatchObject({ requestId: id, status: 'CANCELLED' });
    expect((await fetch(body.data?.outputCsvUrl ?? '')).status).toBe(200);
    expect(hook.received).toHaveLength(1);
  });

  it('leaves an ended request as it is when cancelled again', async () => {
    const again = await service.graphql(CancelRequestDocument, { id });

    expect(again.data?.cancelRequest.status).toBe('CANCELLED');
    expect(again.errors).toBeUndefined();
  });

  it("answers NOT_FOUND for another owner's request, which goes on running", async () => {
    const other = await upload(heldCsv());
    const res = await service.graphql(
      CancelRequestDocument,
      { id: other },
      service.token('mallory'),
    );
    const { data } = await service.graphql(RequestWithProductsDocument, { id: other });

    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect(data?.request?.status).not.toBe('CANCELLED');
  });
});
