import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RequestWithProductsQuery } from './generated/graphql.ts';
import { CancelRequestDocument, RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';
import type { WebhookReceiver } from './helpers/webhook-receiver.ts';
import { startWebhookReceiver } from './helpers/webhook-receiver.ts';

/** Images in the request; the first IN_FLIGHT are held mid-download when it is cancelled. */
const IMAGES = 4;
const IN_FLIGHT = 2;
const DROPPED = 'image result not recorded';

let service: TestService;
let images: ImageServer;
let hook: WebhookReceiver;
const releases: (() => void)[] = [];

beforeAll(async () => {
  [service, images, hook] = await Promise.all([
    startTestService({ WORKER_CONCURRENCY: String(IN_FLIGHT) }),
    startImageServer(),
    startWebhookReceiver(),
  ]);
  images.route('/held.png', (_req, res) => {
    releases.push(() => res.writeHead(302, { location: '/1x1.png' }).end());
  });
});
afterAll(async () => {
  for (const release of releases.splice(0)) release();
  await service.stop();
  await Promise.all([images.close(), hook.close()]);
});

/** Resolves once `done` holds, looking every 10 ms: held downloads and log lines have no event. */
async function until(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((resolve) => setTimeout(resolve, 10));
}

function logged(text: string): number {
  return service
    .logs()
    .split('\n')
    .filter((line) => line.includes(text)).length;
}

interface Seen {
  request: NonNullable<RequestWithProductsQuery['request']>;
  webhook: { status?: string; progress?: unknown };
  outputUrlsInCsv: number;
}

/** What a client can read of the request: GraphQL, the webhook it got and the output CSV. */
async function seen(id: string): Promise<Seen> {
  const { data } = await service.graphql(RequestWithProductsDocument, { id });
  const request = data?.request;
  if (!request) throw new Error(`request ${id} not found`);
  const [delivery] = await hook.nth(1);
  const body = JSON.parse(delivery?.body.toString() ?? '{}') as { data?: Seen['webhook'] };
  const csv = await (await fetch(request.outputCsvUrl ?? '')).text();
  return {
    request,
    webhook: { status: body.data?.status, progress: body.data?.progress },
    outputUrlsInCsv: csv.match(/https?:\/\/[^,"\s]+\/files\//g)?.length ?? 0,
  };
}

describe('cancelRequest while images are downloading', () => {
  let id: string;
  let after: Seen;

  beforeAll(async () => {
    const urls = Array.from({ length: IMAGES }, (_, i) => `${images.url}/held.png?n=${i}`);
    const csv = `S. No.,Product Name,Input Image Urls\n1,Held,"${urls.join(',')}"\n`;
    const res = await service.upload(csv, { variables: { webhookUrl: hook.url } });
    id = ((await res.json()) as UploadBody).data?.uploadCsv.request.id ?? '';
    await until(() => releases.length === IN_FLIGHT);

    await service.graphql(CancelRequestDocument, { id });
    for (const release of releases.splice(0)) release();
    await until(() => logged(DROPPED) === IN_FLIGHT);
    after = await seen(id);
  });

  it('counts none of the images that finished after the cancel', () => {
    expect(after.request.status).toBe('CANCELLED');
    expect(after.request.progress).toMatchObject({ total: IMAGES, completed: 0, failed: 0 });
  });

  it('leaves every image PENDING, those in flight included, with no output URL', () => {
    const rows = after.request.products.edges.flatMap((e) => e.node.images);

    expect(rows.map((i) => [i.status, i.outputUrl])).toEqual(rows.map(() => ['PENDING', null]));
  });

  it('agrees with the webhook payload and the output CSV', () => {
    const { total, completed, failed, pending, percent } = after.request.progress;

    expect(after.webhook).toEqual({
      status: 'CANCELLED',
      progress: { total, completed, failed, pending, percent },
    });
    expect(after.outputUrlsInCsv).toBe(completed);
  });
});
