import net from 'node:net';

import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { RequestWithProductsDocument } from './generated/graphql.ts';
import type { ImageServer } from './helpers/image-server.ts';
import { scrape, valueOf } from './helpers/metrics.ts';
import { startImageServer } from './helpers/image-server.ts';
import type { TestS3 } from './helpers/s3.ts';
import { recordOutgoingHosts, startS3 } from './helpers/s3.ts';
import type { TestService, UploadBody } from './helpers/service.ts';
import { startTestService } from './helpers/service.ts';

const outgoing = recordOutgoingHosts();
let s3: TestS3;
let images: ImageServer;

/** Two products, three images: a JPEG and a PNG that process, and a "jpg" that is text. */
function threeImageCsv(): string {
  return [
    'S. No.,Product Name,Input Image Urls',
    `1,Lamp,"${images.url}/photo-landscape-0.3mp.jpg, ${images.url}/1x1.png"`,
    `2,Broken,${images.url}/not-an-image.jpg`,
    '',
  ].join('\n');
}

async function upload(service: TestService, csv: string): Promise<string> {
  const body = (await (await service.upload(csv)).json()) as UploadBody;
  expect(body.errors).toBeUndefined();
  return body.data?.uploadCsv.request.id ?? '';
}

/** Resolves once `count` images of the request have failed (the request may never end). */
function failedImages(service: TestService, requestId: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    service.service.app.events
      .subscribe(requestId, (event) => {
        if (event.progress.failed >= count) resolve();
      })
      .catch(reject);
  });
}

async function readyz(service: TestService) {
  const res = await fetch(`${service.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { checks?: Record<string, string> } };
}

/** A loopback port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  [s3, images] = await Promise.all([startS3(), startImageServer()]);
});
afterAll(async () => {
  await Promise.all([s3.stop(), images.close()]);
  expect(outgoing.nonLoopback()).toEqual([]);
  expect([...outgoing.hosts]).toContain('127.0.0.1');
});

describe('a request processed with S3_BUCKET set', () => {
  let service: TestService;
  let requestId: string;
  let status: string;

  beforeAll(async () => {
    service = await startTestService(s3.env);
    requestId = await upload(service, threeImageCsv());
    status = await service.waitForEnd(requestId);
  });
  afterAll(async () => {
    await service.stop();
  });

  async function read() {
    const { data } = await service.graphql(RequestWithProductsDocument, { id: requestId });
    const request = data?.request;
    return { request, images: request?.products.edges.flatMap((e) => e.node.images) ?? [] };
  }

  it('ends with the two real images stored and the text file failed', async () => {
    const { request, images: all } = await read();

    expect(status).toBe('COMPLETED_WITH_ERRORS');
    expect(request?.progress).toMatchObject({ completed: 2, failed: 1 });
    expect(all.map((i) => i.status)).toEqual(['COMPLETED', 'COMPLETED', 'FAILED']);
  });

  it('hands out output image URLs that serve each image from S3 with its content type', async () => {
    const { images: done } = await read();
    const stored = done.filter((i) => i.outputUrl);

    const answers = await Promise.all(stored.map(async (i) => fetch(i.outputUrl ?? '')));
    const bodies = await Promise.all(answers.map(async (r) => (await r.arrayBuffer()).byteLength));

    expect(stored.map((i) => new URL(i.outputUrl ?? '').origin)).toEqual([
      s3.endpoint,
      s3.endpoint,
    ]);
    expect(answers.map((r) => r.headers.get('content-type'))).toEqual(['image/jpeg', 'image/png']);
    expect(bodies).toEqual(stored.map((i) => i.outputBytes));
  });

  it('serves the output CSV from S3, listing the same output URLs', async () => {
    const { request, images: all } = await read();

    const res = await fetch(request?.outputCsvUrl ?? '');
    const rows = parse<Record<string, string>>(await res.text(), { columns: true });

    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(rows.map((r) => r['Output Image Urls'])).toEqual([
      `${all[0]?.outputUrl},${all[1]?.outputUrl}`,
      '',
    ]);
  });

  it('streams the same output CSV at the REST route', async () => {
    const { request } = await read();
    const fromS3 = await (await fetch(request?.outputCsvUrl ?? '')).text();

    const res = await fetch(`${service.url}/api/requests/${requestId}/output.csv`, {
      headers: { authorization: `Bearer ${service.token()}` },
    });

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(await res.text()).toBe(fromS3);
  });

  it('does not serve stored objects under /files', async () => {
    const res = await fetch(`${service.url}/files/requests/${requestId}/output.csv`);

    expect(res.status).toBe(404);
  });

  it('counts its images in its own metrics, open while METRICS_TOKEN is unset', async () => {
    const { status: code, samples } = await scrape(service.url);

    expect(code).toBe(200);
    expect(valueOf(samples, 'image_pipeline_images_completed_total')).toBe(2);
  });

  it('is ready, with the bucket answering', async () => {
    const { status: code, body } = await readyz(service);

    expect(code).toBe(200);
    expect(body.checks?.storage).toBe('ok');
  });
});

describe('a store that cannot be used', () => {
  let down: TestService;
  let missing: TestService;

  beforeAll(async () => {
    const port = await closedPort();
    [down, missing] = await Promise.all([
      startTestService({ S3_BUCKET: s3.bucket, S3_ENDPOINT: `http://127.0.0.1:${port}` }),
      startTestService({ S3_BUCKET: 'no-such-bucket', S3_ENDPOINT: s3.endpoint }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([down.stop(), missing.stop()]);
  });

  it('fails an image with a plain reason when the endpoint does not answer, and keeps serving', async () => {
    const csv = `S. No.,Product Name,Input Image Urls\n1,Lamp,${images.url}/1x1.png\n`;
    const requestId = await upload(down, csv);

    await failedImages(down, requestId, 1);
    const { data } = await down.graphql(RequestWithProductsDocument, { id: requestId });
    const image = data?.request?.products.edges[0]?.node.images[0];
    const health = await fetch(`${down.url}/healthz`);

    expect(image?.status).toBe('FAILED');
    expect(image?.error).toBe(
      'The processed image could not be stored: the storage service did not answer.',
    );
    expect(health.status).toBe(200);
  });

  it('counts that failure by its reason, apart from the other instances in this process', async () => {
    const { samples } = await scrape(down.url);

    expect(
      valueOf(samples, 'image_pipeline_images_failed_total', { reason: 'STORAGE_UNREACHABLE' }),
    ).toBe(1);
    expect(valueOf(samples, 'image_pipeline_images_completed_total')).toBe(0);
  });

  it('is not ready while the endpoint does not answer, and says why', async () => {
    const { status, body } = await readyz(down);

    expect(status).toBe(503);
    expect(body.checks?.storage).toMatch(/could not be reached \(ECONNREFUSED\)/);
    expect(body.checks?.database).toBe('ok');
  });

  it('starts without a bucket, and is not ready until it exists', async () => {
    const { status, body } = await readyz(missing);

    expect(status).toBe(503);
    expect(body.checks?.storage).toBe('The bucket "no-such-bucket" does not exist.');
  });
});
